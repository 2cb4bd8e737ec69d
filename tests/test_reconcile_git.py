"""Reconcile's git side, over real HTTP (git http-backend), with a tiny stand-in renderer.

The stand-in lives only here: it writes `peers.txt` from the chain's node list so the commit,
push, retry and refusal logic can be checked in isolation. The real renderer is exercised in
test_reconcile.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloud_config.errors import CloudConfigError, GitError, NotFoundError
from cloud_config.gitops import git
from cloud_config.gitops.forge import Forge
from cloud_config.gitops.reconcile import ReconcileRefused, Target, reconcile
from tests._pipeline_repos import NODE_CONFIG, Changes, Writer, chain_toml, peers_render, remote_log


@pytest.fixture(scope="module")
def forge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Forge]:
    with Forge(tmp_path_factory.mktemp("forge")) as running:
        yield running


@pytest.fixture
def repos(forge: Forge, tmp_path: Path) -> tuple[Writer, Writer, Target]:
    name = tmp_path.name
    chain = Writer(forge.create(f"{name}-chain"), tmp_path / "chain-writer")
    node = Writer(forge.create(f"{name}-node0"), tmp_path / "node-writer")
    chain.write({"chain_config.toml": chain_toml("node0", "node1")}, "chain")
    node.write({"node_config.toml": NODE_CONFIG}, "init-node")
    return chain, node, Target(chain_repo=chain.url, node_repo=node.url, domain="node0")


def test_commits_once_then_is_up_to_date(repos: tuple[Writer, Writer, Target], tmp_path: Path) -> None:
    chain, node, target = repos
    first = reconcile(target, tmp_path / "work", render=peers_render)
    assert first.committed and first.chain_sha == chain.head() and first.node_sha == node.head()
    assert first.line() == f"node0: committed {first.node_sha} (chain {first.chain_sha})"
    node.sync()
    message = git.run(node.dir, "log", "-1", "--format=%B", first.node_sha)
    assert message.splitlines()[0] == f"update node0 config from chain {first.chain_sha[:7]}"
    trailer_format = "--format=%(trailers:key=Chain-Commit,valueonly)"
    trailer = git.run(node.dir, "log", "-1", trailer_format, first.node_sha)
    assert trailer.strip() == first.chain_sha
    assert git.show(node.dir, first.node_sha, "peers.txt") == b"toy-chain\nnode1\n"  # chain name: node repo
    second = reconcile(target, tmp_path / "work", render=peers_render)
    assert not second.committed and second.node_sha == first.node_sha
    assert second.line() == f"node0: up to date (chain {first.chain_sha})"


def test_removed_node_is_refused_and_nothing_pushed(
    repos: tuple[Writer, Writer, Target], tmp_path: Path
) -> None:
    chain, node, target = repos
    reconcile(target, tmp_path / "work", render=peers_render)
    before = node.head()
    sha = chain.write({"chain_config.toml": chain_toml("node1")}, "delete node0")
    with pytest.raises(ReconcileRefused) as info:
        reconcile(target, tmp_path / "work", render=peers_render)
    assert str(info.value) == (
        f"node0: refusing chain {sha[:12]}: node node0 is no longer in the chain's node list; nothing pushed"
    )
    assert node.head() == before


def test_unloadable_chain_is_refused(repos: tuple[Writer, Writer, Target], tmp_path: Path) -> None:
    chain, node, target = repos
    before = node.head()
    chain.write({"chain_config.toml": b"[[node_network_address_list]\n"}, "broken")
    with pytest.raises(ReconcileRefused, match=r"chain_config\.toml: not valid TOML"):
        reconcile(target, tmp_path / "work", render=peers_render)
    assert node.head() == before


def test_concurrent_writer_is_kept_and_reconcile_retries(
    repos: tuple[Writer, Writer, Target], tmp_path: Path
) -> None:
    """Another writer pushes to the node repo between our fetch and our push."""
    _, node, target = repos
    other = Writer(node.url, tmp_path / "other-writer")
    pushed: list[str] = []

    def render_with_interference(chain_dir: Path, node_dir: Path, chain_name: str, domain: str) -> Changes:
        if not pushed:
            pushed.append(other.write({"README.md": b"ops notes\n"}, "someone else's commit"))
        return peers_render(chain_dir, node_dir, chain_name, domain)

    outcome = reconcile(target, tmp_path / "work", render=render_with_interference)
    assert outcome.committed and outcome.attempts == 2
    log = remote_log(node.url, tmp_path / "check")
    assert log[0] == outcome.node_sha and pushed[0] in log
    assert git.show(tmp_path / "check", "HEAD", "README.md") == b"ops notes\n"
    assert git.show(tmp_path / "check", "HEAD", "peers.txt") == b"toy-chain\nnode1\n"


def test_local_paths_work_as_repos(forge: Forge, tmp_path: Path) -> None:
    """--chain-repo and --node-repo may be paths (here: the bare repos on disk), relative ones too."""
    name = tmp_path.name
    chain = Writer(forge.create(f"{name}-pchain"), tmp_path / "chain-writer")
    node = Writer(forge.create(f"{name}-pnode"), tmp_path / "node-writer")
    chain.write({"chain_config.toml": chain_toml("node0", "node1")}, "chain")
    node.write({"node_config.toml": NODE_CONFIG}, "init-node")
    chain_path = os.path.relpath(forge.path(f"{name}-pchain"))
    target = Target(chain_repo=chain_path, node_repo=str(forge.path(f"{name}-pnode")), domain="node0")
    outcome = reconcile(target, tmp_path / "work", render=peers_render)
    assert outcome.committed and outcome.node_sha == node.head() and outcome.chain_sha == chain.head()


def test_credentials_in_urls_stay_out_of_error_lines(forge: Forge, tmp_path: Path) -> None:
    url = forge.url("no-such-repo").replace("http://", "http://ci-bot:hunter2@")
    target = Target(chain_repo=url, node_repo=url, domain="node0")
    with pytest.raises(GitError) as info:
        reconcile(target, tmp_path / "work", render=peers_render)
    message = str(info.value)
    assert message.startswith("git clone") and "://***@127.0.0.1" in message
    assert "hunter2" not in message and "ci-bot" not in message and "hunter2" not in info.value.stderr


def test_retries_are_bounded(repos: tuple[Writer, Writer, Target], tmp_path: Path) -> None:
    """A node repo that moves before every push: give up after a few attempts, push nothing of ours."""
    _, node, target = repos
    other = Writer(node.url, tmp_path / "other-writer")
    theirs: list[str] = []

    def render_always_racing(chain_dir: Path, node_dir: Path, chain_name: str, domain: str) -> Changes:
        theirs.append(other.write({"README.md": f"edit {len(theirs)}\n".encode()}, "someone else"))
        return peers_render(chain_dir, node_dir, chain_name, domain)

    with pytest.raises(CloudConfigError, match="rejected 5 pushes in a row"):
        reconcile(target, tmp_path / "work", render=render_always_racing)
    assert len(theirs) == 5 and node.head() == theirs[-1]


def test_node_repo_without_node_config_is_refused(forge: Forge, tmp_path: Path) -> None:
    chain = Writer(forge.create(f"{tmp_path.name}-c"), tmp_path / "c")
    node = Writer(forge.create(f"{tmp_path.name}-n"), tmp_path / "n")
    chain.write({"chain_config.toml": chain_toml("node0")}, "chain")
    node.write({"README.md": b"empty\n"}, "start")
    target = Target(chain_repo=chain.url, node_repo=node.url, domain="node0")
    with pytest.raises(NotFoundError, match=r"has no node_config\.toml on master; run init-node"):
        reconcile(target, tmp_path / "work", render=peers_render)
