"""Issue 10's attacks on the gate, each on a real signed chain repo through the real CLI.

Each of these passed `verify` before issue 10: merges attributed to nobody, secrets renamed or
aliased, certificates with extra names, unknown content, hostile files, parallel PRs.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from tests.support.gate_corpus import CHAIN, ChainRepo, Cli, assert_fails_with, rules_of, verify_json

PEM_BODY = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg"
ACCOUNT_KEY = "ab" * 32


def _errors(report: dict[str, Any]) -> set[str]:
    return {f["rule"] for f in report["findings"] if f["severity"] == "error"}


# ---- merges -------------------------------------------------------------------------------------


def _evil_tree(chain: ChainRepo) -> str:
    """The tree of certs with participant p1 made admin and node1 moved to www.evil.example."""
    chain.pr("certs")
    chain.edit_config('name = "p1"\nrole = "member"', 'name = "p1"\nrole = "admin"', path="members.toml")
    chain.edit_config('host = "www.node1.com"', 'host = "www.evil.example"')
    chain.git("add", "-A")
    return chain.git("write-tree")


def test_unsigned_evil_merge_is_refused(cli: Cli, chain: ChainRepo) -> None:
    tree = _evil_tree(chain)
    merge = chain.git("commit-tree", tree, "-p", "certs", "-p", "certs~1", "-m", "merge")
    chain.git("reset", "-q", "--hard", merge)
    report = assert_fails_with(cli, chain, "certs", "merge-changes")
    assert "unsigned" in next(f["message"] for f in report["findings"] if f["rule"] == "merge-changes")


def test_evil_merge_signed_by_a_member_is_judged_as_its_commit(cli: Cli, chain: ChainRepo) -> None:
    tree = _evil_tree(chain)
    key = str(chain.people["p1"].key)
    merge = chain.git(
        "-c", "gpg.format=ssh", "-c", f"user.signingkey={key}",
        "commit-tree", "-S", tree, "-p", "certs", "-p", "certs~1", "-m", "merge",
    )  # fmt: skip
    chain.git("reset", "-q", "--hard", merge)
    report = assert_fails_with(cli, chain, "certs", "admin-only")
    assert "merge-changes" not in rules_of(json.dumps(report))
    assert any(f["path"] == "members.toml" for f in report["findings"])


def test_clean_merge_of_master_into_a_pr_needs_no_signature(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    chain.edit_config('host = "www.node0.com"', 'host = "10.0.0.10"')
    chain.commit("move node0", "p1")
    chain.git("merge", "-q", "--no-gpg-sign", "--no-edit", "certs~1")  # a no-op merge, unsigned
    code, report = verify_json(cli, chain, "certs")
    assert code == 0 and report["findings"] == [], report


def test_octopus_merge_is_refused(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    tree = chain.git("rev-parse", "certs^{tree}")
    merge = chain.git("commit-tree", tree, "-p", "certs", "-p", "certs~1", "-p", "certs~2", "-m", "octopus")
    chain.git("reset", "-q", "--hard", merge)
    assert_fails_with(cli, chain, "certs", "merge-changes")


def test_unrelated_history_is_refused(cli: Cli, chain: ChainRepo) -> None:
    tree = chain.git("rev-parse", "certs^{tree}")
    orphan = chain.git("commit-tree", tree, "-m", "same files, no history")
    chain.git("reset", "-q", "--hard", orphan)
    report = assert_fails_with(cli, chain, "certs", "unrelated-history")
    assert len(report["findings"]) == 1


# ---- secrets by content ----------------------------------------------------------------------


def test_secret_renamed_is_found_under_both_names(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    account = chain.repo / "accounts" / "abc"
    account.mkdir(parents=True)
    (account / "private_key").write_text(ACCOUNT_KEY + "\n")
    chain.commit("key", "admin", force_add=("accounts/abc/private_key",))
    chain.git("mv", "-f", "accounts/abc/private_key", "notes.txt")
    chain.commit("rename", "admin")
    report = assert_fails_with(cli, chain, "certs", "secret-committed")
    assert {f["path"] for f in report["findings"]} == {"accounts/abc/private_key", "notes.txt"}
    assert ACCOUNT_KEY not in json.dumps(report)


def test_secret_under_a_name_starting_with_a_colon_is_found(cli: Cli, chain: ChainRepo) -> None:
    """git's raw diff lists a path after its `:mode mode id id status` token: a path that itself
    starts with ':' is still a path (it crashed the secret scan before)."""
    chain.pr("certs")
    (chain.repo / ":evil").write_text(ACCOUNT_KEY + "\n")
    chain.commit("a key behind a colon", "admin")
    report = assert_fails_with(cli, chain, "certs", "secret-committed")
    assert {f["path"] for f in report["findings"]} == {":evil"}
    assert ACCOUNT_KEY not in json.dumps(report)


def test_secret_aliased_then_deleted_is_found_under_both_paths(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    (chain.repo / "aaa").mkdir()
    (chain.repo / "aaa" / "readme").write_text("0x" + ACCOUNT_KEY)
    (chain.repo / "accounts" / "abc").mkdir(parents=True)
    (chain.repo / "accounts" / "abc" / "private_key").write_text("0x" + ACCOUNT_KEY)
    chain.commit("two names, one blob", "admin", force_add=("accounts/abc/private_key",))
    chain.git("rm", "-q", "-r", "aaa", "accounts/abc")
    chain.commit("gone", "admin")
    report = assert_fails_with(cli, chain, "certs", "secret-committed")
    assert {f["path"] for f in report["findings"]} == {"aaa/readme", "accounts/abc/private_key"}
    assert ACCOUNT_KEY not in json.dumps(report)


@pytest.mark.parametrize("label", ["EC PRIVATE KEY", "encrypted private key", "OPENSSH PRIVATE KEY"])
def test_pem_private_key_of_any_label_and_case(cli: Cli, chain: ChainRepo, label: str) -> None:
    chain.pr("certs")
    (chain.repo / "docs.md").write_text(f"see\n-----BEGIN {label}-----\n{PEM_BODY}\n-----END {label}-----\n")
    chain.commit("docs", "admin")
    report = assert_fails_with(cli, chain, "certs", "secret-committed")
    assert PEM_BODY not in json.dumps(report)


# ---- certificates name exactly their node ------------------------------------------------------


def _sign_with_chain_ca(chain: ChainRepo, domain: str, names: list[x509.GeneralName], leaf: bool) -> str:
    """A certificate for `domain`'s CSR key from the chain's real CA, with the given SANs."""
    ca_cert = x509.load_pem_x509_certificate((chain.repo / "ca_cert" / "cert.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((chain.repo / "ca_cert" / "key.pem").read_bytes(), None)
    csr = x509.load_pem_x509_csr((chain.repo / "certs" / domain / "csr.pem").read_bytes())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca_cert.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
    )
    if leaf:
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    cert = builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_certificate_with_extra_names_is_refused(cli: Cli, chain: ChainRepo) -> None:
    import ipaddress

    chain.pr("certs")
    names: list[x509.GeneralName] = [
        x509.DNSName(f"{CHAIN}-node0"),
        x509.DNSName("*.example.com"),
        x509.DNSName(f"{CHAIN}-node1"),
        x509.IPAddress(ipaddress.ip_address("10.0.0.1")),
    ]
    (chain.repo / "certs" / "node0" / "cert.pem").write_text(_sign_with_chain_ca(chain, "node0", names, True))
    chain.commit("node0 with more names", "admin")
    report = assert_fails_with(cli, chain, "certs", "cert-wrong-name")
    assert _errors(report) == {"cert-wrong-name"}


def test_certificate_without_basic_constraints(cli: Cli, chain: ChainRepo) -> None:
    """Issued in a PR: an error. Already on the base (as 6.7.4 issued it): a warning."""
    chain.pr("certs")
    pem = _sign_with_chain_ca(chain, "node0", [x509.DNSName(f"{CHAIN}-node0")], False)
    (chain.repo / "certs" / "node0" / "cert.pem").write_text(pem)
    chain.commit("6.7.4-style certificate", "admin")
    assert_fails_with(cli, chain, "certs", "cert-basic-constraints")
    chain.git("tag", "legacy")
    chain.edit_config('host = "www.node0.com"', 'host = "10.0.0.10"')
    chain.commit("move node0", "p1")
    code, report = verify_json(cli, chain, "legacy")
    assert code == 0
    assert [(f["rule"], f["severity"]) for f in report["findings"]] == [("cert-basic-constraints", "warning")]


def test_sign_csr_refuses_extra_names_and_allows_the_hosts_own_name(cli: Cli, chain: ChainRepo) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def csr_for(*dns: str) -> str:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{CHAIN}-node4")])
        san = x509.SubjectAlternativeName([x509.DNSName(d) for d in dns])
        req = x509.CertificateSigningRequestBuilder().subject_name(subject).add_extension(san, critical=False)
        return req.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()

    flags = ("--chain-name", CHAIN, "--config-dir", str(chain.workspace))
    assert cli("append-node", "--node", "host4.example.org:40004:node4", *flags).code == 0  # not k8s
    (chain.repo / "certs" / "node4").mkdir()
    csr = chain.repo / "certs" / "node4" / "csr.pem"
    csr.write_text(csr_for(f"{CHAIN}-node4", f"{CHAIN}-node1"))
    result = cli("sign-csr", "--domain", "node4", *flags)
    assert result.code == 1 and result.err.count("\n") == 1 and "no other name" in result.err
    assert not (chain.repo / "certs" / "node4" / "cert.pem").exists()
    csr.write_text(csr_for(f"{CHAIN}-node4", "host4.example.org"))
    assert cli("sign-csr", "--domain", "node4", *flags).code == 0


# ---- a closed schema --------------------------------------------------------------------------


def test_member_appends_a_junk_table(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    path = chain.repo / "chain_config.toml"
    path.write_text(path.read_text() + '\n[junk]\nx = "copied to every node"\n')
    chain.commit("junk", "p1")
    report = assert_fails_with(cli, chain, "certs", "unknown-field")
    found = next(f for f in report["findings"] if f["rule"] == "unknown-field")
    assert found["path"] == "chain_config.toml" and found["message"].startswith("junk: unknown field")


def test_member_adds_a_key_to_members_toml(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    path = chain.repo / "members.toml"
    path.write_text('note = "hello"\n' + path.read_text())
    chain.commit("note", "p1")
    assert_fails_with(cli, chain, "certs", "unknown-field")


def test_every_command_refuses_unknown_fields(cli: Cli, chain: ChainRepo) -> None:
    flags = ("--chain-name", CHAIN, "--config-dir", str(chain.workspace))
    config, members = chain.repo / "chain_config.toml", chain.repo / "members.toml"
    config.write_text(config.read_text().replace("[genesis_block]", "[genesis_block]\nextra = 1", 1))
    before = config.read_bytes()
    result = cli("append-node", "--node", "www.node9.com:40009:node9", *flags)
    assert result.code == 1 and result.err.count("\n") == 1
    assert "genesis_block.extra: unknown field" in result.err and config.read_bytes() == before
    members.write_text(members.read_text().replace('name = "p1"', 'name = "p1"\nnickname = "x"', 1))
    result = cli("member", "list", *flags)
    assert result.code == 1 and "member[1].nickname: unknown field" in result.err


def test_pipeline_keys_are_known_and_checked(cli: Cli, chain: ChainRepo) -> None:
    """The status issue's `pipeline_keys` on a member: OpenSSH public keys, kept by edits."""
    flags = ("--chain-name", CHAIN, "--config-dir", str(chain.workspace))
    members = chain.repo / "members.toml"
    line = f'pipeline_keys = ["{chain.people["p3"].public}"]\n'
    members.write_text(members.read_text().replace('name = "p1"\n', f'name = "p1"\n{line}', 1))
    assert cli("member", "add", "--name", "p1", "--domain", "node9", *flags).code == 0
    assert chain.people["p3"].public.split()[1] in members.read_text()
    members.write_text(members.read_text().replace(chain.people["p3"].public.split()[1], "not-base64!", 1))
    result = cli("member", "list", *flags)
    assert result.code == 1 and "member[1].pipeline_keys[0]" in result.err


