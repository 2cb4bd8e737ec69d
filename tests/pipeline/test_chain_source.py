"""pipeline.chain_source on real repositories: fetches coalesce by when a run was asked for,
snapshots hold exactly one commit's files and stay while a node holds them."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from cloud_config import git
from cloud_config.pipeline.chain_source import ChainSource


class Remote:
    """A bare chain repo and a work clone that pushes to it."""

    def __init__(self, tmp: Path) -> None:
        self.bare, self.work = tmp / "chain.git", tmp / "writer"
        git.init(self.bare, bare=True)
        git.init(self.work)
        git.run(self.work, "remote", "add", "origin", str(self.bare))

    def push(self, files: dict[str, bytes], message: str) -> str:
        for name, data in files.items():
            (self.work / name).parent.mkdir(parents=True, exist_ok=True)
            (self.work / name).write_bytes(data)
        sha = git.commit_all(self.work, message)
        assert sha is not None
        git.run(self.work, "push", "-q", "origin", "HEAD:master")
        return sha


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return Remote(tmp_path)


def test_runs_asked_before_a_fetch_share_it_later_ones_fetch_again(remote: Remote, tmp_path: Path) -> None:
    first = remote.push({"chain_config.toml": b"a = 1\n"}, "one")
    source = ChainSource(tmp_path / "source", str(remote.bare), "master")
    asked = time.monotonic_ns()
    heads = []
    threads = [threading.Thread(target=lambda: heads.append(source.head(asked))) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert heads == [first] * 5 and source.fetches == 1
    second = remote.push({"chain_config.toml": b"a = 2\n"}, "two")
    assert source.head(asked) == first and source.fetches == 1  # asked before: that fetch covers it
    assert source.head() == second and source.fetches == 2  # asked now: the newest head


def test_snapshot_is_the_commit_and_stays_while_held(remote: Remote, tmp_path: Path) -> None:
    first = remote.push({"chain_config.toml": b"a = 1\n", "certs/node0/cert.pem": b"cert\n"}, "one")
    (remote.work / "link.pem").symlink_to("/etc/passwd")
    second = remote.push({"chain_config.toml": b"a = 2\n"}, "two")
    source = ChainSource(tmp_path / "source", str(remote.bare), "master")
    assert source.head() == second
    with source.tree(first) as old:
        assert sorted(p.relative_to(old).as_posix() for p in old.rglob("*") if p.is_file()) == [
            "certs/node0/cert.pem",
            "chain_config.toml",
        ]
        with source.tree(second) as new:  # a newer snapshot: the held one stays
            assert (new / "chain_config.toml").read_bytes() == b"a = 2\n"
            assert not (new / "link.pem").exists() and not (new / "link.pem").is_symlink()
            assert (old / "chain_config.toml").read_bytes() == b"a = 1\n"
    with source.tree(second):
        pass  # nobody holds `first` now: made again if asked, gone until then
    assert not old.exists()
    assert [p.name for p in (tmp_path / "source" / "snapshots").iterdir()] == [second]


def test_a_snapshot_nobody_holds_is_updated_to_the_next_commit(remote: Remote, tmp_path: Path) -> None:
    """Reused for the next commit: changed, added, removed files, a file becoming a folder and back."""
    source = ChainSource(tmp_path / "source", str(remote.bare), "master")
    remote.push({"a.toml": b"1\n", "d/x.pem": b"x\n", "f": b"file\n", "old.pem": b"old\n"}, "one")
    with source.tree(source.head()) as first:
        pass
    (remote.work / "old.pem").unlink()
    (remote.work / "f").unlink()
    (remote.work / "d" / "x.pem").unlink()
    (remote.work / "d").rmdir()
    sha = remote.push({"a.toml": b"2\n", "d": b"now a file\n", "f/y.pem": b"y\n", "n.pem": b"new\n"}, "two")
    with source.tree(source.head()) as second:
        assert not first.exists() and second.name == sha  # moved, not copied
        files = {p.relative_to(second).as_posix(): p.read_bytes() for p in second.rglob("*") if p.is_file()}
    expected = {p: git.show(remote.bare, sha, p) for p in git.ls_tree(remote.bare, sha)}
    assert files == expected
