"""`cloud-config rehearse` through the real CLI: real QUIC listeners on loopback, real handshakes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cloud_config.crypto import pki
from cloud_config.demo.walkthrough import NODE2, NODES
from cloud_config.model.paths import ChainLayout
from tests.support.render import FIVE_NODES, make_chain, make_node

pytestmark = pytest.mark.slow  # starts one QUIC listener per node

DEMO_NODES = ",".join([*(node for _, node in NODES.values()), NODE2])


def rehearse(cli, layout: ChainLayout, *extra: str) -> tuple[int, dict[str, Any]]:
    result = cli("rehearse", "--config-dir", str(layout.config_dir), "--format", "json", *extra)
    assert result.err == "", result.err
    return result.code, json.loads(result.out)


def failures(report: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(p["dialer"], p["peer"]): p["reason"] for p in report["pairs"] if not p["ok"]}


def test_five_node_example_reports_raw_host_peers_as_name_mismatches(cli, tmp_path: Path) -> None:
    layout = make_chain(tmp_path, FIVE_NODES)
    code, report = rehearse(cli, layout)
    assert code == 1 and not report["passed"]
    assert report["certificates"].startswith("throwaway")  # no node folders: mirrored certificates
    # node3 and node4 are not on k8s: they dial the raw host, the certificates hold test-chain-<domain>
    assert failures(report) == {
        (dialer, peer): "name mismatch"
        for dialer in ("node3", "node4")
        for peer in ("8.8.8.8:40000", "8.8.8.8:40001", "8.8.8.8:40002", "rivtower.com:40003", "9.9.9.9:40004")
        if not peer.endswith(str(40000 + int(dialer[-1])))
    }
    ok = {(p["dialer"], p["peer"]) for p in report["pairs"] if p["ok"]}
    assert ("node0", "test-chain-node3:40003") in ok and ("node2", "test-chain-node4:40000") in ok
    assert len(ok) == 12
    text = cli("rehearse", "--config-dir", str(layout.config_dir))
    assert text.code == 1
    assert "FAIL node3 -> 8.8.8.8:40000 (node0): name mismatch: hostname '8.8.8.8'" in text.out
    assert text.out.splitlines()[-1].startswith("rehearse: FAILED: 12/20 pair(s) OK")


def test_demo_chain_passes_with_real_node_folders(cli, tmp_path: Path) -> None:
    layout = make_chain(tmp_path, DEMO_NODES, name="gitops-test-chain")
    mirrored_code, mirrored = rehearse(cli, layout, "--chain-name", layout.chain_name)
    for domain in ("node0", "node1", "node2"):
        make_node(layout, domain)
    code, report = rehearse(cli, layout, "--chain-name", layout.chain_name)
    assert (mirrored_code, code) == (0, 0), (mirrored, report)
    assert report["certificates"].startswith("real") and mirrored["certificates"].startswith("throwaway")
    assert len(report["pairs"]) == 6 and all(p["ok"] for p in report["pairs"])
    assert ("node0", "gitops-test-chain-node2:40000") in {(p["dialer"], p["peer"]) for p in report["pairs"]}


def test_a_certificate_from_a_foreign_ca_fails_naming_the_node(cli, tmp_path: Path) -> None:
    layout = make_chain(tmp_path, DEMO_NODES)
    other_cert, other_key = pki.create_ca()
    csr = (layout.cert_dir("node2") / "csr.pem").read_text()
    (layout.cert_dir("node2") / "cert.pem").write_text(
        pki.sign_csr(other_cert, other_key, csr, "test-chain-node2")
    )
    code, report = rehearse(cli, layout)
    assert code == 1
    assert failures(report) == {
        ("node0", "test-chain-node2:40000"): "unknown CA",
        ("node1", "test-chain-node2:40000"): "unknown CA",
    }
    text = cli("rehearse", "--config-dir", str(layout.config_dir)).out
    assert "FAIL node0 -> test-chain-node2:40000 (node2): unknown CA" in text


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_a_departed_node_is_in_no_peer_list_but_its_certificate_is_trusted_until_rotation(
    cli, tmp_path: Path
) -> None:
    layout = make_chain(tmp_path, DEMO_NODES)
    repo = layout.chain_dir
    (repo / ".gitignore").write_text("accounts/*/\nca_cert/key.pem\ncerts/*/key.pem\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "three nodes")
    assert cli("delete-node", "--domain", "node2", "--config-dir", str(layout.config_dir)).code == 0
    for name in ("csr.pem", "cert.pem"):
        (layout.cert_dir("node2") / name).unlink()
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "node2 leaves")
    code, report = rehearse(cli, layout, "--base", "HEAD~1", "--head", "HEAD")
    checks = {(d["node"], d["check"]): d for d in report["departed"]}
    assert checks[("node2", "peer lists")]["ok"] and checks[("node2", "NetworkPolicy")]["ok"]
    assert all(p["ok"] for p in report["pairs"]) and len(report["pairs"]) == 2
    cert_checks = [d for d in report["departed"] if d["check"] == "certificate"]
    assert len(cert_checks) == 2 and not any(d["ok"] for d in cert_checks)
    assert "still trusts it: rotate the CA" in cert_checks[0]["detail"]
    assert code == 1


def test_base_without_head_is_a_usage_error(cli, tmp_path: Path) -> None:
    result = cli("rehearse", "--config-dir", str(tmp_path), "--base", "HEAD")
    assert result.code == 2 and result.err == "error: --head: --base and --head go together\n"


def test_an_expired_certificate_is_reported_as_expired(cli, tmp_path: Path) -> None:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    layout = make_chain(tmp_path, DEMO_NODES)
    ca = x509.load_pem_x509_certificate((layout.ca_dir / "cert.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((layout.ca_dir / "key.pem").read_bytes(), password=None)
    real = x509.load_pem_x509_certificate((layout.cert_dir("node1") / "cert.pem").read_bytes())
    expired = (
        x509.CertificateBuilder()
        .subject_name(real.subject)
        .issuer_name(ca.subject)
        .public_key(real.public_key())
        .serial_number(7)
        .not_valid_before(datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC))
        .not_valid_after(datetime.datetime(2021, 1, 1, tzinfo=datetime.UTC))
        .add_extension(
            real.extensions.get_extension_for_class(x509.SubjectAlternativeName).value, critical=False
        )
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    (layout.cert_dir("node1") / "cert.pem").write_bytes(expired.public_bytes(serialization.Encoding.PEM))
    code, report = rehearse(cli, layout)
    assert code == 1
    assert failures(report) == {
        ("node0", "test-chain-node1:40000"): "expired",
        ("node2", "test-chain-node1:40000"): "expired",
    }


def test_a_missing_chain_folder_is_one_error_line(cli, tmp_path: Path) -> None:
    result = cli("rehearse", "--config-dir", str(tmp_path))
    assert result.code != 0 and result.out == ""
    assert (
        result.err.startswith("error: ") and result.err.count("\n") == 1 and "chain_config.toml" in result.err
    )
    bad = cli(
        "rehearse",
        "--config-dir",
        str(make_chain(tmp_path / "c", DEMO_NODES).config_dir),
        "--base",
        "nope",
        "--head",
        "HEAD",
    )
    assert bad.code == 2 and bad.err.startswith("error: --head: is a revision of the chain folder's git repo")


def test_five_node_example_made_by_create_names_every_dialled_peer(cli, tmp_path: Path) -> None:
    """create puts each node's listed host in its CSR and certificate beside `{chain}-{domain}`, so
    every peer a node dials (Service name in k8s, raw host outside) is named by its certificate."""
    from cryptography import x509

    made = cli("create", "--config-dir", str(tmp_path), "--admin", "0x" + "ab" * 20, "--nodelist", FIVE_NODES)
    assert made.code == 0, made.err
    layout = ChainLayout(tmp_path, "test-chain")
    names: dict[str, set[str]] = {}
    for domain in ("node0", "node1", "node2", "node3", "node4"):
        cert = x509.load_pem_x509_certificate((layout.cert_dir(domain) / "cert.pem").read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names[domain] = {
            *san.get_values_for_type(x509.DNSName),
            *map(str, san.get_values_for_type(x509.IPAddress)),
        }
    assert names["node3"] == {"test-chain-node3", "rivtower.com"} and names["node4"] == {
        "test-chain-node4",
        "9.9.9.9",
    }
    hosts = {"8.8.8.8:40000": "node0", "8.8.8.8:40001": "node1", "8.8.8.8:40002": "node2",
             "rivtower.com:40003": "node3", "9.9.9.9:40004": "node4"}  # fmt: skip
    import tomllib

    dials = 0
    for domain in names:
        config = tomllib.loads((layout.node_dir(domain) / "config.toml").read_text())
        for peer in config["network_zenoh"]["peers"]:
            target = hosts.get(f"{peer['domain']}:{peer['port']}") or peer["domain"].removeprefix(
                "test-chain-"
            )
            assert peer["domain"] in names[target], (domain, peer, names[target])
            dials += 1
    assert dials == 20
    code, report = rehearse(cli, layout)
    assert code == 0 and report["certificates"].startswith("real"), report
    assert len(report["pairs"]) == 20 and all(p["ok"] for p in report["pairs"])
