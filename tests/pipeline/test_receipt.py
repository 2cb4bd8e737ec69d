"""Verify on receipt: `cloud-config reconcile` judges every chain step since the node's last
applied chain commit with the gate's rules, on real repos (the walkthrough chain with signed
commits and members.toml, node0's repo made by the real verbs, bare repos on disk).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from cloud_config import git
from cloud_config.cli.main import main
from cloud_config.model.paths import node_name
from cloud_config.pipeline.receipt import Policy, judge_step
from tests.support.cli import Result, run_process
from tests.support.gate_corpus import CHAIN, ChainRepo, build_walkthrough, make_people
from tests.support.gnupg import gnupg_key

pytestmark = pytest.mark.slow  # many git processes and CLI runs
NODE2 = 'host = "www.node2.com"'


@dataclass
class World:
    """The chain repo (a work clone pushing to forge/chain.git) and node0's bare repo."""

    root: Path
    chain: ChainRepo

    @property
    def chain_bare(self) -> Path:
        return self.root / "forge" / "chain.git"

    @property
    def node_bare(self) -> Path:
        return self.root / "forge" / "node0.git"

    def node_head(self) -> str:
        return git.rev_parse(self.node_bare, "master")

    def chain_head(self) -> str:
        return git.rev_parse(self.chain_bare, "master")

    def push(self, force: bool = False) -> str:
        """Push the work clone's HEAD straight to the chain's master (as a forge admin could)."""
        self.chain.git("push", "-q", *(["-f"] if force else []), str(self.chain_bare), "HEAD:master")
        return self.chain_head()

    def direct(self, signer: str | None, old: str, new: str, path: str = "chain_config.toml") -> str:
        """A hand edit committed by `signer` (None: unsigned) and pushed straight to master."""
        self.chain.edit_config(old, new, path)
        self.chain.commit(f"edit {path}", signer)
        return self.push()

    def revert(self, sha: str, signer: str) -> str:
        """`git revert` of `sha`, signed by `signer`, pushed."""
        key = str(self.chain.people[signer].key)
        self.chain.git(
            "-c", "gpg.format=ssh", "-c", f"user.signingkey={key}", "revert", "--no-edit", "-S", sha
        )  # fmt: skip
        return self.push()

    def reconcile(self, *extra: str, node: Path | None = None, process: bool = False) -> Result:
        """`cloud-config reconcile` for node0: in-process (main()), or as a real process."""
        args = [
            "reconcile",
            "--chain-repo", str(self.chain_bare),
            "--node-repo", str(node or self.node_bare),
            "--domain", "node0",
            "--workdir", str(self.root / "work"),
            *extra,
        ]  # fmt: skip
        if process:
            return run_process(*args)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(args)
        return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> World:
    """The walkthrough chain up to signed certificates, and node0's repo rendered from it."""
    root = tmp_path_factory.mktemp("receipt")
    people = make_people(root / "keys", ("admin", "p1", "p2", "mallory"))
    chain = build_walkthrough(root / "ws", people)
    forge = root / "forge"
    forge.mkdir()
    git.run(None, "clone", "-q", "--bare", str(chain.repo), str(forge / "chain.git"))
    address, _ = chain.new_account()
    chain.run("init-node", "--domain", "node0", "--account", address)
    chain.run("update-node", "--domain", "node0")
    chain.run("update-yaml", "--domain", "node0", "--storage-class", "nfs-client")
    applied = chain.git("rev-parse", "HEAD")
    for domain in ("node0", "node1"):
        if domain != "node0":
            chain.run("init-node", "--domain", domain, "--account", chain.new_account()[0])
            chain.run("update-node", "--domain", domain)
            chain.run("update-yaml", "--domain", domain, "--storage-class", "nfs-client")
        node_dir = chain.workspace / node_name(CHAIN, domain)
        git.init(node_dir)
        git.commit_all(node_dir, f"init {domain}\n\nChain-Commit: {applied}")
        git.run(None, "clone", "-q", "--bare", str(node_dir), str(forge / f"{domain}.git"))
    return World(root, chain)


@pytest.fixture
def world(prepared: World, tmp_path: Path) -> World:
    shutil.copytree(prepared.root, tmp_path / "w", symlinks=True)
    chain = ChainRepo(tmp_path / "w" / "ws", prepared.chain.people, dict(prepared.chain.validators))
    return World(tmp_path / "w", chain)


