"""Approvals through the real CLI on SSH-signed repos: `[policy.approvals]` in members.toml,
`cloud-config approve`, `approvals`, `verify` (approvals-missing, the JSON object), `diff`.

The corpus's members are admin (admin), p1 (node0, node1) and p2 (node2, node3); p3 and mallory
have keys but are no members. Each test sets a policy on top of a walkthrough tag (an admin's
signed commit, tagged `policy`), then opens a PR on it.
"""

from __future__ import annotations

import json
from typing import Any

from tests.support.cli import Result
from tests.support.gate_corpus import NODES, ChainRepo, Cli, rules_of, verify_json

BASE = "policy"


def set_policy(chain: ChainRepo, start: str, table: str, *, admins: tuple[str, ...] = ()) -> None:
    """The admin's merged step on `start`: `[policy.approvals]` holding `table` (and `admins`
    made admins); tagged `policy`; then a PR branch from it is checked out."""
    chain.git("checkout", "-q", "-b", "master-with-policy", start)
    for name in admins:
        chain.run("member", "add", "--name", name, "--role", "admin")
    members = chain.repo / "members.toml"
    members.write_text(members.read_text() + f"\n[policy.approvals]\n{table}\n")
    chain.commit("approval policy", "admin")
    chain.git("tag", BASE)
    chain.pr(BASE)


def approve(cli: Cli, chain: ChainRepo, who: str, base: str = BASE) -> Result:
    """`cloud-config approve` with `who`'s key as the repo's git signing key."""
    chain.git("config", "gpg.format", "ssh")
    chain.git("config", "user.signingkey", str(chain.people[who].key))
    return cli("approve", "--repo", str(chain.repo), "--base", base)


def approvals_of(cli: Cli, chain: ChainRepo) -> tuple[int, dict[str, Any]]:
    """`verify --format json`: (exit code, its approvals object)."""
    code, report = verify_json(cli, chain, BASE)
    return code, report["approvals"]


def missing(cli: Cli, chain: ChainRepo) -> list[str]:
    """The messages of the approvals-missing findings of verify BASE..HEAD."""
    _, report = verify_json(cli, chain, BASE)
    return [f["message"] for f in report["findings"] if f["rule"] == "approvals-missing"]


def p1_adds_validator(chain: ChainRepo, domain: str = "node0") -> None:
    chain.run("append-validator", "--validator", chain.validators[domain])
    chain.commit(f"p1 validator {domain}", "p1")


def test_validator_change_waits_for_a_second_member(cli: Cli, chain: ChainRepo) -> None:
    set_policy(chain, "members", "validator = 2")
    p1_adds_validator(chain)
    code, table = approvals_of(cli, chain)
    assert code == 1
    assert table == {
        "validator": {"required": 2, "have": 1, "approvers": ["p1"], "candidates": ["admin", "p2"]}
    }
    assert missing(cli, chain) == [
        "validator change needs 2 of 3 members; approved by p1; waiting for one of admin, p2"
    ]
    status = cli("approvals", "--repo", str(chain.repo), "--base", BASE)
    assert status.code == 1
    assert status.out.splitlines()[-1].split() == [
        "validator", "1", "2", "of", "3", "members", "p1", "one", "of", "admin,", "p2"
    ]  # fmt: skip

    head_tree = chain.git("rev-parse", "HEAD^{tree}")
    result = approve(cli, chain, "p2")
    assert result.code == 0 and result.out == "", result
    assert f"approved tree {head_tree[:12]}" in result.err and " as p2 (SHA256:" in result.err
    message = chain.git("log", "-1", "--format=%B")
    assert f"Approves-Tree: {head_tree}" in message
    assert f"Approves-Base: {chain.git('rev-parse', BASE)}" in message
    assert chain.git("rev-parse", "HEAD^{tree}") == head_tree  # an empty commit
    code, table = approvals_of(cli, chain)
    assert code == 0, verify_json(cli, chain, BASE)
    assert table["validator"] == {
        "required": 2,
        "have": 2,
        "approvers": ["p1", "p2"],
        "candidates": ["admin"],
    }
    status = cli("approvals", "--repo", str(chain.repo), "--base", BASE, "--format", "json")
    assert status.code == 0 and json.loads(status.out)["approvals"] == table

    p1_adds_validator(chain, "node1")  # a new change after the approval: p2 approved another tree
    code, table = approvals_of(cli, chain)
    assert code == 1 and table["validator"]["approvers"] == ["p1"]
    [message] = missing(cli, chain)
    assert message.startswith("validator change needs 2 of 3 members; approved by p1; waiting for one of")
    assert "the approval(s) of p2 are for an earlier version of the branch and no longer count" in message


