"""The walkthrough end to end: real verbs, real git over HTTP, real `serve` processes, real webhooks.

One long scenario (its steps depend on each other, so it is one test): participant 3 adds node2,
node0's and node1's repos get exactly one commit each; an impostor's PR is refused by the gate and
never reaches master; a repeated webhook changes nothing; node1 is deleted, node0 loses it,
node1's reconcile refuses and pushes nothing. Every merged PR passed the gate with members.toml
at its base, and every commit on the chain's master carries its author's registered signature.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from cloud_config import git
from cloud_config.demo.walkthrough import Demo
from cloud_config.demo.world import CHAIN, PullRequest, World, wait_for_new_commit
from cloud_config.model.members import Members
from cloud_config.model.paths import MEMBERS_FILE
from tests.support.cli import run_process
from tests.support.pipeline_repos import get, gitea_headers, post, push_event

pytestmark = pytest.mark.slow  # real servers, forge over HTTP, many processes

NODES = {
    "participant1": ("node0", "www.node0.com:40000:node0:k8s"),
    "participant2": ("node1", "www.node1.com:40001:node1:k8s-b"),  # another cluster
}
NODE2 = "www.node2.com:60000:node2:k8s:other-ns"  # same cluster, another namespace


def wait_idle(urls: list[str], runs_at_least: dict[str, int], timeout: float = 60) -> dict[str, dict]:  # type: ignore[type-arg]
    """Poll each pipeline's /status until its node ran enough times and is idle; the node entries."""
    deadline = time.monotonic() + timeout
    while True:
        nodes = {}
        for url in urls:
            nodes.update(json.loads(get(f"{url}/status")[1])[CHAIN])
        if all(n["state"] == "idle" and n["runs"] >= runs_at_least[d] for d, n in nodes.items()):
            return nodes
        assert time.monotonic() < deadline, nodes
        time.sleep(0.05)


def new_commits(world: World, domain: str, since: str) -> list[str]:
    return git.commits_between(world.forge.path(f"{CHAIN}-{domain}"), since, "master", merges=True)


def show(world: World, domain: str, path: str) -> str | None:
    data = git.show(world.forge.path(f"{CHAIN}-{domain}"), "master", path)
    return None if data is None else data.decode()


def peer_block(config_toml: str, service: str) -> bool:
    return f'domain = "{service}"' in config_toml.split("[[network_zenoh.peers]]", 1)[-1]


def check_node2_arrived(world: World, demo: Demo, chain_sha: str) -> None:
    for domain in ("node0", "node1"):
        commits = new_commits(world, domain, demo.heads_before_node2[domain])
        assert len(commits) == 1, (domain, commits)
        bare = world.forge.path(f"{CHAIN}-{domain}")
        assert git.run(bare, "log", "-1", "--format=%s", "master") == (
            f"update {domain} config from chain {chain_sha[:7]}"
        )
        trailer = git.run(bare, "log", "-1", "--format=%(trailers:key=Chain-Commit,valueonly)", "master")
        assert trailer.strip() == chain_sha
        config = show(world, domain, "config.toml")
        assert config is not None and peer_block(config, f"{CHAIN}-node2")
    # node0 (cluster k8s, namespace default) reaches node2 (k8s, other-ns) through an ExternalName Service.
    external = show(world, "node0", "yamls/node2-external-svc.yaml")
    assert external is not None and f"{CHAIN}-node2.other-ns.svc.cluster.local" in external
    # node1 (cluster k8s-b) reaches node2 by its host name.
    external = show(world, "node1", "yamls/node2-external-svc.yaml")
    assert external is not None and "www.node2.com" in external


def signatures(world: World, tmp_path: Path, members_at: str, *revs: str) -> list[tuple[str, str, str]]:
    """(%G? status, principal, author name) of the commits `revs` (git log arguments) of the chain
    repo, checked by git against the keys of members.toml at revision `members_at`."""
    bare = world.forge.path(CHAIN)
    text = git.show(bare, members_at, MEMBERS_FILE)
    assert text is not None, f"no {MEMBERS_FILE} at {members_at}"
    allowed = tmp_path / f"allowed-{members_at[:12]}"
    allowed.write_text(Members.loads(text.decode(), MEMBERS_FILE).allowed_signers())
    out = git.run(
        bare, "-c", "gpg.format=ssh", "-c", f"gpg.ssh.allowedSignersFile={allowed}",
        "log", "--format=%G?%x00%GS%x00%an", *revs,
    )  # fmt: skip
    return [tuple(line.split("\0")) for line in out.splitlines()]  # type: ignore[misc]


