"""Certificate lifetimes through the real CLI: sign-csr --days, renew-cert, certs, and verify's
`cert-expiring` (warning) and `cert-expired` (error) on a real git chain repo."""

from __future__ import annotations

import datetime
import json
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from cloud_config.crypto import pki
from cloud_config.model.paths import ChainLayout
from tests.support.cli import Result
from tests.support.render import make_chain

NODES = "www.node0.com:40000:node0:k8s,www.node1.com:40001:node1:k8s"


def _cert(layout: ChainLayout, domain: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((layout.cert_dir(domain) / "cert.pem").read_bytes())


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _chain(tmp_path: Path) -> tuple[ChainLayout, tuple[str, ...]]:
    layout = make_chain(tmp_path / "ws", NODES)
    return layout, ("--chain-name", layout.chain_name, "--config-dir", str(layout.config_dir))


def test_sign_csr_days_default_and_zero(cli, tmp_path: Path) -> None:
    layout, ws = _chain(tmp_path)
    (layout.cert_dir("node0") / "cert.pem").unlink()
    assert cli("sign-csr", "--domain", "node0", *ws).code == 0
    cert = _cert(layout, "node0")
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime == datetime.timedelta(days=pki.DEFAULT_DAYS, minutes=5)
    assert abs(cert.not_valid_before_utc - datetime.datetime.now(datetime.UTC)) < datetime.timedelta(
        minutes=6
    )
    (layout.cert_dir("node0") / "cert.pem").unlink()
    assert cli("sign-csr", "--domain", "node0", "--days", "0", *ws).code == 0
    cert = _cert(layout, "node0")
    assert (cert.not_valid_before_utc.year, cert.not_valid_after_utc.year) == (1975, 4096)
    (layout.cert_dir("node0") / "cert.pem").unlink()
    assert cli("sign-csr", "--domain", "node0", "--days", "90", *ws).code == 0
    assert (_cert(layout, "node0").not_valid_after_utc - datetime.datetime.now(datetime.UTC)).days == 89
    help_text = cli("sign-csr", "--help").out
    assert f"default: {pki.DEFAULT_DAYS}" in help_text and "1975" in help_text


def test_bad_days_is_one_line_and_writes_nothing(cli, tmp_path: Path) -> None:
    layout, ws = _chain(tmp_path)
    before = (layout.cert_dir("node0") / "cert.pem").read_bytes()
    for value in ("-1", "soon"):
        result = cli("renew-cert", "--domain", "node0", "--days", value, *ws)
        assert result.code != 0 and "--days" in result.err and result.err.startswith("error"), result.err
    assert (layout.cert_dir("node0") / "cert.pem").read_bytes() == before


def test_renew_cert_resigns_the_csr_and_after_create_csr_force(cli, tmp_path: Path) -> None:
    layout, ws = _chain(tmp_path)
    old = _cert(layout, "node0")
    renewed = cli("renew-cert", "--domain", "node0", "--days", "400", *ws)
    assert renewed.code == 0, renewed.err
    new = _cert(layout, "node0")
    assert new.public_key() == old.public_key() and new.not_valid_after_utc != old.not_valid_after_utc
    assert "valid until " in renewed.err
    # a new key: create-csr --force drops the certificate, renew-cert signs the new CSR
    assert cli("create-csr", "--domain", "node0", "--force", *ws).code == 0
    assert not (layout.cert_dir("node0") / "cert.pem").exists()
    assert cli("renew-cert", "--domain", "node0", *ws).code == 0
    csr = (layout.cert_dir("node0") / "csr.pem").read_text()
    assert pki.public_key_matches((layout.cert_dir("node0") / "cert.pem").read_text(), csr)
    missing = cli("renew-cert", "--domain", "node9", *ws)
    assert missing.code != 0 and missing.err.startswith("error: ") and "create-csr" in missing.err


def test_certs_text_and_json(cli, tmp_path: Path) -> None:
    layout, ws = _chain(tmp_path)
    assert cli("renew-cert", "--domain", "node1", "--days", "10", *ws).code == 0
    data = json.loads(cli("certs", "--format", "json", *ws).out)["certificates"]
    by_path = {c["path"]: c for c in data}
    assert list(by_path) == ["ca_cert/cert.pem", "certs/node0/cert.pem", "certs/node1/cert.pem"]
    assert by_path["ca_cert/cert.pem"]["issuer"] == "CA" and by_path["ca_cert/cert.pem"]["domain"] == ""
    assert by_path["certs/node1/cert.pem"] == {
        "path": "certs/node1/cert.pem",
        "domain": "node1",
        "subject": "test-chain-node1",
        "issuer": "CA",
        "not_after": pki.cert_not_after((layout.cert_dir("node1") / "cert.pem").read_text()),
        "days_left": 9,
    }
    text = cli("certs", *ws)
    assert text.code == 0
    line = next(x for x in text.out.splitlines() if x.startswith("certs/node1/cert.pem"))
    assert line.split("\t")[1:] == [
        "test-chain-node1",
        "issuer: CA",
        f"not after: {by_path['certs/node1/cert.pem']['not_after']}",
        "days left: 9",
    ]


def _expired(layout: ChainLayout, domain: str) -> None:
    """A certificate of the chain's CA, for the node's key, that ended yesterday."""
    ca_cert = x509.load_pem_x509_certificate((layout.ca_dir / "cert.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((layout.ca_dir / "key.pem").read_bytes(), None)
    csr = x509.load_pem_x509_csr((layout.cert_dir(domain) / "csr.pem").read_bytes())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca_cert.subject)
        .public_key(csr.public_key())
        .serial_number(7)
        .not_valid_before(now - datetime.timedelta(days=100))
        .not_valid_after(now - datetime.timedelta(days=1))
        .add_extension(csr.extensions[0].value, critical=False)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    (layout.cert_dir(domain) / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _verify(cli, repo: Path, base: str) -> tuple[Result, dict[str, str]]:
    result = cli("verify", "--repo", str(repo), "--base", base, "--head", "HEAD", "--format", "json")
    findings = json.loads(result.out)["findings"]
    return result, {
        f"{f['rule']} {f['path']}": f["severity"] for f in findings if f["rule"].startswith("cert")
    }


def test_verify_warns_cert_expiring_and_refuses_expired(cli, tmp_path: Path) -> None:
    layout, ws = _chain(tmp_path)
    repo = layout.chain_dir
    (repo / ".gitignore").write_text("accounts/*/\nca_cert/key.pem\ncerts/*/key.pem\n")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
    base = _git(repo, "rev-parse", "HEAD")
    assert cli("renew-cert", "--domain", "node0", "--days", "20", *ws).code == 0
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "short")
    result, found = _verify(cli, repo, base)
    assert result.code == 0 and found == {"cert-expiring certs/node0/cert.pem": "warning"}, result.out
    assert "renew-cert --domain node0" in result.out
    _expired(layout, "node1")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "expired")
    result, found = _verify(cli, repo, base)
    assert result.code == 1 and found["cert-expired certs/node1/cert.pem"] == "error", result.out
    assert json.loads(cli("certs", "--format", "json", *ws).out)["certificates"][2]["days_left"] == -2
