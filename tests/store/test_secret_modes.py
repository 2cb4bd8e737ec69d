"""Every secret file of a node folder is 0600 in 0700 folders, whoever wrote it last.

Walked after init-node, update-node, update-yaml, append and delete (the real command line), and
in reconcile's clone of the node repo (real git, umask 022: a clone gives every file mode 0644),
including after a reset that restores deleted key files.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloud_config import git
from tests.support.cli import run_process

CHAIN = "modes-chain"


@pytest.fixture(autouse=True)
def _umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _is_secret(rel: Path) -> bool:
    name = rel.as_posix()
    return (
        rel.parts[0] == "accounts"
        or rel.name == "key.pem"
        or name in ("config.toml", "private_key")
        or (rel.parts[0] == "yamls" and rel.name.startswith("secret-"))
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def assert_secrets_private(node_dir: Path, key_texts: list[str]) -> int:
    """Every secret file 0600 and each folder from it up to `node_dir` 0700; returns how many.

    A file holding any of `key_texts` (key material) must be one of the secret files.
    """
    assert _mode(node_dir) == 0o700, node_dir
    found = 0
    for top, dirs, names in os.walk(node_dir):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in names:
            path = Path(top) / name
            rel = path.relative_to(node_dir)
            data = path.read_bytes()
            holds_key = any(k.encode() in data for k in key_texts)
            if not (_is_secret(rel) or holds_key):
                continue
            assert _is_secret(rel), f"{rel} holds key material but is not a known secret file"
            assert _mode(path) == 0o600, (rel, oct(_mode(path)))
            for parent in rel.parents:
                if parent.parts:
                    assert _mode(node_dir / parent) == 0o700, (parent, oct(_mode(node_dir / parent)))
            found += 1
    return found


def _key_texts(node_dir: Path, domain: str) -> list[str]:
    account = next((node_dir / "accounts").iterdir())
    pem = (node_dir / "certs" / domain / "key.pem").read_text().splitlines()
    return [(account / "private_key").read_text(), max(pem, key=len)]


def test_secret_modes_after_every_writer(cli, tmp_path: Path) -> None:
    def run(*args: str) -> str:
        result = cli(*args, "--chain-name", CHAIN, "--config-dir", str(tmp_path))
        assert result.code == 0, (args, result.err)
        return str(result.out)

    run("init-chain")
    run("init-chain-config", "--consensus_image", "consensus_raft")
    run("set-admin", "--admin", run("new-account").split()[1])
    account = run("new-account").split()
    run("append-validator", "--validator", account[3])
    run("set-stage")
    run("append-node", "--node", "www.node0.com:40000:node0:k8s")
    run("create-ca")
    run("create-csr", "--domain", "node0")
    run("sign-csr", "--domain", "node0")
    run("init-node", "--domain", "node0", "--account", account[1])
    node0 = tmp_path / f"{CHAIN}-node0"
    keys = _key_texts(node0, "node0")
    # accounts/<a>/{private_key,node_address,validator_address} and certs/node0/key.pem
    assert assert_secrets_private(node0, keys) == 4
    run("update-node", "--domain", "node0")
    run("update-yaml", "--domain", "node0", "--storage-class", "nfs-client")
    # + config.toml, private_key, yamls/secret-config.yaml, yamls/secret-account.yaml
    assert assert_secrets_private(node0, keys) == 8

    run("append", "--node", "www.node1.com:40000:node1:k8s")
    node1 = tmp_path / f"{CHAIN}-node1"
    assert assert_secrets_private(node1, _key_texts(node1, "node1")) >= 6
    assert assert_secrets_private(node0, keys) == 8
    run("delete", "--domain", "node1")
    assert not node1.exists()
    assert assert_secrets_private(node0, keys) == 8

    # The node folder and the chain folder as repositories, then reconcile from a real process.
    forge = tmp_path / "forge"
    for folder, name in ((tmp_path / CHAIN, "chain.git"), (node0, "node0.git")):
        git.init(forge / name, bare=True)
        git.init(folder)
        git.commit_all(folder, "init")
        git.run(folder, "push", "-q", str(forge / name), "master")
    work = tmp_path / "work"

    def reconcile() -> Path:
        result = run_process(
            "reconcile",
            "--chain-repo", str(forge / "chain.git"),
            "--node-repo", str(forge / "node0.git"),
            "--domain", "node0",
            "--workdir", str(work),
            "--trust-root", git.rev_parse(forge / "chain.git", "master"),
        )  # fmt: skip
        assert result.code == 0, result.err
        (cache,) = work.iterdir()
        assert _mode(cache) == 0o700  # the clone's .git holds the keys too
        return cache / "node"

    clone = reconcile()
    assert assert_secrets_private(clone, keys) == 8

    # A reset restores files with the umask's mode: delete the keys, reconcile again.
    for rel in ("certs/node0/key.pem", f"accounts/{account[1]}/private_key", "config.toml"):
        (clone / rel).unlink()
    assert reconcile() == clone
    assert assert_secrets_private(clone, keys) == 8
