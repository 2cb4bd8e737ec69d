"""What an SRE checks before deploying update-yaml's output: Pod Security "restricted", labels,
probes, the PDB, the config rollout rule, exposure to other clusters, pinned images, per-service
resources. Everything goes through the `cloud-config` command on real files; every rendered object
is validated with kubernetes-validate --strict and the node repo root built with kubectl kustomize.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from cloud_config.app.node import load_inputs
from cloud_config.model.node import Deployment
from cloud_config.model.paths import ChainLayout
from cloud_config.render import k8s
from cloud_config.render.config_toml import render_config_toml
from cloud_config.render.inputs import NodeInputs
from tests.support.pod_security import restricted
from tests.support.render import CHAIN, make_chain, make_node, snapshot

ROOT = Path(__file__).resolve().parents[2]
UPGRADE = ROOT / "tests" / "data" / "upgrade"
# node0 here, node1 in another cluster by IP, node2 in another cluster by name; NodePort-range ports.
NODES = "10.0.0.1:30100:node0:k8s,203.0.113.7:30101:node1:east,peer2.example.org:30102:node2:west"
RECOMMENDED = {
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
}
Docs = dict[str, dict[str, Any]]


def _kubectl() -> str:
    local = Path(sys.executable).parent / "kubectl"
    return str(local) if local.exists() else "kubectl"


def kustomize(folder: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize FOLDER`, every document validated with kubernetes-validate --strict."""
    done = subprocess.run([_kubectl(), "kustomize", str(folder)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    docs = [d for d in yaml.safe_load_all(done.stdout) if d]
    for doc in docs:
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)
    return docs


def _by_kind(docs: list[dict[str, Any]]) -> Docs:
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in docs}


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> ChainLayout:
    layout = make_chain(tmp_path_factory.mktemp("three"), NODES)
    for domain in ("node0", "node1", "node2"):
        make_node(layout, domain)
    return layout


def _yaml(cli, layout: ChainLayout, domain: str, *flags: str):
    return cli("update-yaml", "--config-dir", str(layout.config_dir), "--domain", domain, *flags)


@pytest.fixture(scope="module")
def node0(three: ChainLayout) -> Docs:
    """node0 exposed as a NodePort, with per-service resources, built with kubectl kustomize."""
    from cloud_config.cli.main import main

    code = main([
        "update-yaml", "--config-dir", str(three.config_dir), "--domain", "node0",
        "--storage-class", "sc", "--expose", "nodeport",
        "--resources", "controller:limits_memory=2Gi,requests_memory=1Gi",
    ])  # fmt: skip
    assert code == 0
    return _by_kind(kustomize(three.node_dir("node0")))


def _pod(docs: Docs) -> dict[str, Any]:
    pod: dict[str, Any] = docs[f"StatefulSet/{CHAIN}-node0"]["spec"]["template"]["spec"]
    return pod


def test_pods_pass_the_restricted_profile_field_by_field(node0: Docs, tmp_path: Path) -> None:
    assert restricted(_pod(node0)) == []
    # Every variant of the pod: debug container, legacy ConfigMaps, no probes, writable root fs.
    layout = make_chain(tmp_path)
    variants = {
        "node0": Deployment(storage_class="sc", enable_debug=True),
        "node1": Deployment(storage_class="sc", legacy_configmaps=True, disable_health_check=True),
    }
    for domain, deployment in variants.items():
        make_node(layout, domain, deployment=deployment, log_file_path="/var/log/cita")
        pod = k8s.statefulset(_inputs(layout, domain), "")["spec"]["template"]["spec"]
        assert restricted(pod) == [], domain
        # Log files outside /data and /tmp get a writable emptyDir (the root file system is read-only).
        assert {"emptyDir": {"sizeLimit": "1Gi"}, "name": "logs"} in pod["volumes"]
        for c in pod["containers"]:
            assert {"mountPath": "/var/log/cita", "name": "logs"} in c["volumeMounts"]


