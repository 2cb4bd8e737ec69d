"""toml_plain reads what tomllib reads, or declines (None): over generated data, mutated texts and the
project's own TOML files; and it does read the files the tools write (else the fast path is dead)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud_config.model import toml_format, toml_plain
from tests.model.test_toml_properties import chain_data, tables

DATA = Path(__file__).resolve().parents[1] / "data"


def agrees(text: str) -> Any:
    """toml_plain's answer, checked against tomllib's: equal when it reads the text."""
    fast = toml_plain.loads(text)
    if fast is not None:
        assert fast == tomllib.loads(text)
    return fast


@settings(max_examples=100, deadline=None)
@given(tables(2))
def test_generated_documents_read_alike(data: dict[str, Any]) -> None:
    agrees(toml_format.dumps(data))


@settings(max_examples=100, deadline=None)
@given(chain_data())
def test_a_written_chain_config_is_read_by_the_fast_path(data: dict[str, Any]) -> None:
    assert agrees(toml_format.dumps(data)) == tomllib.loads(toml_format.dumps(data))


@settings(max_examples=200, deadline=None)
@given(chain_data(), st.data())
def test_mutated_texts_read_alike_or_are_declined(data: dict[str, Any], draw: st.DataObject) -> None:
    """One line changed, doubled, removed or cut (each a near miss of the layout): never a different
    reading, and where tomllib refuses the text the fast path declines it."""
    lines = toml_format.dumps(data).split("\n")
    i = draw.draw(st.integers(0, len(lines) - 1))
    junk = draw.draw(
        st.sampled_from(
            ["", " ", "#", "=", "[", "]", ",", '"', "\\", "'", "\t", "0", "x", ".", "{}", "[[", "]]", "\x7f"]
        )
    )
    at = draw.draw(st.integers(0, len(lines[i])))
    how = draw.draw(st.sampled_from(["insert", "double", "remove", "cut"]))
    if how == "insert":
        lines[i] = lines[i][:at] + junk + lines[i][at:]
    elif how == "double":
        lines.insert(i, lines[i])
    elif how == "remove":
        del lines[i]
    else:
        lines[i] = lines[i][:at]
    text = "\n".join(lines)
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        assert toml_plain.loads(text) is None
    else:
        agrees(text)


@pytest.mark.parametrize(
    "text",
    [
        "a = 1\n[a]\n",  # a key, then a table of that name
        "[a]\n[a]\n",  # a table twice
        "[[a]]\n[a]\n",  # an array of tables, then a table
        "[a]\n[[a]]\n",
        "a = []\n[[a]]\n",  # a static array, appended to
        "a = 1\na = 2\n",  # a key twice
        "a = 01\n",  # a leading zero
        "a = 1_000\n",
        "a = [\n    1,\n",  # an array never closed
        'a = "\\u0041"\n',  # an escape
        "a = 'x'\n",
        "a = 1 # note\n",
        "a = 1.5\n",
        "a.b = 1\n",
        '"a" = 1\n',
        "a = [1, 2]\n",
        "a = [[]]\n",
        "a = {}\n",
        "a = 1234567890123456789012\n",
        "a = " + "[" * 100_000 + "]" * 100_000 + "\n",  # declined without recursing
        "a = [\n    " + "[" * 100_000 + "]" * 100_000 + ",\n]\n",
    ],
)
def test_near_misses_are_declined(text: str) -> None:
    assert toml_plain.loads(text) is None


def test_every_toml_file_of_the_test_data_reads_alike() -> None:
    files = sorted(DATA.rglob("*.toml"))
    assert files
    read = [f for f in files if agrees(f.read_text(encoding="utf-8")) is not None]
    assert any(f.name == "chain_config.toml" for f in read)
