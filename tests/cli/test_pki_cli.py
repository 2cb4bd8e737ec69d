"""create-ca, create-csr, sign-csr, import-ca, import-cert through the command line on real files."""

from __future__ import annotations

import base64
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509

from cloud_config.crypto import pki

CHAIN = "test-chain"


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file and folder under `root` with its bytes and mode."""
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else b"", p.stat().st_mode)
        for p in sorted(root.rglob("*"))
    }


@pytest.fixture(name="run")
def _run(cli, tmp_path: Path):
    """`run(verb, flags...)` in a fresh chain folder under tmp_path/cfg."""
    config_dir = tmp_path / "cfg"
    assert cli("init-chain", "--config-dir", str(config_dir)).code == 0

    def run(verb: str, *flags: str):
        return cli(verb, "--config-dir", str(config_dir), *flags)

    return run


@pytest.fixture(name="chain_dir")
def _chain_dir(tmp_path: Path) -> Path:
    return tmp_path / "cfg" / CHAIN


def _openssl_verify(ca: Path, cert: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", "verify", "-CAfile", str(ca), str(cert)], capture_output=True, text=True, check=False
    )


def _fails_cleanly(run, root: Path, verb: str, *flags: str, code: int = 1, says: str = "") -> str:
    before = snapshot(root)
    result = run(verb, *flags)
    assert result.code == code, result.err
    assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
    assert says in result.err
    assert "PRIVATE KEY" not in result.err
    assert snapshot(root) == before
    return str(result.err)


def test_walkthrough_pki_steps_give_certs_openssl_accepts(run, chain_dir: Path) -> None:
    assert run("create-ca").code == 0
    for domain in ("node0", "node1"):
        assert run("create-csr", "--domain", domain).code == 0
        assert run("sign-csr", "--domain", domain).code == 0
        cert_path = chain_dir / "certs" / domain / "cert.pem"
        done = _openssl_verify(chain_dir / "ca_cert" / "cert.pem", cert_path)
        assert done.returncode == 0 and done.stdout.strip().endswith(": OK"), done.stdout + done.stderr
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == [f"{CHAIN}-{domain}"]
        assert pki.public_key_matches(cert_path.read_text(), (cert_path.parent / "key.pem").read_text())
    for key in (chain_dir / "ca_cert" / "key.pem", chain_dir / "certs" / "node0" / "key.pem"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
        assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----\n")
    assert stat.S_IMODE((chain_dir / "certs" / "node0" / "cert.pem").stat().st_mode) == 0o644


def test_create_ca_never_replaces_a_ca_without_force(run, chain_dir: Path) -> None:
    assert run("create-ca").code == 0
    _fails_cleanly(run, chain_dir, "create-ca", says="already exists")
    old = (chain_dir / "ca_cert" / "cert.pem").read_bytes()
    assert run("create-ca", "--force").code == 0
    assert (chain_dir / "ca_cert" / "cert.pem").read_bytes() != old


def test_create_csr_never_replaces_a_certified_key_without_force(run, chain_dir: Path) -> None:
    assert run("create-ca").code == 0
    assert run("create-csr", "--domain", "node0").code == 0
    # No certificate yet: making the request again is allowed.
    assert run("create-csr", "--domain", "node0").code == 0
    assert run("sign-csr", "--domain", "node0").code == 0
    _fails_cleanly(run, chain_dir, "create-csr", "--domain", "node0", says="already has a signed certificate")
    old_key = (chain_dir / "certs" / "node0" / "key.pem").read_bytes()
    assert run("create-csr", "--domain", "node0", "--force").code == 0
    assert (chain_dir / "certs" / "node0" / "key.pem").read_bytes() != old_key
    assert not (chain_dir / "certs" / "node0" / "cert.pem").exists()


def _tamper(pem_path: Path) -> None:
    text = pem_path.read_text()
    body = "".join(line for line in text.splitlines() if not line.startswith("-----"))
    der = base64.b64decode(body).replace(b"node0", b"node9")
    b64 = base64.b64encode(der).decode()
    lines = "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
    pem_path.write_text(f"-----BEGIN CERTIFICATE REQUEST-----\n{lines}\n-----END CERTIFICATE REQUEST-----\n")


def test_sign_csr_refuses_a_csr_whose_signature_fails(run, chain_dir: Path) -> None:
    assert run("create-ca").code == 0
    assert run("create-csr", "--domain", "node9").code == 0
    assert run("create-csr", "--domain", "node0").code == 0
    # A request whose name was altered after signing, put where node9's request belongs.
    (chain_dir / "certs" / "node9" / "csr.pem").write_text(
        (chain_dir / "certs" / "node0" / "csr.pem").read_text()
    )
    _tamper(chain_dir / "certs" / "node9" / "csr.pem")
    err = _fails_cleanly(run, chain_dir, "sign-csr", "--domain", "node9", says="signature does not verify")
    assert "certs/node9/csr.pem" in err


def test_sign_csr_refuses_a_csr_for_another_domain(run, chain_dir: Path) -> None:
    assert run("create-ca").code == 0
    assert run("create-csr", "--domain", "node1").code == 0
    (chain_dir / "certs" / "node0").mkdir()
    (chain_dir / "certs" / "node0" / "csr.pem").write_text(
        (chain_dir / "certs" / "node1" / "csr.pem").read_text()
    )
    _fails_cleanly(
        run, chain_dir, "sign-csr", "--domain", "node0", says="expected CN and DNS name 'test-chain-node0'"
    )


def test_sign_csr_without_a_ca_says_what_to_do(run, chain_dir: Path) -> None:
    assert run("create-csr", "--domain", "node0").code == 0
    _fails_cleanly(run, chain_dir, "sign-csr", "--domain", "node0", says="create-ca")


def _material(tmp_path: Path) -> dict[str, Path]:
    """A CA, another CA, and node0 key/cert pairs from each, as files outside the chain folder."""
    out = tmp_path / "material"
    out.mkdir()
    files: dict[str, str] = {}
    files["ca_cert"], files["ca_key"] = pki.create_ca()
    files["other_cert"], files["other_key"] = pki.create_ca()
    csr, files["node_key"] = pki.create_csr(f"{CHAIN}-node0")
    files["node_cert"] = pki.sign_csr(files["ca_cert"], files["ca_key"], csr, f"{CHAIN}-node0")
    files["foreign_cert"] = pki.sign_csr(files["other_cert"], files["other_key"], csr, f"{CHAIN}-node0")
    paths = {}
    for name, text in files.items():
        paths[name] = out / f"{name}.pem"
        paths[name].write_text(text)
    return paths


def test_import_ca_and_cert_accept_matching_material(run, chain_dir: Path, tmp_path: Path) -> None:
    m = _material(tmp_path)
    assert run("import-ca", "--ca-cert", str(m["ca_cert"]), "--ca-key", str(m["ca_key"])).code == 0
    args = ("--domain", "node0", "--cert", str(m["node_cert"]), "--key", str(m["node_key"]))
    assert run("import-cert", *args).code == 0
    folder = chain_dir / "certs" / "node0"
    assert (folder / "cert.pem").read_bytes() == m["node_cert"].read_bytes()
    assert stat.S_IMODE((folder / "key.pem").stat().st_mode) == 0o600
    assert _openssl_verify(chain_dir / "ca_cert" / "cert.pem", folder / "cert.pem").returncode == 0


# (domain, certificate, key, what the one error line says); names refer to _material's files
_TAMPERED_IMPORTS = (
    ("node0", "foreign_cert", "node_key", "not issued by the chain's CA"),
    ("node0", "node_cert", "other_key", "does not match the certificate"),
    ("node1", "node_cert", "node_key", "expected CN and DNS name 'test-chain-node1'"),
    ("node0", "node_key", "node_key", "not a PEM certificate"),
    ("node0", "missing", "node_key", "does not exist"),
)


def test_import_cert_refuses_tampered_inputs(run, chain_dir: Path, tmp_path: Path) -> None:
    m = {**_material(tmp_path), "missing": tmp_path / "nope.pem"}
    assert run("import-ca", "--ca-cert", str(m["ca_cert"]), "--ca-key", str(m["ca_key"])).code == 0
    for domain, cert, key, says in _TAMPERED_IMPORTS:
        args = ("--domain", domain, "--cert", str(m[cert]), "--key", str(m[key]))
        _fails_cleanly(run, chain_dir, "import-cert", *args, code=2, says=says)


def test_import_ca_refuses_a_non_ca_or_a_wrong_key(run, chain_dir: Path, tmp_path: Path) -> None:
    m = _material(tmp_path)
    _fails_cleanly(
        run,
        chain_dir,
        "import-ca",
        "--ca-cert",
        str(m["node_cert"]),
        "--ca-key",
        str(m["node_key"]),
        code=2,
        says="not a CA certificate",
    )
    _fails_cleanly(
        run,
        chain_dir,
        "import-ca",
        "--ca-cert",
        str(m["ca_cert"]),
        "--ca-key",
        str(m["other_key"]),
        code=2,
        says="--ca-key: ",
    )
    assert run("import-ca", "--ca-cert", str(m["ca_cert"]), "--ca-key", str(m["ca_key"])).code == 0
    _fails_cleanly(
        run,
        chain_dir,
        "import-ca",
        "--ca-cert",
        str(m["other_cert"]),
        "--ca-key",
        str(m["other_key"]),
        says="holds another CA",
    )
    assert (
        run("import-ca", "--ca-cert", str(m["other_cert"]), "--ca-key", str(m["other_key"]), "--force").code
        == 0
    )


@pytest.mark.parametrize("domain", ["node_0", "Node0", "node0/../x", "nöde0", "node0.", "n" * 60])
def test_names_that_cannot_go_into_a_certificate_are_refused_first(run, chain_dir: Path, domain: str) -> None:
    assert run("create-ca").code == 0
    for verb in ("create-csr", "sign-csr"):
        _fails_cleanly(run, chain_dir, verb, f"--domain={domain}", code=2, says="--domain: ")


def test_sign_csr_again_keeps_the_certificate(run, chain_dir: Path) -> None:
    """A second sign-csr (a pipeline re-run) changes no byte, so it makes no commit."""
    assert run("create-ca").code == 0
    assert run("create-csr", "--domain", "node0").code == 0
    assert run("sign-csr", "--domain", "node0").code == 0
    before = snapshot(chain_dir)
    assert run("sign-csr", "--domain", "node0").code == 0
    assert snapshot(chain_dir) == before
    # A new CA makes the old certificate wrong: signing again replaces it.
    assert run("create-ca", "--force").code == 0
    assert run("sign-csr", "--domain", "node0").code == 0
    cert = chain_dir / "certs" / "node0" / "cert.pem"
    assert cert.read_bytes() != before["certs/node0/cert.pem"][0]
    assert _openssl_verify(chain_dir / "ca_cert" / "cert.pem", cert).returncode == 0


def test_create_csr_refuses_to_orphan_a_certificate_whose_key_is_elsewhere(run, chain_dir: Path) -> None:
    """The admin's checkout holds node0's csr.pem and cert.pem, not node0's key."""
    assert run("create-ca").code == 0
    assert run("create-csr", "--domain", "node0").code == 0
    assert run("sign-csr", "--domain", "node0").code == 0
    (chain_dir / "certs" / "node0" / "key.pem").unlink()
    _fails_cleanly(run, chain_dir, "create-csr", "--domain", "node0", says="for a key kept elsewhere")