@pytest.mark.slow
def test_hundred_thousand_junk_keys(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    path = chain.repo / "chain_config.toml"
    path.write_text(path.read_text() + "\n[junk]\n" + "".join(f"k{i} = {i}\n" for i in range(100_000)))
    chain.commit("junk", "p1")
    assert_fails_with(cli, chain, "certs", "unknown-field")


# ---- hostile files ----------------------------------------------------------------------------

HOSTILE: dict[str, tuple[str, Callable[[str], str], str]] = {
    "deep array": (
        "chain_config.toml",
        lambda t: t + "x = " + "[" * 100_000 + "]" * 100_000 + "\n",
        "nested",
    ),
    "non-UTF-8": ("chain_config.toml", lambda t: t + "# caf\xe9\n", "not UTF-8"),
    "BOM": ("chain_config.toml", lambda t: "\ufeff" + t, "byte-order mark"),
    "CRLF": ("chain_config.toml", lambda t: t.replace("\n", "\r\n"), "CRLF"),
    "deep inline tables": (
        "members.toml",
        lambda t: "x = " + "{a=" * 50_000 + "1" + "}" * 50_000 + "\n" + t,
        "nested",
    ),
}


def _write_hostile(chain: ChainRepo, case: str) -> tuple[str, bytes]:
    name, spoil, says = HOSTILE[case]
    path = chain.repo / name
    text = spoil(path.read_text())
    data = text.encode("latin-1") if case == "non-UTF-8" else text.encode("utf-8")
    path.write_bytes(data)
    return says, data


@pytest.mark.slow
@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_file_is_one_error_line_for_verbs_and_verify(cli: Cli, chain: ChainRepo, case: str) -> None:
    flags = ("--chain-name", CHAIN, "--config-dir", str(chain.workspace))
    chain.pr("certs")
    says, data = _write_hostile(chain, case)
    name = HOSTILE[case][0]
    snapshot = {
        p: p.read_bytes() for p in chain.workspace.rglob("*") if p.is_file() and ".git" not in p.parts
    }
    by_file: dict[str, list[tuple[str, ...]]] = {
        "chain_config.toml": [
            ("append-node", "--node", "www.node9.com:40009:node9"),
            ("set-stage", "--stage", "finalize"),
            ("set-admin", "--admin", "ab" * 20),
            ("delete-node", "--domain", "node1"),
            ("sign-csr", "--domain", "node0"),
        ],
        "members.toml": [
            ("member", "add", "--name", "p9", "--domain", "node9"),
            ("member", "remove", "--name", "p2"),
            ("member", "list"),
        ],
    }
    for verb in by_file[name]:
        result = cli(*verb, *flags)
        assert result.code == 1, (verb, result)
        assert result.err.startswith("error: ") and result.err.count("\n") == 1, (verb, result.err)
        assert name in result.err and says in result.err, (verb, result.err)
    after = {p: p.read_bytes() for p in chain.workspace.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert after == snapshot  # nothing written
    chain.commit("hostile", "admin")
    code, report = verify_json(cli, chain, "certs")
    assert code == 1 and _errors(report) & {"schema", "members-invalid"}, report
    assert len(data) > 0


def test_webhook_body_nested_too_deep_is_a_payload_error() -> None:
    from cloud_config.pipeline.webhooks import WebhookPayloadError, pushed_branch

    for body in (b"[" * 32_000, b"[" * 32_000 + b"]" * 32_000, b'{"a":' * 100 + b"1" + b"}" * 100):
        with pytest.raises(WebhookPayloadError, match="nested more than 64 deep"):
            pushed_branch(body)
    assert pushed_branch(b'{"ref": "refs/heads/master", "x": "[[[[' + b"[" * 100 + b'"}')[0] == "master"


# ---- members file required or loudly absent ------------------------------------------------


def test_no_members_file_warns_and_can_be_required(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    (chain.repo / "members.toml").unlink()
    chain.commit("no members", "admin")
    chain.git("tag", "bare")
    chain.edit_config('host = "www.node0.com"', 'host = "10.6.6.6"')
    chain.commit("impostor moves node0", "mallory")
    code, report = verify_json(cli, chain, "bare")
    assert code == 0
    assert [(f["rule"], f["severity"]) for f in report["findings"]] == [("members-missing", "warning")]
    assert "NOT checked" in report["findings"][0]["message"]
    result = cli("verify", "--repo", str(chain.repo), "--base", "bare", "--head", "HEAD", "--require-members")
    assert result.code == 1 and "[members-missing]" in result.out


def test_members_rev_judges_signatures(chain: ChainRepo) -> None:
    """The library contract the receipt pipeline uses: members_rev picks the members.toml."""
    from cloud_config.gate.verify import verify

    chain.pr("certs")
    chain.edit_config('host = "www.node0.com"', 'host = "10.0.0.10"')
    chain.commit("move node0", "p1")
    assert verify(chain.repo, "certs", "HEAD", CHAIN).passed
    report = verify(chain.repo, "certs", "HEAD", CHAIN, members_rev="public")  # before p1 joined
    assert {f.rule for f in report.findings} == {"key-added-in-pr"}  # p1's key came later


# ---- parallel work ----------------------------------------------------------------------------


def test_parallel_validator_appends_conflict_instead_of_removing(cli: Cli, chain: ChainRepo) -> None:
    """Both branch from `members`; p1's merges first; p2's PR now conflicts (one-line array)."""
    chain.parallel_validator_branches()
    report = assert_fails_with(cli, chain, "p1-pr", "merge-conflict")
    assert "validators-removed" not in rules_of(json.dumps(report))
    conflict = next(f for f in report["findings"] if f["rule"] == "merge-conflict")
    assert conflict["path"] == "chain_config.toml" and "rebase" in conflict["message"]


def _parallel_node_moves(chain: ChainRepo, p1_signer: str | None) -> None:
    """master-next: p2 moves node2; checked out, p1-pr from `certs`: node0 moved, signed by `p1_signer`."""
    chain.git("checkout", "-q", "-b", "master-next", "certs")
    chain.edit_config('host = "www.node2.com"', 'host = "10.0.0.12"')
    chain.commit("p2 moves node2", "p2")
    chain.git("checkout", "-q", "-b", "p1-pr", "certs")
    chain.edit_config('host = "www.node0.com"', 'host = "10.0.0.10"')
    chain.commit("p1 moves node0", p1_signer)


def test_parallel_prs_that_git_merges_cleanly_pass(cli: Cli, chain: ChainRepo) -> None:
    _parallel_node_moves(chain, "p1")
    code, report = verify_json(cli, chain, "master-next")
    assert code == 0
    assert [f["rule"] for f in report["findings"]] == ["stale-branch"]


def test_a_stale_branch_s_own_commits_are_still_signature_checked(cli: Cli, chain: ChainRepo) -> None:
    """The merged snapshot of a stale branch is a tree: the signatures are those of base..head."""
    _parallel_node_moves(chain, None)  # p1-pr's commit unsigned
    report = assert_fails_with(cli, chain, "master-next", "unsigned-commit")
    assert "stale-branch" in rules_of(json.dumps(report))


def test_csr_branch_cut_before_the_ca_merges(cli: Cli, chain: ChainRepo) -> None:
    chain.git("checkout", "-q", "-b", "p1-csrs", "nodes-p2")
    chain.run("create-csr", "--domain", "node0")
    chain.commit("p1 csr", "p1")
    code, report = verify_json(cli, chain, "ca")
    assert code == 0, report
    assert "ca-changed" not in rules_of(json.dumps(report))
