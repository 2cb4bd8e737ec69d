"""Throwaway look-alikes of real certificates, for a rehearsal on a chain repo that holds no keys.

A mirrored CA has the real CA's subject and validity and a fresh key; a mirrored node certificate
has the real one's subject, SAN, validity and issuer name, a fresh key, and is signed by the
mirror of the CA that really issued it (or by a throwaway CA no bundle holds, when the real issuer
is not in the chain's CA file). So every check a dialer makes (chain, name, dates) comes out as it
would with the real certificates, while no real key is needed. Pure: PEM in, PEM out.
"""

from __future__ import annotations

from typing import Any

from cloud_config.crypto.pki import split_bundle

__all__ = ["issuer_index", "mirror_ca", "mirror_leaf", "split_bundle"]


def issuer_index(cert_pem: str, cas: list[str]) -> int | None:
    """The index of the CA in `cas` that signed `cert_pem`, or None."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

    try:
        cert = x509.load_pem_x509_certificate(cert_pem.encode())
    except ValueError:
        return None
    for index, ca_pem in enumerate(cas):
        try:
            cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca_pem.encode()))
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            continue
        return index
    return None


def mirror_ca(ca_pem: str) -> tuple[str, str]:
    """A throwaway CA with the subject and validity of `ca_pem`: (cert PEM, key PEM)."""
    from cryptography import x509

    real = x509.load_pem_x509_certificate(ca_pem.encode())
    return _issue(real, None)


def mirror_leaf(cert_pem: str, issuer: tuple[str, str]) -> tuple[str, str]:
    """A throwaway copy of a node certificate, signed by `issuer` (cert PEM, key PEM)."""
    from cryptography import x509

    real = x509.load_pem_x509_certificate(cert_pem.encode())
    return _issue(real, issuer)


def _issue(real: Any, issuer: tuple[str, str] | None) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    if issuer is None:
        signer_key: Any = key
        issuer_name = real.subject
        issuer_public: Any = key.public_key()
    else:
        issuer_cert = x509.load_pem_x509_certificate(issuer[0].encode())
        signer_key = serialization.load_pem_private_key(issuer[1].encode(), password=None)
        issuer_name, issuer_public = issuer_cert.subject, issuer_cert.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(real.subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(real.not_valid_before_utc)
        .not_valid_after(real.not_valid_after_utc)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public),
            critical=False,
        )
    )
    for ext in real.extensions:
        if ext.oid in (x509.SubjectAlternativeName.oid, x509.BasicConstraints.oid, x509.KeyUsage.oid):
            builder = builder.add_extension(ext.value, critical=ext.critical)
    cert = builder.sign(signer_key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii"), key_pem