def refused(result: Result, world: World, rule: str, step: str) -> None:
    """One error line in the documented form, exit 1."""
    head = world.chain_head()
    prefix = f"error: node0: refusing chain {head[:12]}: {rule} in {step[:12]}: "
    assert result.code == 1 and result.out == "", result
    assert result.err.startswith(prefix) and result.err.endswith("; nothing pushed\n"), result.err
    assert len(result.err.splitlines()) == 1


def test_good_step_applies(world: World) -> None:
    """A member's change in its own lane passes the receipt check and is rendered."""
    before = world.node_head()
    sha = world.direct("p2", NODE2, 'host = "node2.example.org"')
    r = world.reconcile()
    assert r.code == 0, r.err
    assert r.out == f"node0: committed {world.node_head()} (chain {sha})\n" and world.node_head() != before


def test_non_member_push_is_refused_until_an_admin_reverts(world: World) -> None:
    before = world.node_head()
    applied = world.chain_head()
    bad = world.direct("mallory", NODE2, 'host = "www.evil.example"')
    r = world.reconcile()
    refused(r, world, "unknown-signer", bad)
    assert world.node_head() == before
    # A member's revert restores the file, but only an admin's revert recovers.
    world.revert(bad, "p2")
    refused(world.reconcile(), world, "unknown-signer", bad)
    world.chain.git("reset", "-q", "--hard", "HEAD~1")
    world.push(force=True)  # drops only the unapplied revert: the node still applied `applied`
    head = world.revert(bad, "admin")
    r = world.reconcile()
    assert r.code == 0 and r.out == f"node0: up to date (chain {head})\n", r.err
    assert world.node_head() == before  # the revert renders what the node already has
    # And the next good step applies as usual.
    sha = world.direct("p2", NODE2, 'host = "node2.example.org"')
    r = world.reconcile()
    assert r.code == 0 and r.out == f"node0: committed {world.node_head()} (chain {sha})\n", r.err
    assert applied != sha


def test_refusal_holds_on_later_good_pushes_until_reverted(world: World) -> None:
    before = world.node_head()
    bad = world.direct("mallory", NODE2, 'host = "www.evil.example"')
    good = world.direct("p1", 'host = "www.node1.com"', 'host = "node1.example.org"')
    refused(world.reconcile(), world, "unknown-signer", bad)
    assert world.node_head() == before
    # The admin reverts both (two direct steps): the first alone restores nothing of the bad
    # step's file, the second does; then the head applies.
    key = str(world.chain.people["admin"].key)
    world.chain.git(
        "-c", "gpg.format=ssh", "-c", f"user.signingkey={key}", "revert", "--no-edit", "-S", good, bad
    )  # fmt: skip
    head = world.push()
    r = world.reconcile()
    assert r.code == 0 and r.out == f"node0: up to date (chain {head})\n", r.err


def test_unsigned_push_is_refused(world: World) -> None:
    before = world.node_head()
    bad = world.direct(None, NODE2, 'host = "www.evil.example"')
    refused(world.reconcile(), world, "unsigned-commit", bad)
    assert world.node_head() == before


def test_member_outside_its_lane_is_refused(world: World) -> None:
    before = world.node_head()
    bad = world.direct("p1", NODE2, 'host = "www.evil.example"')  # node2 belongs to p2
    r = world.reconcile()
    refused(r, world, "not-owner", bad)
    assert "'p1'" in r.err and "node2" in r.err and world.node_head() == before


def test_self_granted_admin_never_counts(world: World) -> None:
    """p1 makes itself admin in members.toml, then uses it: both refused, the grant never counts."""
    before, before_grant = world.node_head(), world.chain_head()
    text = (world.chain.repo / "members.toml").read_text()
    start = text.index('name = "p1"')
    block = text[start:]
    granted = text[:start] + block.replace('role = "member"', 'role = "admin"', 1)
    assert granted != text
    (world.chain.repo / "members.toml").write_text(granted)
    grant = world.chain.commit("p1 is admin now", "p1")
    world.push()
    world.direct("p1", NODE2, 'host = "www.evil.example"')
    r = world.reconcile()
    refused(r, world, "admin-only", grant)
    assert world.node_head() == before
    # The use is refused on its own too: judged with members.toml as of the last accepted step
    # (before the grant), never the refused grant's.
    use = world.chain_head()
    report = judge_step(world.chain_bare, grant, use, before_grant, Policy(CHAIN))
    assert not report.passed and {f.rule for f in report.findings} >= {"not-owner"}


