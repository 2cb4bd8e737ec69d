"""`cloud-config reconcile`: the real renderer, real git over HTTP (git http-backend on loopback).

One chain (node0 in cluster k8s, node1 in k8s-b) and node0's repo are built once with the real
verbs; each test serves its own copy.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cloud_config import git
from cloud_config.app.node import refresh_node
from cloud_config.errors import CloudConfigError
from cloud_config.pipeline.reconcile import Target, reconcile
from tests.support.cli import Result, run_process
from tests.support.pipeline_repos import Repos, Writer, build_template, remote_log

pytestmark = pytest.mark.slow  # real servers, forge over HTTP, many processes

NODE0_ENTRY = (
    '[[node_network_address_list]]\ncluster = "k8s"\ndomain = "node0"\nhost = "www.node0.com"\n'
    'name_space = "default"\nport = 40000\n\n'
)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template(tmp_path_factory.mktemp("reconcile-template"))


@pytest.fixture
def repos(template: Path, tmp_path: Path) -> Iterator[Repos]:
    served = Repos(template, tmp_path)
    try:
        yield served
    finally:
        served.close()


def cli_reconcile(repos: Repos, *, chain: str | None = None, node: str | None = None) -> Result:
    return run_process(
        "reconcile",
        "--chain-repo", chain or repos.chain_url,
        "--node-repo", node or repos.node_url,
        "--domain", "node0",
        "--workdir", str(repos.tmp / "work"),
    )  # fmt: skip


def test_fresh_node_repo_is_up_to_date(repos: Repos) -> None:
    """What init-node/update-node/update-yaml made is exactly what reconcile renders: no commit."""
    before = repos.node_head()
    r = cli_reconcile(repos)
    assert r.code == 0, r.err
    assert r.out == f"node0: up to date (chain {repos.chain.head()})\n"
    assert repos.node_head() == before


def test_chain_change_commits_once_with_the_chain_sha(repos: Repos) -> None:
    sha = repos.edit_chain('host = "www.node1.com"', 'host = "node1.example.org"', "node1 moved")
    r = cli_reconcile(repos)
    assert r.code == 0, r.err
    head = repos.node_head()
    assert r.out == f"node0: committed {head} (chain {sha})\n"
    assert git.run(repos.node_bare, "log", "-1", "--format=%B", head).splitlines() == [
        f"update node0 config from chain {sha[:7]}",
        "",
        f"Chain-Commit: {sha}",
    ]
    external = git.show(repos.node_bare, head, "yamls/node1-external-svc.yaml")
    assert external is not None and b"externalName: node1.example.org" in external
    again = cli_reconcile(repos)
    assert again.out == f"node0: up to date (chain {sha})\n" and repos.node_head() == head


def test_node_removed_from_chain_is_refused(repos: Repos) -> None:
    before = repos.node_head()
    sha = repos.edit_chain(NODE0_ENTRY, "", "remove node0")
    r = cli_reconcile(repos)
    assert r.code == 1 and r.out == ""
    # The hand edit keeps certs/node0/cert.pem: the receipt check refuses it first (departed-cert).
    assert r.err.startswith(f"error: node0: refusing chain {sha[:12]}: departed-cert in ")
    assert r.err.endswith("so a departed member is not trusted; nothing pushed\n")
    assert repos.node_head() == before


def test_invalid_chain_head_is_refused(repos: Repos) -> None:
    before = repos.node_head()
    sha = repos.edit_chain("port = 40001", "port = 0", "bad port")
    r = cli_reconcile(repos)
    assert r.code == 1 and r.out == ""
    assert r.err.startswith(f"error: node0: refusing chain {sha[:12]}: ")
    assert "port" in r.err and r.err.endswith("; nothing pushed\n") and len(r.err.splitlines()) == 1
    assert repos.node_head() == before


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("port = 40001", "port = " + "[" * 100_000 + "]" * 100_000, "nested more than 32 levels deep"),
        ("[genesis_block]", "[junk]\nx = 1\n\n[genesis_block]", "junk: unknown field"),
    ],
    ids=["deep", "unknown-field"],
)
def test_hostile_chain_head_is_one_line(repos: Repos, old: str, new: str, says: str) -> None:
    before = repos.node_head()
    sha = repos.edit_chain(old, new, "hostile")
    r = cli_reconcile(repos)
    assert r.code == 1 and r.out == "" and len(r.err.splitlines()) == 1, r.err
    assert r.err.startswith(f"error: node0: refusing chain {sha[:12]}: ") and says in r.err
    assert repos.node_head() == before


def test_missing_repo_is_one_clear_line_without_credentials(repos: Repos) -> None:
    url = repos.chain_url.replace("http://", "http://ci-bot:hunter2@") + "-nope"
    r = cli_reconcile(repos, chain=url)
    assert r.code == 1 and r.err.startswith("error: git clone") and len(r.err.splitlines()) == 1
    assert "hunter2" not in r.err and "ci-bot" not in r.err and "://***@127.0.0.1" in r.err


def test_local_paths_work_as_repos(repos: Repos) -> None:
    """--chain-repo and --node-repo may be paths (here the bare repos on disk), relative ones too."""
    sha = repos.edit_chain('host = "www.node1.com"', 'host = "node1.example.org"', "node1 moved")
    chain = os.path.relpath(repos.forge.path("gitops-test-chain"))
    r = cli_reconcile(repos, chain=chain, node=str(repos.node_bare))
    assert r.code == 0, r.err
    assert r.out == f"node0: committed {repos.node_head()} (chain {sha})\n"


def test_node_repo_without_node_config_is_refused(repos: Repos) -> None:
    url = repos.forge.create("empty-node")
    Writer(url, repos.tmp / "empty-writer").write({"README.md": b"nothing yet\n"}, "start")
    r = cli_reconcile(repos, node=url)
    assert r.code == 1
    assert r.err == (
        f"error: node repo {url} has no node_config.toml on master; "
        "run init-node and push the node folder first, or pass --chain-name\n"
    )


def test_other_writer_during_reconcile_is_kept(repos: Repos) -> None:
    """Another writer pushes to node0's repo while reconcile renders: it retries and keeps their commit."""
    sha = repos.edit_chain('host = "www.node1.com"', 'host = "node1.example.org"', "node1 moved")
    other = Writer(repos.node_url, repos.tmp / "other")
    theirs: list[str] = []

    def render(chain_dir: Path, node_dir: Path, chain_name: str, domain: str, identity: Any = None) -> Any:
        if not theirs:
            theirs.append(other.write({"OWNERS": b"org1-ops\n"}, "ops: owners file"))
        return refresh_node(chain_dir, node_dir, chain_name, domain, identity)

    target = Target(chain_repo=repos.chain_url, node_repo=repos.node_url, domain="node0")
    outcome = reconcile(target, repos.tmp / "work", render=render)
    assert outcome.committed and outcome.attempts == 2 and outcome.chain_sha == sha
    log = remote_log(repos.node_url, repos.tmp / "check")
    assert log[0] == outcome.node_sha and log[1] == theirs[0]
    assert (repos.tmp / "check" / "OWNERS").read_bytes() == b"org1-ops\n"
    assert b"node1.example.org" in (repos.tmp / "check" / "yamls" / "node1-external-svc.yaml").read_bytes()


