"""Properties of the TOML layer, over generated data: output reads back as the data, edits keep comments."""

from __future__ import annotations

import tomllib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cloud_config.model import toml_edit, toml_format

KEYS = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
# Any text TOML can hold: quotes, backslashes, newlines, tabs, control characters, non-ASCII.
TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r"), max_size=30)
SCALARS = st.one_of(TEXT, st.integers(0, 2**63 - 1), st.booleans())
PLAIN = st.one_of(SCALARS, st.lists(st.one_of(TEXT, st.integers(0, 10**6)), max_size=4))


def tables(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    if depth == 0:
        return st.dictionaries(KEYS, PLAIN, max_size=5)
    child = tables(depth - 1)
    value = st.one_of(PLAIN, child, st.lists(child.filter(bool), min_size=1, max_size=3))
    return st.dictionaries(KEYS, value, max_size=5)


@settings(max_examples=150, deadline=None)
@given(tables(2))
def test_canonical_output_reads_back_as_the_data(data: dict[str, Any]) -> None:
    text = toml_format.dumps(data)
    assert tomllib.loads(text) == data
    assert text.endswith("\n\n")


NODE = st.fixed_dictionaries(
    {
        "cluster": st.sampled_from(["", "k8s", "c2"]),
        "domain": st.from_regex(r"node[0-9]{1,3}", fullmatch=True),
        "host": st.from_regex(r"[a-z]{1,8}\.example", fullmatch=True),
        "name_space": st.sampled_from(["default", "cita"]),
        "port": st.integers(1, 65535),
    }
)
HEX96 = st.binary(min_size=48, max_size=48).map(bytes.hex)


@st.composite
def chain_data(draw: st.DrawFn) -> dict[str, Any]:
    nodes = draw(st.lists(NODE, max_size=6, unique_by=lambda n: n["domain"]))
    data: dict[str, Any] = {
        "system_config": {
            "version": 0,
            "chain_id": "ab" * 32,
            "admin": draw(st.sampled_from(["", "ff" * 20])),
            "block_interval": 3,
            "validators": draw(st.lists(HEX96, max_size=4)),
            "block_limit": 100,
            "quota_limit": 1073741824,
        },
        "genesis_block": {"timestamp": 1, "prevhash": "0x" + "0" * 64},
        "micro_service_list": [{"image": "network_zenoh", "tag": "latest"}],
        "stage": draw(st.sampled_from(["Init", "Public", "Finalize"])),
    }
    if nodes:
        data["node_network_address_list"] = nodes
    return data


def with_comments(text: str, where: list[int]) -> tuple[str, list[str]]:
    """`text` with a distinct comment above some of its header and key lines."""
    lines = text.splitlines()
    anchors = [i for i, ln in enumerate(lines) if ln and not ln.startswith((" ", "]"))]
    out: list[str] = []
    added: list[str] = []
    chosen = {anchors[w % len(anchors)] for w in where} if anchors else set()
    for i, line in enumerate(lines):
        if i in chosen:
            comment = f"# note {i}: {line.split(' ')[0]}"
            out.append(comment)
            added.append(comment)
        out.append(line)
    return "\n".join(out) + "\n", added


@settings(max_examples=60, deadline=None)
@given(chain_data(), chain_data(), st.lists(st.integers(0, 200), max_size=6))
def test_edits_read_back_as_the_new_data(old: dict[str, Any], new: dict[str, Any], where: list[int]) -> None:
    text, _ = with_comments(toml_format.dumps(old), where)
    edited = toml_edit.update(text, new)
    assert tomllib.loads(edited) == new


@settings(max_examples=60, deadline=None)
@given(chain_data(), st.lists(st.integers(0, 200), max_size=6))
def test_an_edit_that_changes_nothing_keeps_every_byte(data: dict[str, Any], where: list[int]) -> None:
    text, _ = with_comments(toml_format.dumps(data), where)
    assert toml_edit.update(text, data) == text


@settings(max_examples=60, deadline=None)
@given(chain_data(), st.data())
def test_comments_survive_a_stage_change_and_a_new_node(data: dict[str, Any], draw: st.DataObject) -> None:
    where = draw.draw(st.lists(st.integers(0, 200), max_size=6))
    text, comments = with_comments(toml_format.dumps(data), where)
    new = {**data, "stage": "Finalize"}
    nodes = list(data.get("node_network_address_list", []))
    node = draw.draw(NODE.filter(lambda n: n["domain"] not in {m["domain"] for m in nodes}))
    new["node_network_address_list"] = [*nodes, node]
    edited = toml_edit.update(text, new)
    assert tomllib.loads(edited) == new
    for comment in comments:
        if comment.endswith(": node_network_address_list"):
            continue  # above `node_network_address_list = []`, which goes away with the first node
        assert comment in edited