def test_the_profile_check_can_fail_on_6_7_4s_pod() -> None:
    """The StatefulSet the first release rendered (tests/data/upgrade) breaks the profile where
    the issue says: the hostPath, and no container securityContext at all."""
    old = yaml.safe_load((UPGRADE / "test-chain-node0/yamls/statefulset.yaml").read_text())
    found = restricted(old["spec"]["template"]["spec"])
    assert "spec.volumes[2].hostPath must be unset" in found
    assert "spec.containers[0](network).securityContext.allowPrivilegeEscalation must be false" in found
    assert "spec.containers[0](network).securityContext.capabilities.drop must include ALL" in found
    assert "spec.containers[0](network): runAsNonRoot must be true (on the pod or the container)" in found
    assert "spec.containers[0](network): seccompProfile.type must be RuntimeDefault or Localhost" in found


def _inputs(layout: ChainLayout, domain: str) -> NodeInputs:
    return load_inputs(layout.chain_dir, layout.node_dir(domain), CHAIN, domain)


def test_every_object_has_the_recommended_labels_and_keeps_the_selector(node0: Docs) -> None:
    for name, doc in node0.items():
        labels = doc["metadata"].get("labels", {})
        assert set(labels) >= RECOMMENDED, name
        assert labels["app.kubernetes.io/managed-by"] == "cloud-config"
    sts = node0[f"StatefulSet/{CHAIN}-node0"]
    selector = {"app.kubernetes.io/chain-name": CHAIN, "app.kubernetes.io/chain-node": f"{CHAIN}-node0"}
    assert sts["spec"]["selector"] == {"matchLabels": selector}
    # The PDB and every Service of the node select exactly this node's pod.
    assert node0[f"PodDisruptionBudget/{CHAIN}-node0"]["spec"]["selector"] == {"matchLabels": selector}
    for name in (f"{CHAIN}-node0", f"{CHAIN}-node0-rpc", f"{CHAIN}-node0-nodeport"):
        assert node0[f"Service/{name}"]["spec"]["selector"] == selector


def test_probes_service_account_tz_and_resources(node0: Docs, three: ChainLayout) -> None:
    pod = _pod(node0)
    assert pod["serviceAccountName"] == f"{CHAIN}-node0" and pod["automountServiceAccountToken"] is False
    assert node0[f"ServiceAccount/{CHAIN}-node0"]["automountServiceAccountToken"] is False
    assert not any("hostPath" in v for v in pod["volumes"])
    for c in pod["containers"]:
        assert {"startupProbe", "readinessProbe", "livenessProbe"} <= set(c), c["name"]
        port = next(p["containerPort"] for p in c["ports"] if p["name"] == "grpc")
        assert c["readinessProbe"]["exec"]["command"] == ["grpc-health-probe", f"-addr=localhost:{port}"]
        assert {"name": "TZ", "value": "UTC"} in c["env"]
    resources = {c["name"]: c["resources"] for c in pod["containers"]}
    assert resources["controller"] == {
        "limits": {"cpu": "1000m", "memory": "2Gi"},
        "requests": {"cpu": "250m", "memory": "1Gi"},
    }
    assert resources["network"]["limits"]["memory"] == "1Gi"  # the shared default
    saved = tomllib.loads((three.node_dir("node0") / "node_config.toml").read_text())["deployment"]
    assert saved["resources"] == {"controller": {"limits_memory": "2Gi", "requests_memory": "1Gi"}}
    assert (saved["expose"], saved["pdb"], saved["timezone"]) == ("nodeport", True, "UTC")


def test_rpc_is_ready_pods_only_p2p_is_not(node0: Docs) -> None:
    assert node0[f"Service/{CHAIN}-node0"]["spec"]["publishNotReadyAddresses"] is True
    assert "publishNotReadyAddresses" not in node0[f"Service/{CHAIN}-node0-rpc"]["spec"]
    assert node0[f"Service/{CHAIN}-node0-nodeport"]["spec"]["publishNotReadyAddresses"] is True