def test_approvals_that_do_not_count(cli: Cli, chain: ChainRepo) -> None:
    set_policy(chain, "members", "validator = 3")
    p1_adds_validator(chain)
    assert approve(cli, chain, "p2").code == 0
    assert approve(cli, chain, "p2").code == 0  # twice by the same member: counted once
    assert approve(cli, chain, "p1").code == 0  # the author again: counted once
    code, table = approvals_of(cli, chain)
    assert code == 1 and table["validator"]["approvers"] == ["p1", "p2"]
    assert table["validator"]["have"] == 2

    # A key of no member: `approve` refuses and leaves nothing; a hand-made one does not count.
    head = chain.git("rev-parse", "HEAD")
    refused = approve(cli, chain, "mallory")
    assert refused.code == 1 and "belongs to no member in members.toml" in refused.err
    assert chain.git("rev-parse", "HEAD") == head
    tree = chain.git("rev-parse", "HEAD^{tree}")
    trailer = f"Approves-Tree: {tree}"
    chain.git("-c", f"user.signingkey={chain.people['mallory'].key}", "commit", "-q", "--allow-empty",
              "-S", "-m", "approve", "-m", trailer)  # fmt: skip
    code, report = verify_json(cli, chain, BASE)
    assert code == 1 and report["approvals"]["validator"]["approvers"] == ["p1", "p2"]
    assert {"approvals-missing", "unknown-signer"} <= rules_of(json.dumps(report))

    # The admin approves another tree (the base's): it does not count, and the finding says so.
    chain.git("reset", "-q", "--hard", head)
    base_tree = chain.git("rev-parse", f"{BASE}^{{tree}}")
    chain.git("-c", f"user.signingkey={chain.people['admin'].key}", "commit", "-q", "--allow-empty",
              "-S", "-m", "approve", "-m", f"Approves-Tree: {base_tree}")  # fmt: skip
    code, table = approvals_of(cli, chain)
    assert code == 1 and table["validator"]["approvers"] == ["p1", "p2"]
    assert "the approval(s) of admin are for an earlier version" in missing(cli, chain)[0]
    # An unsigned commit naming the tree does not count either (and is unsigned-commit).
    chain.git("commit", "-q", "--allow-empty", "--no-gpg-sign", "-m", "approve", "-m", trailer)
    code, report = verify_json(cli, chain, BASE)
    assert report["approvals"]["validator"]["have"] == 2 and "unsigned-commit" in rules_of(json.dumps(report))


def test_fraction_counts_every_member_and_the_stricter_kind_wins(cli: Cli, chain: ChainRepo) -> None:
    set_policy(chain, "validators-p1", 'node = "1/2"\nvalidator = 3')  # 1/2 of 3 members: 2
    chain.run("append-validator", "--validator", chain.validators["node2"])
    chain.run("append-node", "--node", NODES["node2"])
    chain.commit("p2 joins with node2", "p2")
    code, table = approvals_of(cli, chain)
    assert code == 1
    assert table == {
        "node": {"required": 2, "have": 1, "approvers": ["p2"], "candidates": ["admin", "p1"]},
        "validator": {"required": 3, "have": 1, "approvers": ["p2"], "candidates": ["admin", "p1"]},
    }
    assert missing(cli, chain) == [
        "node change needs 1/2 of 3 members (2); approved by p2; waiting for one of admin, p1",
        "validator change needs 3 of 3 members; approved by p2; waiting for admin, p1",
    ]
    assert approve(cli, chain, "p1").code == 0  # enough for the node, not for the validator
    assert missing(cli, chain) == [
        "validator change needs 3 of 3 members; approved by p1, p2; waiting for admin"
    ]
    assert approve(cli, chain, "admin").code == 0
    assert approvals_of(cli, chain)[0] == 0


def test_admins_means_every_admin(cli: Cli, chain: ChainRepo) -> None:
    set_policy(chain, "certs", 'members = "admins"', admins=("p2",))
    chain.run("member", "add", "--name", "p3", "--ssh-key", chain.people["p3"].public)
    chain.commit("add p3", "admin")
    code, table = approvals_of(cli, chain)
    assert code == 1
    assert table == {"members": {"required": 2, "have": 1, "approvers": ["admin"], "candidates": ["p2"]}}
    assert missing(cli, chain) == ["members change needs every admin (2); approved by admin; waiting for p2"]
    assert approve(cli, chain, "p1").code == 0  # not an admin: does not count for "admins"
    assert approvals_of(cli, chain) == (1, table)
    assert approve(cli, chain, "p2").code == 0
    code, table = approvals_of(cli, chain)
    assert code == 0 and table["members"]["approvers"] == ["admin", "p2"]