def check_gate(world: World, tmp_path: Path) -> PullRequest:
    """Every merged PR passed the gate with members.toml at its base, signed by its author's
    registered key, and was merged as reviewed; one PR, the impostor's, was refused. Returns it."""
    bare = world.forge.path(CHAIN)
    merged = [pr for pr in world.prs if pr.merged]
    assert len(merged) == 15, [pr.title for pr in world.prs]
    for pr in merged:
        assert pr.merged is not None
        assert pr.report["passed"] and pr.report["errors"] == 0, pr
        assert (pr.report["base"], pr.report["head"]) == (pr.base, pr.head)
        assert git.run(bare, "log", "-1", "--format=%P", pr.merged).split() == [pr.base, pr.head]
        # The gate's signature rules were active: members.toml at the base, and git itself finds
        # each commit of the PR signed by the author's key as registered there; approvals (empty
        # commits on top, newest first in the log) by their approvers' keys.
        approvals = [("G", who, who) for who in reversed(pr.approvers)]
        assert signatures(world, tmp_path, pr.base, "--no-merges", f"{pr.base}..{pr.head}") == [
            *approvals,
            ("G", pr.author, pr.author),
        ], pr
        policy_kinds = {"validator", "members"} & set(pr.report["approvals"])
        assert bool(pr.approvers) == bool(policy_kinds), pr.report["approvals"]
    # Every non-merge commit of master, the bootstrap included, is signed by its author's key.
    # All but the intruder's, pushed straight to master: signed, by a key no member has.
    history = signatures(world, tmp_path, "master", "--no-merges", "master")
    intruder = [row for row in history if row[2] == "intruder"]
    assert len(intruder) == 1 and intruder[0][0] != "G", intruder
    history = [row for row in history if row[2] != "intruder"]
    assert history and all(status == "G" and who == author for status, who, author in history), history
    root = git.run(bare, "rev-list", "--max-parents=0", "master")  # init-chain + members.toml
    assert signatures(world, tmp_path, "master", "-1", root) == [("G", "initiator", "initiator")]

    refused = [pr for pr in world.prs if not pr.merged]
    assert [pr.author for pr in refused] == ["impostor"], refused
    impostor = refused[0]
    assert not impostor.report["passed"]
    assert {f["rule"] for f in impostor.errors} == {"unknown-signer"}, impostor.report
    assert git.show(bare, impostor.base, MEMBERS_FILE) is not None
    assert git.rev_parse(bare, impostor.branch) == impostor.head  # pushed to the forge...
    assert not git.is_ancestor(bare, impostor.head, "master")  # ...never merged
    # The impostor wrote participant1's name on the commit; the signature is not a member's.
    assert signatures(world, tmp_path, impostor.base, "-1", impostor.head) == [("U", "", "participant1")]
    return impostor


def test_walkthrough_end_to_end(tmp_path: Path) -> None:
    world = World.create(tmp_path)
    narrative: list[str] = []
    demo = Demo(world, narrative.append, nodes=NODES, node2=NODE2)
    try:
        for phase in demo.phases():
            phase()
        urls = list(demo.pipelines.values())
        secret = world.secret_file.read_bytes().strip()
        chain_sha = git.rev_parse(world.forge.path(CHAIN), "master")
        status = wait_idle(urls, {"node0": 1, "node1": 1})
        check_node2_arrived(world, demo, chain_sha)
        assert all(n["last"]["result"] == "committed" for n in status.values()), status

        # The same chain sha again: a reconcile runs, and commits nothing.
        heads = {d: git.rev_parse(world.forge.path(f"{CHAIN}-{d}"), "master") for d in ("node0", "node1")}
        body = push_event("master", chain_sha)
        for url in urls:
            assert post(f"{url}/hooks/{CHAIN}", body, gitea_headers(secret, body))[0] == 202
        status = wait_idle(urls, {d: status[d]["runs"] + 1 for d in status})
        assert all(n["last"]["result"] == "up to date" for n in status.values()), status
        assert heads == {d: git.rev_parse(world.forge.path(f"{CHAIN}-{d}"), "master") for d in heads}

        # Participant 2 withdraws node1: delete takes it out of the list and its certificate away
        # (delete-node alone would leave the certificate: departed-cert).
        assert show(world, "node0", "yamls/node1-external-svc.yaml") is not None
        merged = world.pull_request(
            world.person("participant2"), "remove node1", [("delete", "--domain", "node1")]
        )
        wait_for_new_commit(world.forge.path(f"{CHAIN}-node0"), "master", heads["node0"], 60)
        status = wait_idle(urls, {d: status[d]["runs"] + 1 for d in status})
        config0 = show(world, "node0", "config.toml")
        assert config0 is not None and not peer_block(config0, f"{CHAIN}-node1")
        assert peer_block(config0, f"{CHAIN}-node2")
        assert show(world, "node0", "yamls/node1-external-svc.yaml") is None
        assert status["node1"]["last"]["result"] == "failed"
        assert "node node1 is no longer in the chain's node list" in status["node1"]["last"]["error"]
        assert git.rev_parse(world.forge.path(f"{CHAIN}-node1"), "master") == heads["node1"]

        # The same refusal from the command line.
        r = run_process(
            "reconcile",
            "--chain-repo", world.forge.url(CHAIN),
            "--node-repo", world.forge.url(f"{CHAIN}-node1"),
            "--domain", "node1",
            "--workdir", str(tmp_path / "cli-work"),
        )  # fmt: skip
        assert r.code == 1 and r.out == ""
        assert r.err == (
            f"error: node1: refusing chain {merged[:12]}: node node1 is no longer in the chain's node list; "
            "nothing pushed\n"
        )
        assert git.rev_parse(world.forge.path(f"{CHAIN}-node1"), "master") == heads["node1"]
        impostor = check_gate(world, tmp_path)
    finally:
        world.close()
    assert any(line.startswith("[13] participant3") and "gate passed" in line for line in narrative)
    # The policy at work: participant1's validator PR waited for a second member, who approved it.
    waiting = next(line for line in narrative if "append-validator; PR opened" in line)
    assert (
        waiting.startswith("[ 3] participant1")
        and "(waiting: validator 1 of 2 approvals (participant1);" in waiting
    )
    approved = narrative[narrative.index(waiting) + 1]
    assert (
        approved.startswith("[ 3] participant2")
        and "cloud-config approve (participant1's validator); PR merged" in approved
    )
    assert "validator 2 of 2: participant1, participant2; gate passed" in approved
    intruder = next(line for line in narrative if line.startswith("[12] intruder"))
    assert "refused on receipt (node0: unknown-signer in " in intruder and "node1: unknown-signer" in intruder
    revert = next(line for line in narrative if line.startswith("[12] admin"))
    assert "node0 up to date, node1 up to date" in revert and "gate passed" in revert, revert
    finding = impostor.errors[0]
    line = next(line for line in narrative if line.startswith("[16] impostor"))
    assert f"PR refused (unknown-signer: {finding['message']}; not merged, pipelines idle)" in line, line


