"""`cloud-config verify` as a user runs it: output formats, exit codes, usage errors, odd repos."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.cli import SRC, run_process
from tests.support.gate_corpus import (
    CHAIN,
    ChainRepo,
    Cli,
    assert_fails_with,
    verify_json,
)

FINDING_KEYS = ["rule", "severity", "path", "field", "message"]


def _attack(chain: ChainRepo) -> None:
    """One PR with an error of each severity-sorting kind and a warning."""
    chain.pr("certs")
    chain.run("delete-node", "--domain", "node2")
    chain.edit_config("block_limit = 100", "block_limit = 200")
    chain.commit("x", "p1")


def test_json_is_stable_and_documented(cli: Cli, chain: ChainRepo) -> None:
    _attack(chain)
    first = cli("verify", "--repo", str(chain.repo), "--base", "certs", "--head", "HEAD", "--format", "json")
    second = cli("verify", "--repo", str(chain.repo), "--base", "certs", "--head", "HEAD", "--format", "json")
    assert first.code == 1 and first.out == second.out
    report = json.loads(first.out)
    assert list(report) == [
        "version",
        "base",
        "head",
        "chain_name",
        "passed",
        "errors",
        "warnings",
        "findings",
        "approvals",
    ]
    assert report["approvals"] == {}  # no [policy.approvals] at the base (tests/gate/test_approvals.py)
    assert report["version"] == 1 and report["passed"] is False and report["chain_name"] == CHAIN
    assert report["base"] == chain.git("rev-parse", "certs") and report["head"] == chain.git(
        "rev-parse", "HEAD"
    )
    assert all(list(f) == FINDING_KEYS for f in report["findings"])
    severities = [f["severity"] for f in report["findings"]]
    assert severities == sorted(severities)  # "error" < "warning": errors first
    assert report["errors"] == severities.count("error") == 4 and report["warnings"] == 0


def test_markdown_reads_as_a_pr_comment(cli: Cli, chain: ChainRepo) -> None:
    _attack(chain)
    result = cli(
        "verify", "--repo", str(chain.repo), "--base", "certs", "--head", "HEAD", "--format", "markdown"
    )
    lines = result.out.splitlines()
    assert result.code == 1
    assert lines[0] == "### :x: cloud-config verify failed"
    assert "**4 error(s)**, 0 warning(s)." in lines[2]
    rows = [ln for ln in lines if ln.startswith("| :")]
    assert len(rows) == 4 and any(r.startswith("| :x: | `departed-cert` |") for r in rows)


def test_markdown_when_passing(cli: Cli, prepared: ChainRepo) -> None:
    result = cli(
        "verify", "--repo", str(prepared.repo), "--base", "csrs-p2", "--head", "certs", "--format", "markdown"
    )
    assert result.code == 0
    assert result.out.startswith("### :white_check_mark: cloud-config verify passed")
    assert "|" not in result.out


def test_text_is_one_line_per_finding_and_a_verdict(cli: Cli, chain: ChainRepo) -> None:
    _attack(chain)
    result = cli("verify", "--repo", str(chain.repo), "--base", "certs", "--head", "HEAD")
    lines = result.out.splitlines()
    assert result.code == 1 and len(lines) == 5
    assert lines[0].startswith("error: certs/node2/cert.pem: node 'node2' was removed")  # departed-cert
    assert lines[1].startswith("error: chain_config.toml: node_network_address_list: commit ")
    assert lines[1].endswith("removes node node2, which belongs to 'p2' [not-owner]")
    assert lines[-1].endswith("FAILED (4 error(s), 0 warning(s))")


def test_real_process_exit_codes(chain: ChainRepo) -> None:
    ok = run_process("verify", "--base", "csrs-p2", "--head", "certs", cwd=chain.repo)
    assert ok.code == 0 and ok.out.endswith("passed (0 error(s), 0 warning(s))\n")
    chain.pr("certs")
    chain.run("set-stage", "--stage", "public", "--force")
    chain.commit("back to public", "admin")
    bad = run_process("verify", "--base", "certs", "--head", "HEAD", cwd=chain.repo)
    assert bad.code == 1 and "[stage-backwards]" in bad.out


def test_an_old_commit_merges_as_nothing(prepared: ChainRepo) -> None:
    """head `init` is already in base `certs`: merging it changes nothing; behind, so a warning."""
    old = run_process("verify", "--base", "certs", "--head", "init", cwd=prepared.repo)
    assert old.code == 0 and "[stale-branch]" in old.out and "verdict is for the merge result" in old.out


def test_unknown_revision_is_a_usage_error(cli: Cli, prepared: ChainRepo) -> None:
    result = cli("verify", "--repo", str(prepared.repo), "--base", "no-such-tag", "--head", "HEAD")
    assert result.code == 2
    assert result.err.startswith("error: --base: 'no-such-tag' is not a commit in ")
    assert result.err.count("\n") == 1 and result.out == ""


def test_not_a_repo_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    result = cli("verify", "--repo", str(tmp_path), "--base", "a", "--head", "b")
    assert result.code == 2 and result.err == f"error: --repo: {tmp_path} is not a git repository\n"


def test_missing_flag_and_bad_format_exit_2(cli: Cli, prepared: ChainRepo) -> None:
    assert cli("verify", "--repo", str(prepared.repo), "--base", "init").code == 2
    result = cli(
        "verify", "--repo", str(prepared.repo), "--base", "init", "--head", "HEAD", "--format", "xml"
    )
    assert result.code == 2 and "--format: invalid choice 'xml'" in result.err


def test_chain_name_flag_is_used_for_certificate_names(cli: Cli, prepared: ChainRepo) -> None:
    args = (
        "verify",
        "--repo",
        str(prepared.repo),
        "--base",
        "csrs-p2",
        "--head",
        "certs",
        "--format",
        "json",
    )
    report = json.loads(cli(*args, "--chain-name", "other-chain").out)
    wrong = {(f["rule"], f["path"]) for f in report["findings"]}
    assert ("cert-wrong-name", "certs/node0/cert.pem") in wrong
    assert ("csr-invalid", "certs/node3/csr.pem") in wrong


def test_unreadable_head_is_a_schema_error(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    chain.edit_config("[genesis_block]", "[genesis_block")
    chain.commit("typo", "admin")
    report = assert_fails_with(cli, chain, "certs", "schema")
    assert report["findings"][0]["path"] == "chain_config.toml"
    assert "not valid TOML" in report["findings"][0]["message"]


def test_missing_chain_config_is_a_schema_error(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    (chain.repo / "chain_config.toml").unlink()
    chain.commit("gone", "admin")
    assert_fails_with(cli, chain, "certs", "schema")


def test_bad_validator_length_is_a_schema_error(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("members")
    chain.edit_config("validators = []", 'validators = ["' + "ab" * 20 + '"]')
    chain.commit("a raft-sized validator on overlord", "admin")
    report = assert_fails_with(cli, chain, "members", "schema")
    assert report["findings"][0]["field"] == "system_config.validators[0]"


def test_duplicate_validator_and_endpoint(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("validators-p1")
    chain.run("set-validators", "--validators", "00" * 48)
    chain.edit_config('"' + "00" * 48 + '"', '"' + "00" * 48 + '", "' + "00" * 48 + '"')
    chain.commit("twice", "admin")
    assert_fails_with(cli, chain, "validators-p1", "duplicate-validator")


def test_duplicate_host_and_port(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    chain.edit_config(
        'host = "www.node1.com"\nname_space = "default"\nport = 40001',
        'host = "www.node0.com"\nname_space = "default"\nport = 40000',
    )
    chain.commit("node1 on node0's address", "p1")
    assert_fails_with(cli, chain, "certs", "duplicate-endpoint")


def test_weakened_gitignore_is_a_warning(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    (chain.repo / ".gitignore").write_text("accounts/*/\nca_cert/key.pem\n**/key.pem\n")
    chain.commit("other patterns", "admin")
    code, report = verify_json(cli, chain, "certs")
    assert code == 0
    assert [(f["rule"], f["severity"]) for f in report["findings"]] == [("gitignore-weakened", "warning")]


def test_gitignore_dropped_lets_keys_in(cli: Cli, chain: ChainRepo) -> None:
    """Without the ignore lines, `git add -A` picks up the TLS and CA keys lying in the folder."""
    chain.pr("certs")
    (chain.repo / ".gitignore").write_text("accounts/*/\n")
    chain.commit("less ignoring", "admin")
    report = assert_fails_with(cli, chain, "certs", "secret-committed")
    paths = {f["path"] for f in report["findings"] if f["rule"] == "secret-committed"}
    assert paths == {"ca_cert/key.pem", *(f"certs/node{i}/key.pem" for i in range(4))}


def test_without_members_toml_signatures_are_not_required(cli: Cli, tmp_path: Path) -> None:
    """A chain repo that never registered members: the signature rules stay off."""
    cli("init-chain", "--chain-name", CHAIN, "--config-dir", str(tmp_path))
    cli("init-chain-config", "--chain-name", CHAIN, "--config-dir", str(tmp_path))
    repo = tmp_path / CHAIN
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "init"], check=True)
    cli("set-admin", "--chain-name", CHAIN, "--config-dir", str(tmp_path), "--admin", "ab" * 20)
    subprocess.run(["git", "-C", str(repo), "commit", "-qam", "admin"], check=True)
    result = cli("verify", "--repo", str(repo), "--base", "HEAD~1", "--head", "HEAD")
    assert result.code == 0, result.out


def test_broken_members_toml_at_head(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    chain.edit_config('role = "member"', 'role = "owner"', path="members.toml")
    chain.commit("promote myself", "admin")
    report = assert_fails_with(cli, chain, "certs", "members-invalid")
    assert "must be admin or member" in report["findings"][0]["message"]


def test_branch_behind_its_base_is_a_warning(cli: Cli, chain: ChainRepo) -> None:
    """The target branch moved on (node0 moved) after the PR branched from `certs`."""
    chain.git("checkout", "-q", "-b", "main-ahead", "certs")
    chain.edit_config('host = "www.node0.com"', 'host = "10.0.0.10"')
    chain.commit("move node0", "p1")
    chain.pr("certs")
    chain.edit_config('host = "www.node2.com"', 'host = "10.0.0.12"')
    chain.commit("move node2", "p2")
    code, report = verify_json(cli, chain, "main-ahead")
    assert code == 0
    assert [(f["rule"], f["path"]) for f in report["findings"]] == [("stale-branch", "commit")]


def test_parsing_the_gate_verbs_imports_nothing_heavy() -> None:
    """The gate's rules and the crypto libraries load only when verify, diff or member runs."""
    code = (
        "import sys; from cloud_config.cli.main import build_parser\n"
        "for argv in (['verify'], ['diff'], ['member', 'add'], ['member', 'list'], []):\n"
        "    build_parser(argv)\n"
        "heavy = ('cryptography', 'tomllib', 'cloud_config.gate', 'cloud_config.pipeline',\n"
        "         'cloud_config.model.members')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env={"PYTHONPATH": str(SRC)}, capture_output=True, text=True, check=True
    )
    assert done.stdout == "[]\n"


def test_every_rule_is_documented() -> None:
    """docs/verify.md's rule table lists every rule id of findings.RULES."""
    from cloud_config.gate.findings import RULES

    docs = (Path(__file__).resolve().parents[2] / "docs" / "verify.md").read_text()
    assert [rule for rule in RULES if f"| `{rule}` |" not in docs] == []