def test_the_policy_in_force_is_the_bases_and_changing_it_is_a_members_change(
    cli: Cli, chain: ChainRepo
) -> None:
    set_policy(chain, "members", "validator = 2\nmembers = 1")
    chain.edit_config("validator = 2", "validator = 1", "members.toml")  # lowered in the same PR
    chain.run("append-validator", "--validator", chain.validators["node0"])
    chain.commit("p1 lowers the bar and adds its validator", "p1")
    code, report = verify_json(cli, chain, BASE)
    assert code == 1 and {"admin-only", "approvals-missing"} <= rules_of(json.dumps(report))
    assert report["approvals"]["validator"]["required"] == 2  # the base's rule, not the PR's
    assert report["approvals"]["members"] == {
        "required": 1, "have": 1, "approvers": ["p1"], "candidates": ["admin", "p2"]
    }  # fmt: skip
    admin_only = [f for f in report["findings"] if f["rule"] == "admin-only"]
    assert [f["field"] for f in admin_only] == ["policy.approvals"]
    diff = cli("diff", "--repo", str(chain.repo), "--base", BASE, "--head", "HEAD")
    assert "Members:\n  approval policy: validator 2 -> 1\n" in diff.out
    assert diff.out.endswith(
        "Approvals:\n  tree " + chain.git("rev-parse", "HEAD^{tree}")[:12] + " approved by p1\n"
    )


def test_empty_approval_commits_pass_the_signature_and_lane_rules(cli: Cli, chain: ChainRepo) -> None:
    set_policy(chain, "members", "validator = 2")
    p1_adds_validator(chain)
    for who in ("p2", "admin", "p1"):
        assert approve(cli, chain, who).code == 0
    code, report = verify_json(cli, chain, BASE)
    assert code == 0 and report["errors"] == 0, report
    assert report["approvals"]["validator"]["approvers"] == ["admin", "p1", "p2"]
    markdown = cli(
        "verify", "--repo", str(chain.repo), "--base", BASE, "--head", "HEAD", "--format", "markdown"
    )
    assert "#### Approvals" in markdown.out
    assert "| :white_check_mark: | validator | 3 / 2 | admin, p1, p2 | - |" in markdown.out


def test_approvals_made_before_master_moved_still_count(cli: Cli, chain: ChainRepo) -> None:
    """The PR's tree did not change; the kinds are those of the change as merged (merge-tree)."""
    set_policy(chain, "members", "validator = 2\nmembers = 3")
    p1_adds_validator(chain)
    assert approve(cli, chain, "p2").code == 0
    pr = chain.git("rev-parse", "--abbrev-ref", "HEAD")
    chain.git("checkout", "-q", "master-with-policy")
    chain.run("member", "add", "--name", "p3", "--ssh-key", chain.people["p3"].public)
    chain.commit("add p3", "admin")  # master moves on: a members change the PR does not make
    chain.git("checkout", "-q", pr)
    code, report = verify_json(cli, chain, "master-with-policy")
    assert code == 0, report
    assert "stale-branch" in rules_of(json.dumps(report))
    assert report["approvals"] == {
        "validator": {"required": 2, "have": 2, "approvers": ["p1", "p2"], "candidates": ["admin", "p3"]}
    }
    status = cli("approvals", "--repo", str(chain.repo), "--base", "master-with-policy", "--format", "json")
    assert status.code == 0 and json.loads(status.out)["approvals"] == report["approvals"]


