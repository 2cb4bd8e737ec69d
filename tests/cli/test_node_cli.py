"""init-node, update-node and update-yaml through the `cloud-config` command, on fixture chains."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

from cloud_config.model.paths import ChainLayout
from tests.support.render import CHAIN, account, make_chain, make_node, snapshot


def _init(cli, layout: ChainLayout, domain: str, *extra: str):
    return cli(
        "init-node",
        "--config-dir",
        str(layout.config_dir),
        "--domain",
        domain,
        "--account",
        "0x" + account(domain)["node_address"],
        *extra,
    )


def _verb(cli, layout: ChainLayout, verb: str, domain: str, *extra: str):
    return cli(verb, "--config-dir", str(layout.config_dir), "--domain", domain, *extra)


def test_init_node_copies_only_the_nodes_own_material(cli, tmp_path: Path) -> None:
    layout = make_chain(tmp_path)
    result = _init(cli, layout, "node0")
    assert result.code == 0, result.err
    node_dir = layout.node_dir("node0")
    files = set(snapshot(node_dir))
    mine = account("node0")["node_address"]
    assert {
        f"accounts/{mine}/private_key",
        "ca_cert/cert.pem",
        "certs/node0/key.pem",
        "certs/node0/cert.pem",
        "node_config.toml",
        "chain_config.toml",
    } <= files
    assert not any(f.startswith("accounts/") and mine not in f for f in files)
    assert "ca_cert/key.pem" not in files and not any("node1" in f for f in files)
    for secret in (f"accounts/{mine}/private_key", "certs/node0/key.pem"):
        assert stat.S_IMODE((node_dir / secret).stat().st_mode) == 0o600
    node = tomllib.loads((node_dir / "node_config.toml").read_text())
    assert node["account"] == mine and node["exporter"]["chain_name"] == CHAIN


def test_init_node_refuses_bad_input_and_writes_nothing(cli, tmp_path: Path) -> None:
    layout = make_chain(tmp_path)
    before = snapshot(tmp_path)
    cases = [
        (("init-node", "--domain", "node9", "--account", account("node0")["node_address"]), "node9"),
        (("init-node", "--domain", "node0", "--account", "ab" * 20), "--account"),
        (
            (
                "init-node",
                "--domain",
                "node0",
                "--account",
                account("node0")["node_address"],
                "--log-level",
                "warning",  # consensus_raft's spelling: the tracing services of overlord refuse it
            ),
            "--log-level",
        ),
        (("init-node", "--domain", "node0", "--account", "xyz"), "--account"),
    ]
    for args, needle in cases:
        result = cli(*args, "--config-dir", str(tmp_path))
        assert result.code != 0
        assert result.err.startswith("error: ") and needle in result.err, result.err
        assert len(result.err.strip().splitlines()) == 1
        assert snapshot(tmp_path) == before
    (layout.cert_dir("node0") / "cert.pem").unlink()
    before = snapshot(tmp_path)
    result = _init(cli, layout, "node0")
    assert result.code == 1 and "cert.pem" in result.err and "sign-csr" in result.err
    assert snapshot(tmp_path) == before


def test_update_node_renders_from_the_current_chain_config(cli, tmp_path: Path) -> None:
    layout = make_chain(tmp_path)
    assert _init(cli, layout, "node0").code == 0
    assert _verb(cli, layout, "update-node", "node0").code == 0
    node_dir = layout.node_dir("node0")
    config = tomllib.loads((node_dir / "config.toml").read_text())
    assert [p["domain"] for p in config["network_zenoh"]["peers"]] == [
        f"{CHAIN}-node{i}" for i in (1, 2, 3, 4)
    ]
    assert stat.S_IMODE((node_dir / "config.toml").stat().st_mode) == 0o600
    assert (node_dir / "private_key").read_text() == account("node0")["private_key"]
    # A node appended to the chain folder later reaches node0 without copying chain_config.toml.
    assert cli("append-node", "--config-dir", str(tmp_path), "--node", "5.5.5.5:40005:node5").code == 0
    assert _verb(cli, layout, "update-node", "node0").code == 0
    config = tomllib.loads((node_dir / "config.toml").read_text())
    assert config["network_zenoh"]["peers"][-1] == {
        "domain": f"{CHAIN}-node5",
        "port": 40000,
        "protocol": "quic",
    }
    assert (node_dir / "chain_config.toml").read_bytes() == layout.chain_config.read_bytes()


def test_update_node_refuses_a_node_no_longer_listed(cli, tmp_path: Path) -> None:
    layout = make_chain(tmp_path)
    make_node(layout, "node1")
    assert cli("delete-node", "--config-dir", str(tmp_path), "--domain", "node1").code == 0
    before = snapshot(tmp_path)
    result = _verb(cli, layout, "update-node", "node1")
    assert result.code == 1
    assert result.err == "error: node node1 is no longer in the chain's node list\n"
    assert snapshot(tmp_path) == before


def test_update_yaml_saves_settings_and_flags_override(cli, tmp_path: Path) -> None:
    layout = make_chain(tmp_path)
    node_dir = make_node(layout, "node0")
    result = _verb(cli, layout, "update-yaml", "node0", "--storage-class", "nfs-client", "--enable-debug")
    assert result.code == 0, result.err
    saved = tomllib.loads((node_dir / "node_config.toml").read_text())["deployment"]
    assert saved["storage_class"] == "nfs-client" and saved["enable_debug"] is True
    assert "storageClassName: nfs-client" in (node_dir / "yamls/statefulset.yaml").read_text()
    # A later render needs no flags; a flag given overrides and is saved.
    assert _verb(cli, layout, "update-yaml", "node0", "--limits-cpu", "2").code == 0
    saved = tomllib.loads((node_dir / "node_config.toml").read_text())["deployment"]
    assert saved["storage_class"] == "nfs-client" and saved["limits_cpu"] == "2"
    assert _verb(cli, layout, "update-yaml", "node0", "--no-enable-debug").code == 0
    assert "name: debug" not in (node_dir / "yamls/statefulset.yaml").read_text()
    # Another namespace is reached through the cluster's DNS domain (cluster.local unless saved).
    external = node_dir / "yamls/node2-external-svc.yaml"
    assert f"externalName: {CHAIN}-node2.cita.svc.cluster.local\n" in external.read_text()
    assert _verb(cli, layout, "update-yaml", "node0", "--cluster-domain", "corp.example").code == 0
    assert f"externalName: {CHAIN}-node2.cita.svc.corp.example\n" in external.read_text()
    # --legacy-configmaps switches to cloud-config's ConfigMaps, and the Secrets' files go away.
    assert _verb(cli, layout, "update-yaml", "node0", "--legacy-configmaps").code == 0
    names = sorted(p.name for p in (node_dir / "yamls").iterdir())
    assert "cm-account.yaml" in names and not any(n.startswith("secret-") for n in names)
    assert _verb(cli, layout, "update-yaml", "node0", "--no-legacy-configmaps").code == 0
    assert not list((node_dir / "yamls").glob("cm-*.yaml"))
    # update-node now renders the same manifests (one code path): nothing changes.
    before = snapshot(node_dir)
    assert _verb(cli, layout, "update-node", "node0").code == 0
    assert snapshot(node_dir) == before


def test_update_yaml_refuses_bad_input_and_writes_nothing(cli, tmp_path: Path) -> None:
    layout = make_chain(tmp_path)
    make_node(layout, "node0")
    make_node(layout, "node3")
    before = snapshot(tmp_path)
    for domain, extra, needle in [
        ("node0", (), "--storage-class: is required"),
        ("node0", ("--storage-class", "nfs", "--pull-policy", "Sometimes"), "--pull-policy"),
        ("node0", ("--storage-class", "nfs", "--storage-capacity", "ten"), "--storage-capacity"),
        ("node3", ("--storage-class", "nfs"), "not a k8s node"),
    ]:
        result = _verb(cli, layout, "update-yaml", domain, *extra)
        assert result.code != 0 and result.err.startswith("error: ") and needle in result.err, result.err
        assert snapshot(tmp_path) == before


def test_update_node_refuses_mismatched_key_material(cli, tmp_path: Path) -> None:
    layout = make_chain(tmp_path)
    node_dir = make_node(layout, "node0")
    (layout.cert_dir("node0") / "cert.pem").write_bytes((layout.cert_dir("node1") / "cert.pem").read_bytes())
    before = snapshot(tmp_path)
    result = _verb(cli, layout, "update-node", "node0")
    assert result.code == 1 and result.err.startswith(f"error: {layout.cert_dir('node0') / 'cert.pem'}: ")
    assert "test-chain-node0" in result.err and len(result.err.splitlines()) == 1
    assert snapshot(tmp_path) == before
    layout = make_chain(tmp_path / "second")
    node_dir = make_node(layout, "node0")
    key_file = node_dir / "accounts" / account("node0")["node_address"] / "private_key"
    key_file.write_text(account("node1")["private_key"])
    before = snapshot(tmp_path)
    result = _verb(cli, layout, "update-node", "node0")
    assert result.code == 1 and "do not belong to private_key" in result.err
    assert account("node1")["private_key"] not in result.err
    assert snapshot(tmp_path) == before