@pytest.mark.usefixtures("node0")  # node0 rendered, whichever test of the module runs first
def test_pdb_default_zero_and_off(cli, three: ChainLayout) -> None:
    pdb = three.node_dir("node0") / "yamls" / "pdb.yaml"
    assert yaml.safe_load(pdb.read_text())["spec"]["maxUnavailable"] == 1
    try:
        assert _yaml(cli, three, "node0", "--pdb-max-unavailable", "0").code == 0
        assert yaml.safe_load(pdb.read_text())["spec"]["maxUnavailable"] == 0
        assert _yaml(cli, three, "node0", "--no-pdb").code == 0
        assert not pdb.exists()  # pruned, and no longer a kustomization resource
        assert "yamls/pdb.yaml" not in (three.node_dir("node0") / "kustomization.yaml").read_text()
    finally:
        assert _yaml(cli, three, "node0", "--pdb", "--pdb-max-unavailable", "1").code == 0


def test_nodeport_is_where_peers_in_other_clusters_dial(node0: Docs, three: ChainLayout, cli) -> None:
    svc = node0[f"Service/{CHAIN}-node0-nodeport"]["spec"]
    assert svc["type"] == "NodePort" and svc["externalTrafficPolicy"] == "Local"
    assert svc["ports"] == [
        {"name": "network", "nodePort": 30100, "port": 30100, "protocol": "UDP", "targetPort": 40000}
    ]
    # node1 (cluster "east") reaches node0's host by IP: a Service on the pod's p2p port whose
    # EndpointSlice is node0's host and NodePort.
    assert _yaml(cli, three, "node1", "--storage-class", "sc").code == 0
    peers = tomllib.loads((three.node_dir("node1") / "config.toml").read_text())["network_zenoh"]["peers"]
    assert {"domain": f"{CHAIN}-node0", "port": 40000, "protocol": "quic"} in peers
    built = _by_kind(kustomize(three.node_dir("node1")))
    assert built[f"Service/{CHAIN}-node0"]["spec"]["ports"][0]["targetPort"] == 30100
    eps = built[f"EndpointSlice/{CHAIN}-node0-1"]
    assert eps["endpoints"][0]["addresses"] == ["10.0.0.1"] and eps["ports"][0]["port"] == 30100
    # node2 (cluster "west", listed by name) exposed too: node0 dials its name at the listed port.
    assert _yaml(cli, three, "node2", "--storage-class", "sc", "--expose", "nodeport").code == 0
    exposed = yaml.safe_load((three.node_dir("node2") / "yamls/nodeport-svc.yaml").read_text())
    assert exposed["spec"]["ports"][0]["nodePort"] == 30102
    assert cli("update-node", "--config-dir", str(three.config_dir), "--domain", "node0").code == 0
    peers = tomllib.loads((three.node_dir("node0") / "config.toml").read_text())["network_zenoh"]["peers"]
    assert {"domain": f"{CHAIN}-node2", "port": 30102, "protocol": "quic"} in peers
    ext = yaml.safe_load((three.node_dir("node0") / "yamls/node2-external-svc.yaml").read_text())
    assert ext["spec"] == {"externalName": "peer2.example.org", "type": "ExternalName"}


