"""The gate's fixtures: the walkthrough chain repo (signed commits, members.toml), built once per module."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.gate_corpus import ChainRepo, build_walkthrough, copy_chain, make_people


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> ChainRepo:
    """The walkthrough chain repo, built once per test module; tests must not change it."""
    root = tmp_path_factory.mktemp("corpus")
    people = make_people(root / "keys", ("admin", "p1", "p2", "p3", "mallory"))
    return build_walkthrough(root / "ws", people)


@pytest.fixture
def chain(prepared: ChainRepo, tmp_path: Path) -> ChainRepo:
    """A copy of the walkthrough chain repo for one test to change."""
    return copy_chain(prepared, tmp_path / "ws")
