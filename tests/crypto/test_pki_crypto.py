"""crypto.pki: the certificates' exact shape (reference §4), openssl's verdict, and the added checks."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtensionOID, NameOID

from cloud_config.crypto import pki
from cloud_config.errors import ConfigError, UsageError

NAME = "test-chain-node0"


@pytest.fixture(scope="module", name="ca")
def _ca() -> tuple[str, str]:
    return pki.create_ca()


@pytest.fixture(scope="module", name="node")
def _node() -> tuple[str, str]:
    return pki.create_csr(NAME)


def _pem_to_der(pem: str) -> bytes:
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    return base64.b64decode(body)


def _der_to_pem(der: bytes, label: str) -> str:
    b64 = base64.b64encode(der).decode()
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def _expected_serial(public_key: ec.EllipticCurvePublicKey) -> int:
    raw = public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    digest = bytearray(hashlib.sha256(raw).digest()[:20])
    digest[0] &= 0x7F
    return int.from_bytes(digest, "big")


def test_ca_has_the_reference_shape(ca: tuple[str, str]) -> None:
    cert = x509.load_pem_x509_certificate(ca[0].encode())
    org, cn = list(cert.subject)
    assert (org.oid, org.value, org._type) == (NameOID.ORGANIZATION_NAME, "CITAHub", _ASN1Type.UTF8String)
    assert (cn.oid, cn.value, cn._type) == (NameOID.COMMON_NAME, "CA", _ASN1Type.PrintableString)
    assert cert.issuer == cert.subject
    assert cert.not_valid_before_utc.isoformat() == "1975-01-01T00:00:00+00:00"
    assert cert.not_valid_after_utc.isoformat() == "4096-01-01T00:00:00+00:00"
    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert public.curve.name == "secp256r1"
    assert cert.serial_number == _expected_serial(public)
    ski, basic = list(cert.extensions)
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert ski.oid == ExtensionOID.SUBJECT_KEY_IDENTIFIER and not ski.critical
    assert ski.value.digest == hashlib.sha256(spki).digest()[:20]
    assert basic.oid == ExtensionOID.BASIC_CONSTRAINTS and basic.critical
    assert basic.value.ca is True and basic.value.path_length is None
    assert ca[0].startswith("-----BEGIN CERTIFICATE-----\n") and "\r" not in ca[0]
    assert ca[1].startswith("-----BEGIN PRIVATE KEY-----\n")


def test_csr_has_the_reference_shape(node: tuple[str, str]) -> None:
    csr = x509.load_pem_x509_csr(node[0].encode())
    assert csr.is_signature_valid
    org, cn = list(csr.subject)
    assert (org.value, org._type) == ("CITAHub", _ASN1Type.UTF8String)
    assert (cn.value, cn._type) == (NAME, _ASN1Type.PrintableString)
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [NAME]
    assert node[1].startswith("-----BEGIN PRIVATE KEY-----\n")
    assert pki.private_key_problem(node[1]) is None


def test_signed_cert_has_the_reference_shape(ca: tuple[str, str], node: tuple[str, str]) -> None:
    cert = x509.load_pem_x509_certificate(pki.sign_csr(*ca, node[0], NAME).encode())
    ca_cert = x509.load_pem_x509_certificate(ca[0].encode())
    assert cert.issuer == ca_cert.subject
    assert cert.subject == x509.load_pem_x509_csr(node[0].encode()).subject
    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert cert.serial_number == _expected_serial(public)
    san, constraints = list(cert.extensions)  # 6.7.4's SAN, plus basicConstraints CA:false (issue 10)
    assert san.oid == ExtensionOID.SUBJECT_ALTERNATIVE_NAME and not san.critical
    assert san.value.get_values_for_type(x509.DNSName) == [NAME]
    assert constraints.oid == ExtensionOID.BASIC_CONSTRAINTS and constraints.critical
    assert (
        constraints.value.ca is False
        and pki.leaf_problem(cert.public_bytes(serialization.Encoding.PEM).decode()) is None
    )
    cert.verify_directly_issued_by(ca_cert)
    assert pki.cert_problems(pki.sign_csr(*ca, node[0], NAME), ca[0], NAME, node[1]) == []


def test_openssl_verifies_the_signed_cert(tmp_path: Path, ca: tuple[str, str], node: tuple[str, str]) -> None:
    (tmp_path / "ca.pem").write_text(ca[0])
    (tmp_path / "cert.pem").write_text(pki.sign_csr(*ca, node[0], NAME))
    done = subprocess.run(
        ["openssl", "verify", "-CAfile", tmp_path / "ca.pem", tmp_path / "cert.pem"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(": OK")


def test_tampered_csr_fails_its_signature(ca: tuple[str, str], node: tuple[str, str]) -> None:
    der = _pem_to_der(node[0])
    forged = _der_to_pem(der.replace(b"node0", b"node9"), "CERTIFICATE REQUEST")
    assert "signature does not verify" in (pki.csr_problem(forged, "test-chain-node9") or "")
    with pytest.raises(ConfigError, match="signature"):
        pki.sign_csr(*ca, forged, "test-chain-node9")


def test_csr_for_another_domain_is_refused(ca: tuple[str, str], node: tuple[str, str]) -> None:
    assert "expected CN and DNS name 'test-chain-node1'" in (
        pki.csr_problem(node[0], "test-chain-node1") or ""
    )
    with pytest.raises(ConfigError, match="node1"):
        pki.sign_csr(*ca, node[0], "test-chain-node1")


def test_garbage_is_not_a_csr() -> None:
    assert "not a PEM certificate request" in (pki.csr_problem("hello", NAME) or "")


def test_cert_from_another_ca_is_reported(ca: tuple[str, str], node: tuple[str, str]) -> None:
    other = pki.create_ca()
    cert = pki.sign_csr(*other, node[0], NAME)
    problems = pki.cert_problems(cert, ca[0], NAME, node[1])
    assert len(problems) == 1 and "not issued by the chain's CA" in problems[0]


def test_cert_with_someone_elses_key_is_reported(ca: tuple[str, str], node: tuple[str, str]) -> None:
    cert = pki.sign_csr(*ca, node[0], NAME)
    _, other_key = pki.create_csr(NAME)
    assert pki.cert_problems(cert, ca[0], NAME, other_key) == ["its public key does not match the given key"]
    assert not pki.public_key_matches(cert, other_key)
    assert pki.public_key_matches(cert, node[0]) and pki.public_key_matches(cert, node[1])
    assert pki.public_key_matches(cert, cert)


def test_cert_for_another_name_is_reported(ca: tuple[str, str], node: tuple[str, str]) -> None:
    cert = pki.sign_csr(*ca, node[0], NAME)
    (problem,) = pki.cert_problems(cert, ca[0], "test-chain-node1")
    assert "expected CN and DNS name 'test-chain-node1'" in problem


def test_non_ca_cert_and_wrong_key_are_ca_problems(ca: tuple[str, str], node: tuple[str, str]) -> None:
    cert = pki.sign_csr(*ca, node[0], NAME)
    assert pki.ca_problems(*ca) == []
    assert pki.ca_problems(cert, node[1]) == [
        "the certificate is not a CA certificate (BasicConstraints CA:TRUE is missing)"
    ]
    assert pki.ca_problems(ca[0], node[1]) == ["the CA key does not match the CA certificate"]
    with pytest.raises(ConfigError, match="not a CA"):
        pki.sign_csr(cert, node[1], node[0], NAME)


def test_sec1_key_is_not_pkcs8(ca: tuple[str, str]) -> None:
    key = serialization.load_pem_private_key(ca[1].encode(), password=None)
    sec1 = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    assert "PKCS#8" in (pki.private_key_problem(sec1) or "")
    assert pki.ca_problems(ca[0], sec1) == [
        "the CA key is not an unencrypted PKCS#8 PEM key (-----BEGIN PRIVATE KEY-----)"
    ]


@pytest.mark.parametrize("name", ["chain_x-node0", "chain-node@0", "chain-nöde", "Chain-Node0", "a" * 64, ""])
def test_names_that_cannot_go_into_a_certificate_are_refused(name: str) -> None:
    with pytest.raises(UsageError, match="--domain"):
        pki.create_csr(name)


def _openssl_csr(tmp_path: Path, curve: str, *extra: str) -> str:
    key, csr = tmp_path / f"{curve}.key", tmp_path / f"{curve}.csr"
    subprocess.run(
        [
            "openssl",
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            f"ec_paramgen_curve:{curve}",
            "-out",
            str(key),
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            "openssl",
            "req",
            "-new",
            "-key",
            str(key),
            "-subj",
            f"/O=CITAHub/CN={NAME}",
            "-out",
            str(csr),
            *extra,
        ],
        check=True,
        capture_output=True,
    )
    return csr.read_text()


def test_openssl_made_p256_csr_is_signed(tmp_path: Path, ca: tuple[str, str]) -> None:
    csr = _openssl_csr(tmp_path, "P-256", "-addext", f"subjectAltName=DNS:{NAME}")
    assert pki.csr_problem(csr, NAME) is None
    assert pki.cert_problems(pki.sign_csr(*ca, csr, NAME), ca[0], NAME, csr) == []


def test_openssl_made_sm2_csr_is_reported_not_crashed(tmp_path: Path) -> None:
    csr = _openssl_csr(tmp_path, "SM2", "-sm3", "-addext", f"subjectAltName=DNS:{NAME}")
    assert "cannot check" in (pki.csr_problem(csr, NAME) or "")


def test_csr_asking_to_be_a_ca_is_refused(tmp_path: Path) -> None:
    san = f"subjectAltName=DNS:{NAME}"
    csr = _openssl_csr(tmp_path, "P-256", "-addext", san, "-addext", "basicConstraints=critical,CA:TRUE")
    assert "must not carry: 2.5.29.19" in (pki.csr_problem(csr, NAME) or "")
