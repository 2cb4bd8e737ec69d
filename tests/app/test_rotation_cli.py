"""`cloud-config rotate-ca` through the real CLI on a chain whose nodes are rendered by update-node.

The bundle each node renders (`network_zenoh.ca_cert` of its config.toml) is checked with the real
`openssl verify` after every phase: no phase leaves a current certificate untrusted, and after the
last one a departed node's certificate is refused by every remaining node.
"""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from cloud_config.model.paths import ChainLayout
from tests.rehearse.test_rehearse_cli import DEMO_NODES
from tests.support.render import make_chain, make_node, snapshot

REMAINING = ("node0", "node1")


def openssl_ok(bundle: Path, cert: Path) -> bool:
    done = subprocess.run(
        ["openssl", "verify", "-CAfile", str(bundle), str(cert)], capture_output=True, check=False
    )
    return done.returncode == 0


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def rendered_bundles(cli, layout: ChainLayout, tmp: Path, tag: str) -> list[Path]:
    """update-node for each remaining node; its rendered ca_cert, written to a file."""
    out = []
    for domain in REMAINING:
        result = cli("update-node", "--domain", domain, "--config-dir", str(layout.config_dir))
        assert result.code == 0, result.err
        text = (layout.node_dir(domain) / "config.toml").read_text()
        bundle = tmp / f"{tag}-{domain}-bundle.pem"
        bundle.write_text(tomllib.loads(text)["network_zenoh"]["ca_cert"])
        out.append(bundle)
    return out


def current_certs(layout: ChainLayout) -> list[Path]:
    return [layout.cert_dir(d) / "cert.pem" for d in REMAINING]


@pytest.mark.slow  # openssl and update-node for each node and phase, and two rehearsals
def test_three_phases_keep_every_node_trusted_and_drop_the_departed(cli, tmp_path: Path) -> None:
    layout = make_chain(tmp_path / "ws", DEMO_NODES)
    repo = layout.chain_dir
    (repo / ".gitignore").write_text("accounts/*/\nca_cert/key.pem\ncerts/*/key.pem\n")
    git(repo, "init", "-q")
    commit(repo, "three nodes")
    for domain in REMAINING:
        make_node(layout, domain)
    departed = tmp_path / "node2-cert.pem"
    departed.write_bytes((layout.cert_dir("node2") / "cert.pem").read_bytes())
    assert cli("delete-node", "--domain", "node2", "--config-dir", str(layout.config_dir)).code == 0
    for name in ("csr.pem", "cert.pem", "key.pem"):
        (layout.cert_dir("node2") / name).unlink()
    commit(repo, "node2 leaves")
    left = git(repo, "rev-parse", "HEAD~1")
    config = ("--config-dir", str(layout.config_dir))

    begin = cli("rotate-ca", "--begin", *config)
    assert begin.code == 0, begin.err
    retired = Path(begin.out.split("the old CA key left the chain folder: ")[1].split(" (0600")[0])
    assert retired.is_file() and oct(retired.stat().st_mode & 0o777) == "0o600"
    assert not retired.is_relative_to(repo)
    assert git(repo, "status", "--porcelain") == "M ca_cert/cert.pem"  # the new key is git-ignored
    assert (repo / "ca_cert" / "cert.pem").read_text().count("BEGIN CERTIFICATE") == 2
    commit(repo, "rotate-ca --begin")
    for bundle in rendered_bundles(cli, layout, tmp_path, "begin"):
        assert all(openssl_ok(bundle, cert) for cert in current_certs(layout))

    before = snapshot(layout.config_dir)
    early = cli("rotate-ca", "--finish", *config)
    assert early.code == 1 and early.err.startswith(
        "error: 2 certificate(s) are not issued by the new CA yet"
    )
    assert snapshot(layout.config_dir) == before  # refused: nothing changed

    reissue = cli("rotate-ca", "--reissue", *config)
    assert reissue.code == 0 and "2 certificate(s) signed by the new CA: node0, node1" in reissue.out
    commit(repo, "rotate-ca --reissue")
    for bundle in rendered_bundles(cli, layout, tmp_path, "reissue"):
        assert all(openssl_ok(bundle, cert) for cert in current_certs(layout))
        assert openssl_ok(bundle, departed)  # still trusted: the old CA is still in the bundle
    code, report = rehearse_json(cli, layout, left)
    assert code == 1 and {d["ok"] for d in report["departed"] if d["check"] == "certificate"} == {False}

    finish = cli("rotate-ca", "--finish", *config)
    assert finish.code == 0, finish.err
    assert f"deleted the old CA key {retired}" in finish.out and not retired.exists()
    commit(repo, "rotate-ca --finish")
    for bundle in rendered_bundles(cli, layout, tmp_path, "finish"):
        assert all(openssl_ok(bundle, cert) for cert in current_certs(layout))
        assert not openssl_ok(bundle, departed)
    code, report = rehearse_json(cli, layout, left)
    assert code == 0, report
    assert all(p["ok"] for p in report["pairs"])
    refused = [d for d in report["departed"] if d["check"] == "certificate"]
    assert len(refused) == 2 and all(d["ok"] and "refuses it" in d["detail"] for d in refused)
    assert not any(p.name.endswith(".partial") for p in (repo / "certs").iterdir())


def rehearse_json(cli, layout: ChainLayout, base: str) -> tuple[int, dict[str, Any]]:
    result = cli(
        "rehearse",
        "--config-dir",
        str(layout.config_dir),
        "--base",
        base,
        "--head",
        "HEAD",
        "--format",
        "json",
    )
    return result.code, json.loads(result.out)


def test_phases_out_of_order_are_refused(cli, tmp_path: Path) -> None:
    layout = make_chain(tmp_path, DEMO_NODES)
    config = ("--config-dir", str(tmp_path))
    before = snapshot(tmp_path)
    for flag in ("--reissue", "--finish"):
        result = cli("rotate-ca", flag, *config)
        assert result.code == 1 and "holds 1 CA certificate(s)" in result.err, result.err
    assert snapshot(tmp_path) == before
    assert cli("rotate-ca", "--begin", *config).code == 0
    again = cli("rotate-ca", "--begin", *config)
    assert again.code == 1 and "a rotation is under way" in again.err
    assert cli("rotate-ca", *config).code == 2  # one phase flag is required
    assert (layout.ca_dir / "key.pem").is_file()