def test_loadbalancer_and_refusals(cli, tmp_path: Path) -> None:
    layout = make_chain(tmp_path, "10.0.0.1:40000:node0:k8s,10.0.0.2:30001:node1:k8s")
    make_node(layout, "node0")
    assert _yaml(cli, layout, "node0", "--storage-class", "sc", "--expose", "loadbalancer").code == 0
    svc = yaml.safe_load((layout.node_dir("node0") / "yamls/nodeport-svc.yaml").read_text())
    assert svc["spec"]["type"] == "LoadBalancer" and "nodePort" not in svc["spec"]["ports"][0]
    assert svc["spec"]["ports"][0]["port"] == 40000
    before = snapshot(layout.config_dir)
    for flags, expected in (
        (
            ("--expose", "nodeport"),
            "error: --expose: nodeport needs the node's port in the node list (40000)",
        ),
        (("--expose", "cluster"), "error: --expose: must be nodeport or loadbalancer, got 'cluster'"),
        (("--resources", "wallet:limits_cpu=1"), "error: --resources: must be one of network, consensus"),
        (("--resources", "controller"), "error: --resources: must be SERVICE:KEY=VALUE"),
        (("--timezone", "Mars/Olympus Mons"), "error: --timezone: must be a time zone name"),
    ):
        result = _yaml(cli, layout, "node0", *flags)
        assert result.code != 0 and result.err.startswith(expected), (flags, result.err)
        assert len(result.err.splitlines()) == 1
        assert snapshot(layout.config_dir) == before
    make_node(layout, "node1")
    assert _yaml(cli, layout, "node1", "--storage-class", "sc", "--expose", "nodeport").code == 0
    result = _yaml(cli, layout, "node1", "--node-port", "30999")
    assert result.code != 0 and result.err.startswith("error: --node-port: 30999 is not the node's port")
    assert _yaml(cli, layout, "node1", "--expose", "none").code == 0
    assert not (layout.node_dir("node1") / "yamls/nodeport-svc.yaml").exists()


def test_config_toml_mount_reaches_the_running_pod(node0: Docs) -> None:
    """The config Secret is mounted as a whole folder (no subPath), so the kubelet's updates of
    config.toml reach network_zenoh, which re-reads the file every hot_update_interval."""
    pod = _pod(node0)
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["node-config"]["secret"]["secretName"] == f"{CHAIN}-node0-config"
    for c in pod["containers"]:
        mounts = {m["name"]: m for m in c["volumeMounts"]}
        assert mounts["node-config"] == {
            "mountPath": "/etc/cita-cloud/config",
            "name": "node-config",
            "readOnly": True,
        }
        assert not any("subPath" in m or "subPathExpr" in m for m in c["volumeMounts"])
        assert c["command"][:4] == [c["name"], "run", "-c", "/etc/cita-cloud/config/config.toml"]


def _checksum(layout: ChainLayout, domain: str) -> tuple[str, str]:
    sts = yaml.safe_load((layout.node_dir(domain) / "yamls/statefulset.yaml").read_text())
    secret = (layout.node_dir(domain) / "yamls/secret-config.yaml").read_text()
    return sts["spec"]["template"]["metadata"]["annotations"]["checksum/config"], secret


def test_a_peer_change_does_not_restart_the_pod_other_changes_do(cli, tmp_path: Path) -> None:
    layout = make_chain(tmp_path, "10.0.0.1:30100:node0:k8s,10.0.0.2:30101:node1:k8s")
    make_node(layout, "node0")
    assert _yaml(cli, layout, "node0", "--storage-class", "sc").code == 0
    checksum, secret = _checksum(layout, "node0")
    where = ("--config-dir", str(layout.config_dir))
    # A new peer: config.toml (the Secret) changes, the pod template does not.
    assert cli("append-node", *where, "--node", "10.0.0.3:30102:node2:k8s").code == 0
    assert cli("update-node", *where, "--domain", "node0").code == 0
    new_checksum, new_secret = _checksum(layout, "node0")
    assert new_secret != secret and new_checksum == checksum
    # Anything else in config.toml (here the log level) rolls the pod.
    text = (layout.node_dir("node0") / "node_config.toml").read_text()
    (layout.node_dir("node0") / "node_config.toml").write_text(
        text.replace('log_level = "info"', 'log_level = "debug"')
    )
    assert cli("update-node", *where, "--domain", "node0").code == 0
    assert _checksum(layout, "node0")[0] != checksum
    # So do a new certificate, CA bundle or genesis, and the key files (config.toml embeds the PEMs).
    inputs = _inputs(layout, "node0")
    base = k8s.restart_checksum(inputs, render_config_toml(inputs))
    for changed in (
        dataclasses.replace(inputs, cert=inputs.cert + "\n"),  # a re-issued certificate
        dataclasses.replace(inputs, ca_cert=inputs.ca_cert * 2),  # a CA bundle
        dataclasses.replace(inputs, private_key="0x00"),
    ):
        assert k8s.restart_checksum(changed, render_config_toml(changed)) != base


