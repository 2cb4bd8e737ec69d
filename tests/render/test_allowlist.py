"""The inbound allowlist through the real CLI: each node's NetworkPolicy admits its p2p port (UDP)
from exactly its current peers (same cluster by selectors, others by CIDR), its service ports
from its own pod and namespaces; `peers` prints the same list; a departed peer leaves it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from cloud_config.model.paths import ChainLayout
from tests.render.test_render_node import _kubectl
from tests.support.cli import Result
from tests.support.render import FIVE_NODES

ADMIN = "0x" + "ab" * 20


def _policy(layout: ChainLayout, domain: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(
        (layout.node_dir(domain) / "yamls" / "networkpolicy.yaml").read_text()
    )
    return doc


def _selector(domain: str) -> dict[str, Any]:
    return {
        "app.kubernetes.io/chain-name": "test-chain",
        "app.kubernetes.io/chain-node": f"test-chain-{domain}",
    }


def _ns(name: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


@pytest.fixture(scope="module")
def five(tmp_path_factory: pytest.TempPathFactory) -> tuple[ChainLayout, Result]:
    from tests.support.cli import run_process

    root = tmp_path_factory.mktemp("allow")
    made = run_process("create", "--config-dir", str(root), "--admin", ADMIN, "--nodelist", FIVE_NODES)
    assert made.code == 0, made.err
    layout = ChainLayout(root, "test-chain")
    result = run_process(
        "update-yaml", "--config-dir", str(root), "--domain", "node0", "--storage-class", "sc",
        "--peer-cidr", "node3=203.0.113.0/24", "--monitoring-namespace", "observability",
    )  # fmt: skip
    assert result.code == 0, result.err
    for domain in ("node1", "node2"):
        other = run_process(
            "update-yaml", "--config-dir", str(root), "--domain", domain, "--storage-class", "sc"
        )
        assert other.code == 0, other.err
    return layout, result


def test_policy_admits_exactly_the_current_peers(five: tuple[ChainLayout, Result]) -> None:
    layout, result = five
    assert "warning: node0: peer node4 is admitted from its host 9.9.9.9/32" in result.err
    policy = _policy(layout, "node0")
    assert policy["kind"] == "NetworkPolicy" and policy["metadata"]["name"] == "test-chain-node0"
    spec = policy["spec"]
    assert spec["podSelector"] == {"matchLabels": _selector("node0")} and spec["policyTypes"] == ["Ingress"]
    p2p, own = spec["ingress"]
    assert p2p["ports"] == [{"port": 40000, "protocol": "UDP"}]
    assert p2p["from"] == [
        {"podSelector": {"matchLabels": _selector("node1")}, **_ns("default")},
        {"podSelector": {"matchLabels": _selector("node2")}, **_ns("cita")},
        {"ipBlock": {"cidr": "203.0.113.0/24"}},  # --peer-cidr
        {"ipBlock": {"cidr": "9.9.9.9/32"}},  # node4's IP host, with a warning
    ]
    assert own["from"] == [
        {"podSelector": {"matchLabels": _selector("node0")}},
        _ns("default"),
        _ns("observability"),
    ]
    assert {p["port"] for p in own["ports"]} == set(range(50000, 50005)) | set(range(60000, 60005))
    assert all(p["protocol"] == "TCP" for p in own["ports"])
    saved = (layout.node_dir("node0") / "node_config.toml").read_text()
    assert (
        'peer_cidrs = "node3=203.0.113.0/24"' in saved and 'monitoring_namespace = "observability"' in saved
    )


@pytest.mark.parametrize("version", ["1.27.0", kubernetes_validate.latest_version()])
def test_policy_passes_strict_validation_and_kustomize(
    five: tuple[ChainLayout, Result], version: str
) -> None:
    layout, _ = five
    for domain in ("node0", "node1", "node2"):
        kubernetes_validate.validate(_policy(layout, domain), version, strict=True)
    built = subprocess.run(
        [_kubectl(), "kustomize", str(layout.node_dir("node0"))], capture_output=True, text=True, check=True
    ).stdout
    policies = [d for d in yaml.safe_load_all(built) if d["kind"] == "NetworkPolicy"]
    assert policies == [_policy(layout, "node0")]


def test_peers_json_is_the_same_list(cli, five: tuple[ChainLayout, Result]) -> None:
    layout, _ = five
    result = cli("peers", "--config-dir", str(layout.config_dir), "--domain", "node0", "--format", "json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert (data["port"], data["protocol"]) == (40000, "UDP")
    assert [
        (p["domain"], p["same_cluster"], p["namespace"], p["cidr"], p["cidr_from"]) for p in data["peers"]
    ] == [
        ("node1", True, "default", "", ""),
        ("node2", True, "cita", "", ""),
        ("node3", False, "", "203.0.113.0/24", "peer-cidr"),
        ("node4", False, "", "9.9.9.9/32", "host"),
    ]
    assert data["warnings"] == [
        "node0: peer node4 is admitted from its host 9.9.9.9/32, the address it is dialled at; if its "
        "traffic leaves through NAT, set --peer-cidr node4=CIDR"
    ]
    assert "warning: node0: peer node4 is admitted from its host" in result.err
    # node3 (outside k8s) admits every peer by CIDR: rivtower.com is no IP, so node3 is told how to fix it
    outside = json.loads(
        cli("peers", "--config-dir", str(layout.config_dir), "--domain", "node4", "--format", "json").out
    )
    assert [(p["domain"], p["cidr"]) for p in outside["peers"]] == [
        ("node0", "8.8.8.8/32"), ("node1", "8.8.8.8/32"), ("node2", "8.8.8.8/32"), ("node3", ""),
    ]  # fmt: skip
    assert any("peer node3 (rivtower.com) is admitted from nowhere" in w for w in outside["warnings"])
    text = cli("peers", "--config-dir", str(layout.config_dir), "--domain", "node0")
    assert text.out.splitlines()[2] == "node3\ttest-chain-node3\tUDP 40000 from 203.0.113.0/24"


def test_bad_peer_cidr_and_unknown_domain_are_one_line(cli, five: tuple[ChainLayout, Result]) -> None:
    layout, _ = five
    before = (layout.node_dir("node0") / "node_config.toml").read_bytes()
    for bad in ("node3=300.0.0.0/8", "node3", "node3=10.0.0.1/8"):
        result = cli(
            "update-yaml", "--config-dir", str(layout.config_dir), "--domain", "node0", "--peer-cidr", bad
        )
        assert result.code != 0 and result.err.startswith("error: --peer-cidr"), result.err
        assert len(result.err.splitlines()) == 1
    assert (layout.node_dir("node0") / "node_config.toml").read_bytes() == before
    missing = cli("peers", "--config-dir", str(layout.config_dir), "--domain", "node9")
    assert missing.code != 0 and missing.err.startswith("error: ") and "node9" in missing.err


def test_a_node_without_peers_admits_nobody_on_p2p(cli, tmp_path: Path) -> None:
    made = cli(
        "create", "--config-dir", str(tmp_path), "--admin", ADMIN, "--nodelist", "1.2.3.4:40000:solo:k8s"
    )
    assert made.code == 0, made.err
    assert (
        cli("update-yaml", "--config-dir", str(tmp_path), "--domain", "solo", "--storage-class", "sc").code
        == 0
    )
    (only,) = _policy(ChainLayout(tmp_path, "test-chain"), "solo")["spec"]["ingress"]  # no `from: []` (= all)
    assert all(p["protocol"] == "TCP" for p in only["ports"])


def test_member_leave_drops_the_peer_from_every_config_and_policy(cli, tmp_path: Path) -> None:
    ws = ("--config-dir", str(tmp_path))
    assert cli("create", *ws, "--admin", ADMIN, "--nodelist", FIVE_NODES).code == 0
    layout = ChainLayout(tmp_path, "test-chain")
    for domain in ("node0", "node1", "node2"):
        assert cli("update-yaml", *ws, "--domain", domain, "--storage-class", "sc").code == 0
    assert "test-chain-node1" in (layout.node_dir("node0") / "yamls" / "networkpolicy.yaml").read_text()
    assert cli("member", "add", *ws, "--name", "p2", "--domain", "node1").code == 0
    left = cli("member", "leave", *ws, "--name", "p2")
    assert left.code == 0, left.err
    for domain in ("node0", "node2", "node3", "node4"):
        for path in layout.node_dir(domain).rglob("*"):
            if path.is_file():
                text = path.read_text(errors="replace")
                assert "test-chain-node1" not in text and "node1" not in text.replace("node10", ""), path
    sources = _policy(layout, "node0")["spec"]["ingress"][0]["from"]
    assert [
        s.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/chain-node") for s in sources
    ][:1] == ["test-chain-node2"]
