"""The chain folder as a git repository: after the walkthrough's steps 1-8, `git add -A` stages no secret."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

from cloud_config.model.paths import ChainLayout
from cloud_config.store.atomic import write_secret
from cloud_config.store.pki_files import stage_key
from tests.support.cli import run_process

CHAIN = "gitops-test-chain"
TAGS = [f"--{s}_tag=v6.4.0" for s in ("consensus", "controller", "executor", "kms", "network", "storage")]


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout


def _cc(cwd: Path, *args: str) -> str:
    """One walkthrough command, run as the users run it (a real process in the config folder)."""
    result = run_process(*args, "--chain-name", CHAIN, cwd=cwd)
    assert result.code == 0, f"{args}: {result.err}"
    return result.out


def _address(line: str, which: str) -> str:
    words = line.split()
    return words[words.index(f"{which}:") + 1]


def _walkthrough_steps_1_to_8(root: Path) -> list[str]:
    """Run the walkthrough's commands; return every private key hex the accounts hold."""
    _cc(root, "init-chain")
    _cc(root, "init-chain-config", *TAGS)
    _git(root / CHAIN, "init")
    _git(root / CHAIN, "add", ".gitignore", "accounts/", "ca_cert/", "certs/", "chain_config.toml")
    _git(root / CHAIN, "commit", "-qm", "init chain")
    admin = _cc(root, "new-account")
    _cc(root, "set-admin", "--admin", _address(admin, "node_address"))
    for _ in ("node0", "node1"):
        _cc(root, "append-validator", "--validator", _address(_cc(root, "new-account"), "validator_address"))
    _cc(root, "set-stage")
    for domain, port in (("node0", 40000), ("node1", 40001)):
        _cc(root, "append-node", "--node", f"www.{domain}.com:{port}:{domain}:k8s")
    _cc(root, "create-ca")
    for domain in ("node0", "node1"):
        _cc(root, "create-csr", "--domain", domain)
    for domain in ("node0", "node1"):
        _cc(root, "sign-csr", "--domain", domain)
    return [p.read_text() for p in (root / CHAIN / "accounts").glob("*/private_key")]


def test_no_private_key_is_staged_after_walkthrough_steps_1_to_8(tmp_path: Path) -> None:
    repo = tmp_path / CHAIN
    keys = _walkthrough_steps_1_to_8(tmp_path)
    assert len(keys) == 3
    _git(repo, "add", "-A")
    staged = sorted(_git(repo, "diff", "--cached", "--name-only", "HEAD").split())
    tracked = _git(repo, "ls-files", "-z").split("\0")
    # The public files do go into the PR ...
    assert {"ca_cert/cert.pem", "chain_config.toml"} <= set(tracked)
    for domain in ("node0", "node1"):
        assert {f"certs/{domain}/csr.pem", f"certs/{domain}/cert.pem"} <= set(staged)
    # ... and no secret does, by name or by content.
    for path in filter(None, tracked):
        in_accounts = path.startswith("accounts/") and path != "accounts/.gitkeep"
        secret_name = path.endswith("key.pem") or in_accounts
        assert not secret_name, path
        text = (repo / path).read_text(errors="replace")
        assert "PRIVATE KEY" not in text, path
        assert not any(key in text for key in keys), path
    on_disk = {"ca_cert/key.pem", "certs/node0/key.pem", "certs/node1/key.pem"}
    assert all((repo / p).exists() for p in on_disk)
    assert not on_disk & set(tracked)


def test_key_writes_killed_half_way_leave_nothing_git_would_stage(tmp_path: Path) -> None:
    """Keys are staged where cloud-config 6.7.4's own .gitignore already looks.

    A kill -9 between writing a key and renaming it into place leaves the staged copy behind:
    `certs/.<random>.partial/key.pem` for TLS keys, `accounts/.<addr>.<random>.partial/` for accounts.
    """
    _cc(tmp_path, "init-chain")
    repo = tmp_path / CHAIN
    assert (repo / ".gitignore").read_text() == "accounts/*/\nca_cert/key.pem\ncerts/*/key.pem\n"
    _git(repo, "init")
    where = ChainLayout(tmp_path, CHAIN)
    staged_key = stage_key(where, b"-----BEGIN PRIVATE KEY-----\n")
    account_staging = where.accounts_dir / f".{'ab' * 20}.x1y2.partial"
    write_secret(account_staging / "private_key", b"11" * 32)
    assert staged_key.exists() and stat.S_IMODE(staged_key.stat().st_mode) == 0o600
    _git(repo, "add", "-A")
    assert sorted(_git(repo, "ls-files").split()) == [
        ".gitignore",
        "accounts/.gitkeep",
        "ca_cert/.gitkeep",
        "certs/.gitkeep",
    ]