def test_pinned_images_render_with_their_digest(cli, tmp_path: Path) -> None:
    digest = "sha256:" + "0123456789abcdef" * 4
    config_dir = tmp_path
    where = ("--config-dir", str(config_dir))
    assert cli("init-chain", *where).code == 0
    result = cli(
        "init-chain-config", *where, "--network_tag", f"v6.7.4@{digest}", "--controller_tag", "v6.7.4"
    )
    assert result.code == 0, result.err
    chain = tomllib.loads((config_dir / CHAIN / "chain_config.toml").read_text())
    assert {"image": "network_zenoh", "tag": f"v6.7.4@{digest}"} in chain["micro_service_list"]
    bad = cli("init-chain-config", *where, "--network_tag", "v6.7.4@sha256:beef")
    assert bad.code != 0 and "micro_service_list[0].tag" in bad.err and len(bad.err.splitlines()) == 1
    # Rendered: the pod's image is name:tag@digest, and kustomize keeps it.
    layout = make_chain(tmp_path / "render", "10.0.0.1:30100:node0:k8s")
    text = layout.chain_config.read_text().replace('tag = "latest"', f'tag = "v6.7.4@{digest}"', 1)
    layout.chain_config.write_text(text)
    make_node(layout, "node0")
    assert _yaml(cli, layout, "node0", "--storage-class", "sc").code == 0
    kustomization = yaml.safe_load((layout.node_dir("node0") / "kustomization.yaml").read_text())
    assert {
        "name": "docker.io/citacloud/network_zenoh",
        "newTag": "v6.7.4",
        "digest": digest,
    } in kustomization["images"]
    built = _by_kind(kustomize(layout.node_dir("node0")))
    images = [c["image"] for c in _pod(built)["containers"]]
    assert images[0] == f"docker.io/citacloud/network_zenoh:v6.7.4@{digest}"
    assert images[1] == "docker.io/citacloud/consensus_overlord:latest"


@pytest.fixture(scope="module")
def rerendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The golden chain's node folders rendered by this code (the same inputs as tests/data/upgrade)."""
    from tests.render.test_golden_trees import build

    root = tmp_path_factory.mktemp("upgrade")
    build(root)
    return root


@pytest.mark.slow  # the golden build runs ~40 cloud-config processes
@pytest.mark.parametrize("folder", ["test-chain-node0", "test-chain-node2"])
def test_upgrade_keeps_what_a_running_statefulset_cannot_change(rerendered: Path, folder: str) -> None:
    """tests/data/upgrade/ holds node trees rendered by the code before this change (the first
    release's golden trees): kubectl apply of the new tree must be accepted, so the StatefulSet's
    selector, serviceName and volumeClaimTemplates stay as they were, and the pod template's
    labels still match the selector."""
    old = _by_kind(kustomize(UPGRADE / folder))
    new = _by_kind(kustomize(rerendered / folder))
    name = f"StatefulSet/{folder}"
    for field in ("selector", "serviceName", "volumeClaimTemplates"):
        assert new[name]["spec"][field] == old[name]["spec"][field], field
    selector = new[name]["spec"]["selector"]["matchLabels"]
    assert selector.items() <= new[name]["spec"]["template"]["metadata"]["labels"].items()
    # Every object the old tree had is still there (nothing is pruned by the upgrade), plus new ones.
    assert set(old) <= set(new)
    assert {k.split("/")[0] for k in set(new) - set(old)} <= {
        "ServiceAccount",
        "PodDisruptionBudget",
        "Service",
        "NetworkPolicy",
    }