def test_retries_are_bounded(repos: Repos) -> None:
    """A node repo that moves before every push: give up after 5 attempts, push nothing of ours."""
    repos.edit_chain('host = "www.node1.com"', 'host = "node1.example.org"', "node1 moved")
    other = Writer(repos.node_url, repos.tmp / "other")
    theirs: list[str] = []

    def render(chain_dir: Path, node_dir: Path, chain_name: str, domain: str, identity: Any = None) -> Any:
        theirs.append(other.write({"OWNERS": f"edit {len(theirs)}\n".encode()}, "someone else"))
        return refresh_node(chain_dir, node_dir, chain_name, domain, identity)

    target = Target(chain_repo=repos.chain_url, node_repo=repos.node_url, domain="node0")
    with pytest.raises(CloudConfigError, match="rejected 5 pushes in a row"):
        reconcile(target, repos.tmp / "work", render=render)
    assert len(theirs) == 5 and repos.node_head() == theirs[-1]


def test_forge_takes_chunked_pushes(repos: Repos) -> None:
    """A push bigger than http.postBuffer goes out chunked; the forge must de-chunk it for git."""
    writer = repos.chain
    writer.sync()
    (writer.dir / "blob.bin").write_bytes(os.urandom(64 * 1024))
    sha = git.commit_all(writer.dir, "a large file")
    assert sha is not None
    git.run(writer.dir, "-c", "http.postBuffer=1024", "push", "-q", "origin", "HEAD:refs/heads/master")
    assert git.rev_parse(repos.forge.path("gitops-test-chain"), "master") == sha