def test_force_push_to_an_older_commit_is_history_rewritten(world: World) -> None:
    applied = world.chain.git("rev-parse", "HEAD")
    world.direct("p2", NODE2, 'host = "node2.example.org"')
    assert world.reconcile().code == 0  # the node applied it
    world.chain.git("reset", "-q", "--hard", "HEAD~1")
    world.push(force=True)
    assert world.chain_head() == applied
    before = world.node_head()
    r = world.reconcile()
    last = git.run(world.node_bare, "log", "-1", "--format=%(trailers:key=Chain-Commit,valueonly)").strip()
    refused(r, world, "history-rewritten", last)
    assert world.node_head() == before
    # A stale trust root (older than what the node applied) does not let the rewrite through.
    stale = world.reconcile("--trust-root", applied)
    refused(stale, world, "history-rewritten", last)


def test_reset_to_exactly_the_applied_commit_is_not_a_rewrite(world: World) -> None:
    applied = world.chain_head()
    bad = world.direct("mallory", NODE2, 'host = "www.evil.example"')
    refused(world.reconcile(), world, "unknown-signer", bad)
    world.chain.git("reset", "-q", "--hard", applied)
    world.push(force=True)
    r = world.reconcile()
    assert r.code == 0 and r.out == f"node0: up to date (chain {applied})\n", r.err


def test_fresh_node_repo_needs_a_trust_root(world: World) -> None:
    fresh = world.root / "forge" / "fresh.git"
    work = world.root / "fresh"
    git.run(None, "clone", "-q", str(world.node_bare), str(work))
    git.run(work, "commit", "-q", "--amend", "-m", "init node0 (no trailer)")
    git.run(None, "clone", "-q", "--bare", str(work), str(fresh))
    before = git.rev_parse(fresh, "master")
    r = world.reconcile(node=fresh, process=True)
    assert r.code == 1 and "trust-root-missing" in r.err and "--trust-root <sha>" in r.err, r.err
    assert 'trust_root = "<sha>"' in r.err and git.rev_parse(fresh, "master") == before
    bogus = world.reconcile("--trust-root", "f" * 40, node=fresh)
    assert bogus.code == 1 and "trust-root-invalid" in bogus.err
    root = world.chain_head()
    sha = world.direct("p2", NODE2, 'host = "node2.example.org"')
    r = world.reconcile("--trust-root", root, node=fresh, process=True)
    assert r.code == 0, r.err
    assert r.out == f"node0: committed {git.rev_parse(fresh, 'master')} (chain {sha})\n"


def test_require_members(world: World) -> None:
    """Without members.toml: a warning by default, a refusal with --require-members."""
    world.chain.git("rm", "-q", "members.toml")
    world.chain.commit("drop members.toml", "admin")  # an admin may; judged with the old file
    world.push()
    after = world.direct(None, NODE2, 'host = "node2.example.org"')  # nobody checks signatures now
    strict = world.reconcile("--require-members")
    refused(strict, world, "members-missing", after)
    loose = world.reconcile()
    assert loose.code == 0, loose.err
    assert loose.err.startswith("warning: node0: members-missing: no members.toml at "), loose.err


def test_nodes_starting_from_one_commit_share_one_check(world: World, tmp_path: Path) -> None:
    """serve: node0 and node1 start from the same applied chain commit: one receipt check per push."""
    from cloud_config.pipeline.service import Service
    from cloud_config.pipeline.service_config import load_config
    from tests.support.pipeline_repos import write_service_file

    nodes = {"node0": str(world.node_bare), "node1": str(world.root / "forge" / "node1.git")}
    config = load_config(write_service_file(tmp_path, str(world.chain_bare), nodes))
    service = Service(config)
    world.direct("p2", NODE2, 'host = "node2.example.org"')
    for domain in nodes:
        service.queue.submit(("chain", domain))
    assert service.queue.wait_idle(120)
    status = service.status()["chain"]
    assert [status[d]["last"]["result"] for d in nodes] == ["committed", "committed"], status
    assert service.receipts["chain"].checks == 1
    bad = world.direct("mallory", 'host = "www.node3.com"', 'host = "www.evil.example"')
    for domain in nodes:
        service.queue.submit(("chain", domain))
    assert service.queue.wait_idle(120)
    status = service.status()["chain"]
    for domain in nodes:
        last = status[domain]["last"]
        assert last["result"] == "refused" and last["refusal"]["rule"] == "unknown-signer", last
        assert last["refusal"]["commit"] == bad
    assert service.receipts["chain"].checks == 2
    metrics = service.metrics()
    assert 'cloud_config_receipt_refusals_total{pipeline="chain",rule="unknown-signer"} 2' in metrics
    assert 'cloud_config_receipt_checks_total{pipeline="chain"} 2' in metrics
    service.close()


