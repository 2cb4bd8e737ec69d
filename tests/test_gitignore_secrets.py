"""The chain folder as a git repository: after the walkthrough's steps 1-8, `git add -A` stages no secret."""

from __future__ import annotations

import subprocess
from pathlib import Path

from conftest import run_process

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


def test_a_key_write_left_behind_by_a_crash_is_ignored(tmp_path: Path) -> None:
    """atomic.write_secret stages `.key.pem.<random>.tmp` beside the key; a kill -9 could leave it."""
    _cc(tmp_path, "init-chain")
    repo = tmp_path / CHAIN
    _git(repo, "init")
    leftovers = [
        repo / "ca_cert" / ".key.pem.k2j4h5.tmp",
        repo / "certs" / "node0" / ".key.pem.abc123.tmp",
        repo / "accounts" / ".097913007f2c8d9ac87f89664fc70977fee6bf9a.x1y2.partial" / "private_key",
    ]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("-----BEGIN PRIVATE KEY-----\n")
    _git(repo, "add", "-A")
    assert sorted(_git(repo, "ls-files").split()) == [
        ".gitignore",
        "accounts/.gitkeep",
        "ca_cert/.gitkeep",
        "certs/.gitkeep",
    ]
