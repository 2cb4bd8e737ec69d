"""The PR corpus: real repos, real signed commits; legitimate steps pass, each attack fails by its rule."""

from __future__ import annotations

import json

import pytest

from tests.support.gate_corpus import (
    NODES,
    ChainRepo,
    Cli,
    assert_fails_with,
    rules_of,
    verify_json,
)

WALKTHROUGH_STEPS = [
    ("init", "public"),
    ("public", "members"),
    ("members", "validators-p1"),
    ("validators-p1", "validators-p2"),
    ("validators-p2", "finalized"),
    ("finalized", "nodes-p1"),
    ("nodes-p1", "nodes-p2"),
    ("nodes-p2", "ca"),
    ("ca", "csrs-p1"),
    ("csrs-p1", "csrs-p2"),
    ("csrs-p2", "certs"),
]


# ---- legitimate steps ----------------------------------------------------------------------


@pytest.mark.parametrize(("base", "head"), WALKTHROUGH_STEPS)
def test_walkthrough_step_passes(cli: Cli, prepared: ChainRepo, base: str, head: str) -> None:
    code, report = verify_json(cli, prepared, base, head)
    assert code == 0, report
    assert report["errors"] == 0


def test_many_steps_as_one_pr_pass(cli: Cli, prepared: ChainRepo) -> None:
    """Five commits by three signers, each in its own lane."""
    code, report = verify_json(cli, prepared, "members", "certs")
    assert code == 0, report
    assert report["findings"] == []


def test_keys_count_from_the_base_only(cli: Cli, prepared: ChainRepo) -> None:
    """From `init`, p1 and p2 sign with keys the same range adds: not allowed in one PR."""
    code, report = verify_json(cli, prepared, "init", "certs")
    assert code == 1
    assert {f["rule"] for f in report["findings"]} == {"key-added-in-pr"}


def test_two_validators_on_overlord_is_only_a_warning(cli: Cli, prepared: ChainRepo) -> None:
    code, report = verify_json(cli, prepared, "members", "validators-p1")
    assert code == 0
    assert [(f["rule"], f["severity"]) for f in report["findings"]] == [("validators-few", "warning")]


