"""store.atomic: atomic replaces, temporary names, and the one sync of `synced_at_end`."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from cloud_config.store import atomic


def _counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Count the calls of os.<name> while still making them."""
    calls: list[int] = []
    real: Callable[..., None] = getattr(os, name)

    def counted(*args: int) -> None:
        calls.append(1)
        real(*args)

    monkeypatch.setattr(os, name, counted)
    return calls


def test_write_bytes_replaces_whole_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "file.toml"
    atomic.write_bytes(target, b"one")
    atomic.write_bytes(target, b"two", 0o600)
    assert target.read_bytes() == b"two"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["file.toml"]


def test_create_file_refuses_an_existing_file_and_keeps_it(tmp_path: Path) -> None:
    target = tmp_path / "key.pem"
    atomic.create_file(target, b"first", 0o600)
    with pytest.raises(FileExistsError):
        atomic.create_file(target, b"second", 0o600)
    assert target.read_bytes() == b"first"


def test_durable_writes_fsync_each_file_outside_the_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fsyncs = _counting(monkeypatch, "fsync")
    atomic.write_bytes(tmp_path / "a", b"a")
    atomic.write_many({tmp_path / "b": (b"b", 0o644), tmp_path / "c": (b"c", 0o600)})
    atomic.write_many({tmp_path / "d": (b"d", 0o644)}, durable=False)
    assert len(fsyncs) == 3


def test_synced_at_end_makes_one_sync_instead_of_an_fsync_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fsyncs, syncs = _counting(monkeypatch, "fsync"), _counting(monkeypatch, "sync")
    with atomic.synced_at_end():
        for i in range(20):
            atomic.write_secret(tmp_path / "keys" / f"k{i}", b"x")
        atomic.write_many({tmp_path / f"f{i}": (b"y", 0o644) for i in range(20)})
        assert syncs == []
    assert fsyncs == [] and len(syncs) == 1
    assert len(list((tmp_path / "keys").iterdir())) == 20
    atomic.write_bytes(tmp_path / "after", b"z")  # the block is over: per-file fsync again
    assert len(fsyncs) == 1


def test_synced_at_end_syncs_when_the_block_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    syncs = _counting(monkeypatch, "sync")
    with pytest.raises(RuntimeError), atomic.synced_at_end():
        atomic.write_bytes(tmp_path / "a", b"a")
        raise RuntimeError("later step failed")
    assert len(syncs) == 1