def test_demo_command(tmp_path: Path) -> None:
    """The README's first command, here with --encrypt (test_walkthrough_end_to_end runs the plain
    one): the whole walkthrough with every node repo's secrets encrypted at rest, and no plaintext
    key in any node repo's history (step 15 checks it, and so does this test); and with --leave (as
    ./scripts/demo runs it): participant 3 leaves in one admin PR, the CA is rotated in three PRs,
    and the rehearsal finds node2 in no peer list or policy and its certificate refused."""
    r = run_process("demo", "--encrypt", "--leave", "--workdir", str(tmp_path / "demo"))
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].startswith("cloud-config demo:")
    assert any(line.startswith("[17] auditor") and "none found" in line for line in lines), r.out
    forge = tmp_path / "demo" / "forge"
    keys = [p.read_text() for p in (tmp_path / "demo" / "people").glob(f"*/{CHAIN}/accounts/*/private_key")]
    assert keys
    for domain in ("node0", "node1"):
        history = git.run(forge / f"{CHAIN}-{domain}.git", "log", "-p", "--all")
        assert "ENC[AES256_GCM" in history and not any(key in history for key in keys)
    for number in range(1, 23):
        assert any(line.startswith(f"[{number:>2}]") for line in lines), (number, r.out)
    assert sum("'s repo got" in line for line in lines) == 2
    status = next(line for line in lines if line.startswith("[15] participant1  cloud-config status"))
    assert "node0, node1 at " in status and "no record: node2" in status, status
    table = [line.split() for line in lines if line.startswith("     node")]
    assert [row[0] for row in table] == ["node0", "node1", "node2", "node0", "node1"], r.out  # before, after
    assert table[2][2:4] == ["-", "-"]
    assert table[0][2] == table[1][2] and table[0][6] == table[1][6]  # same chain commit, same digest
    assert sum("PR merged" in line and "gate passed" in line for line in lines) == 18, r.out
    assert sum("refused on receipt" in line for line in lines) == 1, r.out
    left = next(line for line in lines if line.startswith("[18] admin         member leave"))
    assert "node0 and node1 repos name node2 nowhere (peers, policies)" in left, left
    rehearsed = next(line for line in lines if line.startswith("[22] admin         rehearse --base"))
    assert "2/2 pairs OK; departed node2: 2/2 checks OK" in rehearsed, rehearsed
    refused = [line for line in lines if line.startswith("[16] impostor")]
    assert len(refused) == 1 and "PR refused (unknown-signer: signed by key SHA256:" in refused[0], r.out
    assert "PRIVATE KEY" not in r.out + r.err
    assert lines[-1].startswith(f"files: {tmp_path / 'demo'}")
    assert (tmp_path / "demo" / "argocd" / f"{CHAIN}-node0.yaml").is_file()