def test_signed_node_commit_verifies_with_the_pipeline_key(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with gnupg_key(tmp_path / "gnupg") as key:
        fingerprint, env = key.fingerprint, {"GNUPGHOME": str(key.home)}
        monkeypatch.setenv("GNUPGHOME", str(key.home))
        missing = world.reconcile("--signing-key", "0" * 40)
        assert missing.code == 2 and missing.err.startswith("error: --signing-key: no secret key"), (
            missing.err
        )
        world.direct("p2", NODE2, 'host = "node2.example.org"')
        r = world.reconcile("--signing-key", fingerprint)
        assert r.code == 0, r.err
        head = world.node_head()
        check_clone = tmp_path / "check"
        git.run(None, "clone", "-q", str(world.node_bare), str(check_clone))
        verified = subprocess.run(
            ["git", "-C", str(check_clone), "verify-commit", "--raw", head],
            env={**os.environ, **env}, capture_output=True, text=True,
        )  # fmt: skip
        assert verified.returncode == 0, verified.stderr
        assert f"VALIDSIG {fingerprint}" in verified.stderr
        # Another key does not verify it: a fresh keyring has no such key.
        other = tmp_path / "other"
        other.mkdir(mode=0o700)
        refuse = subprocess.run(
            ["git", "-C", str(check_clone), "verify-commit", head],
            env={**os.environ, "GNUPGHOME": str(other)}, capture_output=True, text=True,
        )  # fmt: skip
        assert refuse.returncode != 0


# ---- approvals (issue 12) -----------------------------------------------------------------------


def _approvals_policy(world: World) -> str:
    """An admin's step on master: `[policy.approvals] node = 2` (2 of the 3 members)."""
    members = world.chain.repo / "members.toml"
    members.write_text(members.read_text() + "\n[policy.approvals]\nnode = 2\n")
    world.chain.commit("approval policy: node = 2", "admin")
    return world.push()


def _merge_pr(world: World, approver: str | None, change: Callable[[], object]) -> str:
    """A PR branch from master with the commits `change` makes (and `approver`'s `cloud-config
    approve`), merged to master with an unsigned merge commit (as a forge does); pushed."""
    chain = world.chain
    master = chain.git("rev-parse", "HEAD")
    branch = chain.git("rev-parse", "--abbrev-ref", "HEAD")
    chain.git("checkout", "-q", "-b", f"pr-{chain.git('rev-list', '--count', '--all')}")
    change()
    if approver is not None:
        chain.git("config", "gpg.format", "ssh")
        chain.git("config", "user.signingkey", str(chain.people[approver].key))
        with contextlib.redirect_stderr(io.StringIO()):
            assert main(["approve", "--repo", str(chain.repo), "--base", master]) == 0
        chain.git("config", "--unset", "user.signingkey")
    pr = chain.git("rev-parse", "HEAD")
    chain.git("checkout", "-q", branch)
    chain.git("merge", "-q", "--no-ff", "--no-gpg-sign", "-m", "Merge the PR", pr)
    return world.push()


def _p2_moves_node2(world: World) -> Callable[[], object]:
    def change() -> object:
        world.chain.edit_config(NODE2, 'host = "node2.example.org"')
        return world.chain.commit("p2 moves node2 (its own node)", "p2")

    return change


def _admin_reverts(world: World, merge: str) -> Callable[[], object]:
    key = str(world.chain.people["admin"].key)
    args = ("-c", "gpg.format=ssh", "-c", f"user.signingkey={key}", "revert", "--no-edit", "-S")
    return lambda: world.chain.git(*args, "-m", "1", merge)


def test_a_merge_without_enough_approvals_is_refused_and_with_them_applies(world: World) -> None:
    _approvals_policy(world)
    assert world.reconcile().code == 0  # the admin's policy change: no approvals were asked before it
    before = world.node_head()
    merge = _merge_pr(world, None, _p2_moves_node2(world))
    r = world.reconcile()
    refused(r, world, "approvals-missing", merge)
    assert "node change needs 2 of 3 members; approved by p2; waiting for one of admin, p1" in r.err
    assert world.node_head() == before  # nothing pushed

    world.chain.git("reset", "-q", "--hard", "HEAD~1")
    world.push(force=True)  # the refused merge was never applied: drop it, merge it again approved
    merge = _merge_pr(world, "p1", _p2_moves_node2(world))
    r = world.reconcile()
    assert r.code == 0 and r.out == f"node0: committed {world.node_head()} (chain {merge})\n", r.err
    parent = git.rev_parse(world.chain_bare, f"{merge}^1")
    report = judge_step(world.chain_bare, parent, merge, parent, Policy(CHAIN))
    assert report.approvals["node"]["approvers"] == ["p1", "p2"]  # on the merge's second parent


def test_a_revert_of_a_refused_merge_needs_the_approvals_of_its_kinds(world: World) -> None:
    _approvals_policy(world)
    assert world.reconcile().code == 0
    before = world.node_head()
    bad = _merge_pr(world, None, _p2_moves_node2(world))
    refused(world.reconcile(), world, "approvals-missing", bad)
    # The admin's revert pushed straight to master is a node change approved by the admin alone.
    _admin_reverts(world, bad)()
    world.push()
    refused(world.reconcile(), world, "approvals-missing", bad)
    assert world.node_head() == before
    world.chain.git("reset", "-q", "--hard", "HEAD~1")
    world.push(force=True)
    # The same revert as a PR that p1 approves (a non-admin's approval commit in it) repairs it.
    head = _merge_pr(world, "p1", _admin_reverts(world, bad))
    r = world.reconcile()
    assert r.code == 0 and r.out == f"node0: up to date (chain {head})\n", r.err
    assert world.node_head() == before


def test_one_push_fetches_the_chain_once_and_its_nodes_render_one_commit(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """serve: a webhook waking node0 and node1 makes one chain fetch (git's own trace of the
    processes), one snapshot and one parse of that commit; both nodes apply the pushed head."""
    import json

    from cloud_config.pipeline import chain_source
    from cloud_config.pipeline.service import Service
    from cloud_config.pipeline.service_config import load_config
    from cloud_config.store.node_files import LoadedChain, load_chain
    from tests.support.pipeline_repos import SECRET, gitea_headers, push_event, write_service_file

    nodes = {"node0": str(world.node_bare), "node1": str(world.root / "forge" / "node1.git")}
    config = load_config(write_service_file(tmp_path, str(world.chain_bare), nodes))
    service = Service(config)
    parses: list[str] = []

    def counted(tree: Path, chain_name: str) -> LoadedChain:
        parses.append(tree.name)
        return load_chain(tree, chain_name)

    monkeypatch.setattr(chain_source, "load_chain", counted)
    trace = tmp_path / "trace.json"
    monkeypatch.setenv("GIT_TRACE2_EVENT", str(trace))
    heads: list[str] = []
    for run in (1, 2):
        head = world.direct("p2", NODE2 if run == 1 else 'host = "n2-1.org"', f'host = "n2-{run}.org"')
        trace.unlink(missing_ok=True)
        body = push_event("master", head)
        assert service.push("chain", gitea_headers(SECRET, body), body)[0] == 202
        assert service.queue.wait_idle(120)
        status = service.status()["chain"]
        assert {d: (s["last"]["result"], s["last"]["chain_sha"]) for d, s in status.items()} == {
            d: ("committed", head) for d in nodes
        }, status
        # The folder under the workdir of each git process that fetched (a clone, the first time).
        fetched = []
        for line in trace.read_text().splitlines():
            argv = json.loads(line).get("argv", [])
            if "fetch" in argv and "-C" in argv:
                fetched.append(Path(argv[argv.index("-C") + 1]))
            elif "clone" in argv:
                fetched.append(Path(argv[-1]))
        tops = sorted(p.relative_to(config.workdir).parts[0] for p in fetched)
        assert tops[0] == "chains" and tops[1] != "chains", tops  # one chain fetch for both nodes
        assert len(tops) == 3 and tops[1].startswith("node0-") and tops[2].startswith("node1-"), tops
        heads.append(head)
        assert parses == heads  # one parse per chain commit, for both nodes
        for bare in (world.node_bare, world.root / "forge" / "node1.git"):
            message = git.run(bare, "log", "-1", "--format=%B", "master")
            assert message.rstrip().endswith(f"Chain-Commit: {head}")
    assert service.chains["chain"].fetches == 2
    service.close()