def test_create_csr_drops_a_stale_certificate(run, chain_dir: Path) -> None:
    assert run("create-ca").code == 0
    assert run("create-csr", "--domain", "node0").code == 0
    assert run("sign-csr", "--domain", "node0").code == 0
    folder = chain_dir / "certs" / "node0"
    (folder / "key.pem").write_text(pki.create_csr(f"{CHAIN}-node0")[1])  # the cert no longer matches
    assert run("create-csr", "--domain", "node0").code == 0
    assert not (folder / "cert.pem").exists()
    assert pki.csr_problem((folder / "csr.pem").read_text(), f"{CHAIN}-node0") is None


def test_import_cert_refuses_the_ca_certificate_as_a_node_certificate(run, chain_dir: Path) -> None:
    assert run("create-ca").code == 0
    ca = chain_dir / "ca_cert"
    _fails_cleanly(
        run,
        chain_dir,
        "import-cert",
        "--domain",
        "node0",
        "--cert",
        str(ca / "cert.pem"),
        "--key",
        str(ca / "key.pem"),
        code=2,
        says="is a CA certificate, not a node certificate",
    )


def test_read_node_tls_returns_checked_material(run, chain_dir: Path, tmp_path: Path) -> None:
    from cloud_config.app.pki import read_node_tls
    from cloud_config.errors import ConfigError, NotFoundError
    from cloud_config.model.paths import ChainLayout

    where = ChainLayout(tmp_path / "cfg", CHAIN)
    assert run("create-ca").code == 0
    assert run("create-csr", "--domain", "node0").code == 0
    # The hint carries the --config-dir in use, so pasting it acts on this chain folder.
    with pytest.raises(NotFoundError, match=f"sign-csr --config-dir {tmp_path / 'cfg'} --domain node0"):
        read_node_tls(where, "node0")
    assert run("sign-csr", "--domain", "node0").code == 0
    ca, cert, key = read_node_tls(where, "node0")
    assert pki.cert_problems(cert, ca, f"{CHAIN}-node0", key) == []
    (chain_dir / "certs" / "node0" / "key.pem").write_text(pki.create_csr(f"{CHAIN}-node0")[1])
    with pytest.raises(ConfigError, match="does not match"):
        read_node_tls(where, "node0")
