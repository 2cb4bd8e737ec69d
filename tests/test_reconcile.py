"""`cloud-config reconcile` with the real renderer, over real git over HTTP.

One chain (node0 in cluster k8s, node1 elsewhere) built with the real verbs; node0's repo made by
init-node/update-node/update-yaml. Each test gets its own forge copy of the repos.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cloud_config.gitops import git
from cloud_config.gitops.demo_world import CHAIN, World, quick_chain
from cloud_config.gitops.forge import Forge
from cloud_config.gitops.reconcile import Target, reconcile
from tests._pipeline_repos import Writer, remote_log
from tests.conftest import Result, run_process

NODES = ["www.node0.com:40000:node0:k8s", "www.node1.com:40001:node1:k8s-b"]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Bare chain and node0 repos, built once; tests copy them."""
    root = tmp_path_factory.mktemp("reconcile-template")
    world = World.create(root)
    try:
        quick_chain(world, NODES)
    finally:
        world.close()
    yield root / "forge"


class Repos:
    def __init__(self, world: World, tmp: Path) -> None:
        self.world, self.tmp = world, tmp
        self.chain_url = world.forge.url(CHAIN)
        self.node_url = world.forge.url(f"{CHAIN}-node0")
        self.chain = Writer(self.chain_url, tmp / "chain-writer")

    def reconcile(self, *extra: str) -> Result:
        return run_process(
            "reconcile",
            "--chain-repo", self.chain_url,
            "--node-repo", self.node_url,
            "--domain", "node0",
            "--workdir", str(self.tmp / "work"),
            *extra,
        )  # fmt: skip

    def node_head(self) -> str:
        return git.rev_parse(self.world.forge.path(f"{CHAIN}-node0"), "master")

    def edit_chain(self, old: str, new: str, message: str) -> str:
        self.chain.sync()
        text = (self.chain.dir / "chain_config.toml").read_text()
        assert old in text
        return self.chain.write({"chain_config.toml": text.replace(old, new).encode()}, message)


@pytest.fixture
def repos(template: Path, tmp_path: Path) -> Iterator[Repos]:
    shutil.copytree(template, tmp_path / "forge")
    world = World(tmp_path, Forge(tmp_path / "forge").start(), tmp_path / "no-webhooks")
    try:
        yield Repos(world, tmp_path)
    finally:
        world.close()


def test_fresh_node_repo_is_up_to_date(repos: Repos) -> None:
    """What init-node/update-node/update-yaml made is exactly what reconcile renders."""
    before = repos.node_head()
    r = repos.reconcile()
    assert r.code == 0, r.err
    assert r.out == f"node0: up to date (chain {repos.chain.head()})\n"
    assert repos.node_head() == before


def test_chain_change_commits_once(repos: Repos) -> None:
    sha = repos.edit_chain('host = "www.node1.com"', 'host = "node1.example.org"', "node1 moved")
    r = repos.reconcile()
    assert r.code == 0, r.err
    head = repos.node_head()
    assert r.out == f"node0: committed {head} (chain {sha})\n"
    node_repo = repos.world.forge.path(f"{CHAIN}-node0")
    assert git.run(node_repo, "log", "-1", "--format=%B", head).splitlines() == [
        f"update node0 config from chain {sha[:7]}",
        "",
        f"Chain-Commit: {sha}",
    ]
    external = git.show(node_repo, head, "yamls/node1-external-svc.yaml")
    assert external is not None and b"node1.example.org" in external
    again = repos.reconcile()
    assert again.out == f"node0: up to date (chain {sha})\n" and repos.node_head() == head


def test_invalid_chain_head_is_refused(repos: Repos) -> None:
    before = repos.node_head()
    sha = repos.edit_chain("port = 40001", "port = 0", "bad port")
    r = repos.reconcile()
    assert r.code == 1 and r.out == ""
    assert r.err.startswith(f"error: node0: refusing chain {sha[:12]}: ")
    assert r.err.endswith("; nothing pushed\n") and len(r.err.splitlines()) == 1
    assert repos.node_head() == before


def test_missing_repo_is_one_clear_line(repos: Repos) -> None:
    r = run_process(
        "reconcile", "--chain-repo", repos.chain_url + "-nope", "--node-repo", repos.node_url,
        "--domain", "node0", "--workdir", str(repos.tmp / "work"),
    )  # fmt: skip
    assert r.code == 1 and r.err.startswith("error: git clone") and len(r.err.splitlines()) == 1


def test_other_writer_during_reconcile_is_kept(repos: Repos) -> None:
    """Another writer pushes to node0's repo while reconcile renders: it retries and keeps their commit."""
    from cloud_config.store.node_files import refresh_node

    sha = repos.edit_chain('host = "www.node1.com"', 'host = "node1.example.org"', "node1 moved")
    other = Writer(repos.node_url, repos.tmp / "other")
    theirs: list[str] = []

    def render(chain_dir: Path, node_dir: Path, chain_name: str, domain: str) -> Any:
        if not theirs:
            theirs.append(other.write({"OWNERS": b"org1-ops\n"}, "ops: owners file"))
        return refresh_node(chain_dir, node_dir, chain_name, domain)

    target = Target(chain_repo=repos.chain_url, node_repo=repos.node_url, domain="node0")
    outcome = reconcile(target, repos.tmp / "work2", render=render)
    assert outcome.committed and outcome.attempts == 2 and outcome.chain_sha == sha
    log = remote_log(repos.node_url, repos.tmp / "check")
    assert log[0] == outcome.node_sha and log[1] == theirs[0]
    assert (repos.tmp / "check" / "OWNERS").read_bytes() == b"org1-ops\n"