def test_an_unknown_policy_key_is_an_unknown_field(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("members")
    members = chain.repo / "members.toml"
    members.write_text(members.read_text() + "\n[policy.approvals]\nvalidators = 2\n\n[policy.quorum]\n")
    chain.commit("a policy with a typo", "admin")
    code, report = verify_json(cli, chain, "members")
    assert code == 1
    [finding] = [f for f in report["findings"] if f["rule"] == "unknown-field"]
    assert finding["path"] == "members.toml" and "policy.quorum: unknown field" in finding["message"]
    members.write_text(members.read_text().replace("\n[policy.quorum]\n", ""))
    chain.commit("the typo left", "admin")
    _, report = verify_json(cli, chain, "members")
    [finding] = [f for f in report["findings"] if f["rule"] == "unknown-field"]
    assert "policy.approvals.validators: unknown field (known here: ca, cert" in finding["message"]


def test_approve_refuses_what_would_not_count(cli: Cli, chain: ChainRepo) -> None:
    set_policy(chain, "members", "validator = 2")
    p1_adds_validator(chain)
    head = chain.git("rev-parse", "HEAD")
    chain.git("config", "user.signingkey", str(chain.people["p2"].key))
    chain.git("config", "gpg.format", "openpgp")
    result = cli("approve", "--repo", str(chain.repo), "--base", BASE)
    assert result.code == 1 and result.err.startswith("error: approve signs with your git SSH signing key")
    chain.git("config", "gpg.format", "ssh")
    result = cli("approve", "--repo", str(chain.repo), "--base", "HEAD")
    assert result.code == 2 and "is already in HEAD: check out the PR branch first" in result.err
    result = cli("approve", "--repo", str(chain.repo), "--base", "nope")
    assert result.code == 2 and result.err == f"error: --base: 'nope' is not a commit in {chain.repo}\n"
    result = cli("approve", "--repo", str(chain.repo), "--base", "members~0", "--message", "ok")
    assert result.code == 0  # any base with a members.toml; the subject is the message
    assert chain.git("log", "-1", "--format=%s") == "ok"
    assert chain.git("rev-parse", "HEAD~1") == head
    (chain.repo / "staged.txt").write_text("not part of an approval\n")
    chain.git("add", "staged.txt")
    assert approve(cli, chain, "p2").code == 0
    assert chain.git("diff", "--name-only", "HEAD~1", "HEAD") == ""  # staged work stays staged
    assert chain.git("diff", "--cached", "--name-only") == "staged.txt"


def test_merge_steps_count_the_approvals_of_their_second_parent(cli: Cli, chain: ChainRepo) -> None:
    """What the receipt check asks of a merged step (verify parent..merge), and `audit`."""
    set_policy(chain, "members", "validator = 2")
    p1_adds_validator(chain)
    assert approve(cli, chain, "p2").code == 0
    approved = chain.git("rev-parse", "HEAD")
    chain.git("checkout", "-q", "master-with-policy")
    chain.git("merge", "-q", "--no-ff", "--no-gpg-sign", "-m", "Merge PR 1", approved)
    code, report = verify_json(cli, chain, BASE, "HEAD")
    assert code == 0 and report["approvals"]["validator"]["approvers"] == ["p1", "p2"], report
    merged = chain.git("rev-parse", "HEAD")
    chain.run("append-validator", "--validator", chain.validators["node1"])  # straight to master
    chain.commit("p1 pushes straight to master", "p1")
    code, report = verify_json(cli, chain, merged, "HEAD")
    assert code == 1 and report["approvals"]["validator"]["approvers"] == ["p1"]

    result = cli("audit", "--repo", str(chain.repo), "--since", "members", "--format", "json")
    assert result.code == 1
    steps = json.loads(result.out)["steps"]
    assert [(s["subject"], s["kinds"], s["approvers"], s["verdict"]) for s in steps] == [
        ("approval policy", ["members"], ["admin"], "passed"),
        ("Merge PR 1", ["validator"], ["p1", "p2"], "passed"),
        ("p1 pushes straight to master", ["validator"], ["p1"], "failed"),
    ]
    assert steps[1]["merged"] == approved and steps[1]["signer"]["status"] == "none"
    assert steps[2]["errors"] == ["approvals-missing"]
    assert steps[2]["signer"]["member"] == "p1" and steps[2]["signer"]["fingerprint"].startswith("SHA256:")
    text = cli("audit", "--repo", str(chain.repo), "--since", BASE)
    assert text.code == 1
    assert text.out.splitlines()[-2:] == [
        "  approvers: p1",
        "  verdict:   FAILED: approvals-missing (warnings: validators-few)",
    ]
    root = json.loads(cli("audit", "--repo", str(chain.repo), "--format", "json").out)["steps"][0]
    assert root["verdict"] == "root" and root["signer"]["member"] == "admin"


def test_every_kind_of_change_has_a_policy_kind() -> None:
    from cloud_config.gate.approvals import KIND_OF
    from cloud_config.gate.change_summary import KIND_TITLES
    from cloud_config.model.policy import KINDS

    assert set(KIND_OF) == set(KIND_TITLES) and set(KIND_OF.values()) <= set(KINDS)
