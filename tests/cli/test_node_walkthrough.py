"""The walkthrough's step 9 after steps 1-8, every command as a user types it, and a real process."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import yaml

from tests.support.cli import run_process

CHAIN = "gitops-test-chain"


def test_walkthrough_step_9_as_typed(cli, tmp_path: Path) -> None:
    def run(*args: str) -> str:
        result = cli(*args, "--chain-name", CHAIN, "--config-dir", str(tmp_path))
        assert result.code == 0, (args, result.err)
        return str(result.out)

    run("init-chain")
    run("init-chain-config")
    admin = run("new-account").split()[1]
    run("set-admin", "--admin", admin)
    accounts = [run("new-account").split() for _ in range(2)]
    for words in accounts:
        run("append-validator", "--validator", words[3])
    run("set-stage")
    run("append-node", "--node", "www.node0.com:40000:node0:k8s")
    run("append-node", "--node", "www.node1.com:40000:node1:k8s")
    run("create-ca")
    for domain in ("node0", "node1"):
        run("create-csr", "--domain", domain)
        run("sign-csr", "--domain", domain)
    node_address = accounts[0][1]
    run("init-node", "--domain", "node0", "--account", node_address)
    run("update-node", "--domain", "node0")
    run("update-yaml", "--domain", "node0", "--storage-class", "nfs-client")

    node_dir = tmp_path / f"{CHAIN}-node0"
    config = tomllib.loads((node_dir / "config.toml").read_text())
    assert config["network_zenoh"]["peers"] == [
        {"domain": f"{CHAIN}-node1", "port": 40000, "protocol": "quic"}
    ]
    assert config["system_config"]["validators"] == [w[3] for w in accounts]
    assert (node_dir / "node_address").read_text() == node_address
    for secret in ("config.toml", "private_key", "yamls/secret-account.yaml", "yamls/secret-config.yaml"):
        assert stat.S_IMODE((node_dir / secret).stat().st_mode) == 0o600, secret
    # www.node1.com is the same cluster ("k8s") and namespace: no external resource.
    assert sorted(p.name for p in (node_dir / "yamls").iterdir()) == [
        "networkpolicy.yaml",
        "node-svc.yaml",
        "pdb.yaml",
        "rpc-svc.yaml",
        "secret-account.yaml",
        "secret-config.yaml",
        "serviceaccount.yaml",
        "statefulset.yaml",
    ]
    kustomization = yaml.safe_load((node_dir / "kustomization.yaml").read_text())
    assert kustomization["resources"] == [
        "yamls/statefulset.yaml",
        "yamls/node-svc.yaml",
        "yamls/rpc-svc.yaml",
        "yamls/serviceaccount.yaml",
        "yamls/secret-config.yaml",
        "yamls/secret-account.yaml",
        "yamls/pdb.yaml",
        "yamls/networkpolicy.yaml",
    ]
    # Same inputs, same bytes: a re-render in another process (another hash seed) changes nothing.
    before_tree = {p: p.read_bytes() for p in node_dir.rglob("*") if p.is_file()}
    again = run_process(
        "update-node",
        "--chain-name",
        CHAIN,
        "--config-dir",
        str(tmp_path),
        "--domain",
        "node0",
        env={"PYTHONHASHSEED": "12345"},
    )
    assert again.code == 0, again.err
    assert {p: p.read_bytes() for p in node_dir.rglob("*") if p.is_file()} == before_tree
    # Step 10's pipeline re-runs init-node: the saved deployment settings survive it.
    run("init-node", "--domain", "node0", "--account", node_address)
    assert (
        tomllib.loads((node_dir / "node_config.toml").read_text())["deployment"]["storage_class"]
        == "nfs-client"
    )
    run("update-node", "--domain", "node0")
    assert {p: p.read_bytes() for p in node_dir.rglob("*") if p.is_file()} == before_tree
    # Step 12: a third participant joins; node0's next render (the pipeline's job) follows.
    run("append-node", "--node", "www.node2.com:60000:node2:k8s2")
    before = (node_dir / "config.toml").read_bytes()
    run("update-node", "--domain", "node0")
    assert (node_dir / "config.toml").read_bytes() != before
    assert (node_dir / "yamls" / "node2-external-svc.yaml").exists()
    # The chain folder never receives node secrets.
    chain_files = {p.name for p in (tmp_path / CHAIN).rglob("*")}
    assert "config.toml" not in chain_files and "yamls" not in chain_files


def test_update_node_as_a_real_process(cli, tmp_path: Path) -> None:
    nodes = "1.1.1.1:40000:a:k8s,2.2.2.2:40001:b"
    assert cli("create", "--config-dir", str(tmp_path), "--admin", "ab" * 20, "--nodelist", nodes).code == 0
    config = tmp_path / "test-chain-b" / "config.toml"
    config.unlink()
    result = run_process("update-node", "--config-dir", str(tmp_path), "--domain", "b")
    assert result.code == 0 and result.out == "", result.err
    assert result.err == "update-node: node b: 1 file(s) written, 0 removed\n"
    assert tomllib.loads(config.read_text())["network_zenoh"]["grpc_port"] == 50100
    bad = run_process("update-yaml", "--config-dir", str(tmp_path), "--domain", "b", "--storage-class", "x")
    assert (
        bad.code == 1
        and bad.err == "error: --domain: node b is not a k8s node (2.2.2.2:40001:b has no cluster)\n"
    )