def test_owner_moves_its_node(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    chain.edit_config('host = "www.node0.com"', 'host = "10.0.0.10"')
    chain.commit("move node0", "p1")
    code, report = verify_json(cli, chain, "certs")
    # every node is in k8s, so nobody dials node0 by its host: its kept certificate is no concern
    assert code == 0 and report["findings"] == []


def test_a_moved_node_dialled_by_host_keeps_a_stale_certificate(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    chain.edit_config('host = "www.node0.com"', 'host = "10.0.0.10"')
    chain.edit_config(
        'cluster = "k8s"\ndomain = "node3"', 'cluster = ""\ndomain = "node3"'
    )  # node3 outside k8s
    chain.commit("move node0; node3 leaves k8s", "admin")
    _, report = verify_json(cli, chain, "certs")
    stale = [
        (f["rule"], f["severity"], f["path"]) for f in report["findings"] if f["rule"] == "cert-stale-host"
    ]
    assert stale == [
        ("cert-stale-host", "warning", "certs/node0/cert.pem"),
        ("cert-stale-host", "warning", "certs/node0/csr.pem"),
    ], report
    assert "former host www.node0.com; it moved to IP:10.0.0.10" in report["findings"][-1]["message"] or any(
        "former host www.node0.com; it moved to IP:10.0.0.10" in f["message"] for f in report["findings"]
    )


def test_owner_removes_one_validator_of_four(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("validators-p2")
    chain.run("delete-validator", "--validator", chain.validators["node0"])
    chain.commit("p1 leaves the validator set", "p1")
    assert verify_json(cli, chain, "validators-p2")[0] == 0


def test_admin_changes_an_image_tag(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    chain.edit_config('tag = "v6.7.4"', 'tag = "v6.7.5"')
    chain.commit("consensus v6.7.5", "admin")
    code, report = verify_json(cli, chain, "certs")
    # The tag the change sets has no digest: a warning naming the field (the untouched ones are not).
    assert code == 0 and [(f["rule"], f["severity"], f["field"]) for f in report["findings"]] == [
        ("image-unpinned", "warning", "micro_service_list[1].tag")
    ]
    pinned = "v6.7.5@sha256:" + "ab" * 32
    chain.edit_config('tag = "v6.7.5"', f'tag = "{pinned}"')
    chain.commit("consensus pinned", "admin")
    code, report = verify_json(cli, chain, "certs")
    assert code == 0 and report["findings"] == []
    # --require-digests: every unpinned image of head is an error, the pinned one is not.
    code, report = verify_json(cli, chain, "certs", "HEAD", "--require-digests")
    unpinned = [(f["rule"], f["severity"], f["field"]) for f in report["findings"]]
    assert code == 1 and unpinned == [
        ("image-unpinned", "error", f"micro_service_list[{i}].tag") for i in (0, 2, 3, 4)
    ]


def test_new_member_joins_then_adds_its_node(cli: Cli, chain: ChainRepo) -> None:
    """Walkthrough step 12: the admin registers participant 3, who then appends node2's peer."""
    chain.pr("certs")
    p3 = ("--name", "p3", "--ssh-key", chain.people["p3"].public, "--domain", "node4")
    chain.step("p3", "admin", ("member", "add", *p3))
    chain.run("append-node", "--node", NODES["node4"])
    chain.commit("p3 appends node4", "p3")
    for base, head in (("certs", "p3"), ("p3", "HEAD")):
        code, report = verify_json(cli, chain, base, head)
        assert code == 0 and report["findings"] == [], report


def test_merge_commit_needs_no_signature(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    chain.git("checkout", "-q", "-b", "side", "certs")
    chain.edit_config('host = "www.node2.com"', 'host = "10.0.0.12"')
    chain.commit("move node2", "p2")
    chain.git("checkout", "-q", "-")
    chain.edit_config('host = "www.node0.com"', 'host = "10.0.0.10"')
    chain.commit("move node0", "p1")
    chain.git("merge", "-q", "--no-gpg-sign", "--no-edit", "side")
    assert verify_json(cli, chain, "certs")[0] == 0


# ---- attacks and mistakes: each fails with its own rule ----------------------------------


def test_secret_committed(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    account = chain.repo / "accounts" / ("cd" * 20)
    account.mkdir(parents=True)
    (account / "private_key").write_text("11" * 32)
    chain.commit("oops", "p1", force_add=("accounts",))
    report = assert_fails_with(cli, chain, "certs", "secret-committed")
    assert "11" * 32 not in json.dumps(report)


def test_secret_removed_in_a_later_commit_still_fails(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    pem = (
        "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n"
        "-----END PRIVATE KEY-----\n"
    )
    (chain.repo / "notes.txt").write_text(pem)
    chain.commit("add notes", "admin")
    (chain.repo / "notes.txt").unlink()
    chain.commit("remove notes", "admin")
    report = assert_fails_with(cli, chain, "certs", "secret-committed")
    assert [f["path"] for f in report["findings"]] == ["notes.txt"]
    assert "MIGHAgEA" not in json.dumps(report)


def test_stage_moved_back(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    chain.run("set-stage", "--stage", "public", "--force")
    chain.commit("back to public", "admin")
    assert_fails_with(cli, chain, "certs", "stage-backwards")


def test_validator_added_after_finalize(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    chain.run("set-stage", "--stage", "public", "--force")
    chain.run("append-validator", "--validator", "ee" * 48)
    chain.run("set-stage")
    chain.commit("one more validator", "admin")
    report = assert_fails_with(cli, chain, "certs", "validators-frozen")
    assert "stage-backwards" not in rules_of(json.dumps(report))


def test_genesis_changed_after_finalize(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    chain.edit_config("timestamp = 1709695109593", "timestamp = 1709695109594")
    chain.commit("new genesis", "admin")
    report = assert_fails_with(cli, chain, "certs", "genesis-frozen")
    assert [f["field"] for f in report["findings"]] == ["genesis_block.timestamp"]


def test_two_of_four_validators_removed_at_once(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("validators-p2")
    chain.run("delete-validator", "--validator", chain.validators["node0"])
    chain.run("delete-validator", "--validator", chain.validators["node1"])
    chain.commit("p1 leaves", "p1")
    assert_fails_with(cli, chain, "validators-p2", "validators-removed")


def test_duplicate_domain(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    entry = (
        '[[node_network_address_list]]\ncluster = ""\ndomain = "node0"\n'
        'host = "spare.example.com"\nname_space = "default"\nport = 41000\n\n'
    )
    chain.edit_config("[genesis_block]", entry + "[genesis_block]")
    chain.commit("second node0", "p1")
    report = assert_fails_with(cli, chain, "certs", "duplicate-domain")
    assert any(f["field"] == "node_network_address_list[4].domain" for f in report["findings"])


def test_unsigned_commit(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    chain.edit_config('host = "www.node0.com"', 'host = "10.0.0.10"')
    chain.commit("move node0", None)
    assert_fails_with(cli, chain, "certs", "unsigned-commit")


def test_commit_signed_by_a_non_member(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    chain.edit_config('host = "www.node0.com"', 'host = "10.0.0.10"')
    chain.commit("move node0", "mallory")
    assert_fails_with(cli, chain, "certs", "unknown-signer")


def test_member_edits_another_members_node(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    chain.run("delete-node", "--domain", "node2")
    chain.commit("drop node2", "p1")
    report = assert_fails_with(cli, chain, "certs", "not-owner")
    assert any("belongs to 'p2'" in f["message"] for f in report["findings"] if f["rule"] == "not-owner")


def test_non_admin_changes_system_config(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("validators-p2")
    chain.edit_config("block_limit = 100", "block_limit = 200")
    chain.commit("bigger blocks", "p1")
    report = assert_fails_with(cli, chain, "validators-p2", "admin-only")
    assert report["findings"][0]["field"] == "system_config.block_limit"


def test_pr_adding_its_own_signing_key(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    chain.run(
        "member", "add", "--name", "mallory", "--ssh-key", chain.people["mallory"].public, "--domain", "node9"
    )
    chain.commit("join", "mallory")
    assert_fails_with(cli, chain, "certs", "key-added-in-pr")


def test_deleting_members_toml_does_not_switch_the_gate_off(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    (chain.repo / "members.toml").unlink()
    chain.edit_config('host = "www.node2.com"', 'host = "10.0.0.12"')
    chain.commit("no more members", "p1")
    report = assert_fails_with(cli, chain, "certs", "admin-only")
    assert "not-owner" in rules_of(json.dumps(report))


def test_certificate_not_issued_by_the_ca(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    chain.sign_with_own_ca("node0")
    chain.commit("re-sign node0", "admin")
    report = assert_fails_with(cli, chain, "certs", "cert-not-from-ca")
    assert {f["path"] for f in report["findings"]} == {"certs/node0/cert.pem"}


def test_certificate_naming_another_node(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    certs = chain.repo / "certs"
    (certs / "node0" / "cert.pem").write_text((certs / "node1" / "cert.pem").read_text())
    chain.commit("node0 cert", "admin")
    report = assert_fails_with(cli, chain, "certs", "cert-wrong-name")
    assert "gitops-test-chain-node1" in report["findings"][0]["message"] + report["findings"][1]["message"]


def test_owner_rekeys_its_node_then_admin_signs(cli: Cli, chain: ChainRepo) -> None:
    """create-csr --force drops node0's old certificate; the owner may do that, the admin signs."""
    chain.pr("certs")
    chain.run("create-csr", "--domain", "node0", "--force")
    chain.commit("new key for node0", "p1")
    code, report = verify_json(cli, chain, "certs")
    assert code == 0 and report["findings"] == [], report
    chain.git("tag", "rekeyed")
    chain.run("sign-csr", "--domain", "node0")
    chain.commit("sign node0", "admin")
    assert verify_json(cli, chain, "rekeyed")[0] == 0


def test_new_csr_leaves_a_stale_certificate(cli: Cli, chain: ChainRepo) -> None:
    """cloud-config 6.7.4's create-csr replaces node0's key and leaves the old certificate."""
    chain.pr("certs")
    chain.forge_csr("node0", "gitops-test-chain-node0")
    chain.commit("new key for node0", "p1")
    report = assert_fails_with(cli, chain, "certs", "cert-key-mismatch")
    assert [f["rule"] for f in report["findings"]] == ["cert-key-mismatch"]


def test_csr_for_another_name(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("csrs-p2")
    chain.forge_csr("node0", name="gitops-test-chain-node2")
    chain.commit("csr", "p1")
    assert_fails_with(cli, chain, "csrs-p2", "csr-invalid")


def test_ca_replaced_after_certificates_exist(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    chain.run("create-ca", "--force")
    chain.commit("new CA", "admin")
    rules = {f["rule"] for f in assert_fails_with(cli, chain, "certs", "ca-changed")["findings"]}
    assert rules == {"ca-changed", "cert-not-from-ca"}


def test_member_may_not_sign_certificates(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("csrs-p2")
    chain.run("sign-csr", "--domain", "node0")
    chain.commit("self-signed by the CA key I should not have", "p1")
    assert_fails_with(cli, chain, "csrs-p2", "admin-only")


def test_departed_node_keeps_its_certificate_error(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    chain.run("delete-node", "--domain", "node1")
    chain.commit("node1 leaves", "p1")
    code, report = verify_json(cli, chain, "certs")
    assert code == 1
    assert [(f["rule"], f["severity"], f["path"]) for f in report["findings"]] == [
        ("departed-cert", "error", "certs/node1/cert.pem")
    ]


def test_member_may_not_reorder_validators(cli: Cli, chain: ChainRepo) -> None:
    """The order of validators is part of the genesis: not a member's own entry."""
    chain.pr("validators-p2")
    order = [chain.validators[d] for d in ("node1", "node0", "node2", "node3")]
    chain.run("set-validators", "--validators", ",".join(order))
    chain.commit("reorder", "p1")
    report = assert_fails_with(cli, chain, "validators-p2", "admin-only")
    assert report["findings"][0]["field"] == "system_config.validators"


def test_member_may_not_rearrange_services(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    text = (chain.repo / "chain_config.toml").read_text()
    first = text.index("[[micro_service_list]]")
    second = text.index("[[micro_service_list]]", first + 1)
    third = text.index("[[micro_service_list]]", second + 1)
    swapped = text[:first] + text[second:third] + text[first:second] + text[third:]
    (chain.repo / "chain_config.toml").write_text(swapped)
    chain.commit("swap", "p1")
    assert_fails_with(cli, chain, "certs", "admin-only")
