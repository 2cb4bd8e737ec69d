"""The chain's TLS PKI as cloud-config makes it (reference §4), plus the checks it lacks.

ECDSA P-256 keys (PKCS#8 PEM, unencrypted), subject O=CITAHub (UTF8String) + CN (PrintableString),
serials from SHA-256 of the public point. CAs are valid 1975-01-01 to 4096-01-01 as in 6.7.4; node
certificates for `DEFAULT_DAYS` from signing (`days=0` keeps 6.7.4's 1975-4096).
Pure: PEM text in, PEM text or findings out; no file I/O.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cloud_config.errors import ConfigError, UsageError
from cloud_config.model.names import dns_label_problem
from cloud_config.model.network_address import NodeNetworkAddress

if TYPE_CHECKING:
    from cryptography import x509

ORGANIZATION = "CITAHub"
CA_COMMON_NAME = "CA"
NOT_BEFORE = datetime.datetime(1975, 1, 1, tzinfo=datetime.UTC)
NOT_AFTER = datetime.datetime(4096, 1, 1, tzinfo=datetime.UTC)
DEFAULT_DAYS = 825  # a node certificate's lifetime unless sign-csr --days says otherwise
EXPIRING_DAYS = 30  # verify warns `cert-expiring` below this many days left
_SKEW = datetime.timedelta(minutes=5)  # not-before this far back, for clocks slightly behind
_SERIAL_LEN = 20
_CERT, _CSR, _KEY = "CERTIFICATE", "CERTIFICATE REQUEST", "PRIVATE KEY"


# ---- making ------------------------------------------------------------------------------


def create_ca(generation: int = 1) -> tuple[str, str]:
    """A new self-signed CA: (cert_pem, key_pem) as create-ca writes them (§4.1).

    Generation 1 is 6.7.4's `CN=CA`; a rotation's new CA is `CN=CA-<generation>`, so a bundle
    never holds two CAs of one subject (and their SKIDs differ, being of different keys).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = _subject(CA_COMMON_NAME if generation == 1 else f"{CA_COMMON_NAME}-{generation}")
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    cert = (
        _validity(x509.CertificateBuilder())
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(_serial_for(key.public_key()))
        # rcgen's key identifier: SHA-256 over the whole SubjectPublicKeyInfo, first 20 bytes.
        .add_extension(x509.SubjectKeyIdentifier(_sha256(spki)[:_SERIAL_LEN]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return _cert_pem(cert), _key_pem(key)


def create_csr(cert_name: str, hosts: tuple[str, ...] = ()) -> tuple[str, str]:
    """A new node key and its CSR for `cert_name` (`{chain}-{domain}`) and the `hosts` it is also
    dialled by (cert_hosts: `IP:<addr>` or a DNS name): (csr_pem, key_pem) (§4.2)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    problem = cert_name_problem(cert_name)
    if problem:
        raise UsageError("--domain", f"certificate name {cert_name!r} {problem}")
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(_subject(cert_name))
        .add_extension(x509.SubjectAlternativeName(_san(cert_name, hosts)), critical=False)
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode("ascii"), _key_pem(key)


def _san(cert_name: str, hosts: tuple[str, ...]) -> list[x509.GeneralName]:
    """`DNS:{cert_name}` first, then each host: an IP SAN for `IP:<addr>`, a DNS SAN otherwise."""
    import ipaddress

    from cryptography import x509

    names: list[x509.GeneralName] = [x509.DNSName(cert_name)]
    for host in hosts:
        if host.startswith("IP:"):
            names.append(x509.IPAddress(ipaddress.ip_address(host[3:])))
        elif host != cert_name:
            names.append(x509.DNSName(host))
    return names


def sign_csr(
    ca_cert_pem: str,
    ca_key_pem: str,
    csr_pem: str,
    expected_name: str,
    hosts: tuple[str, ...] = (),
    *,
    days: int = DEFAULT_DAYS,
) -> str:
    """The node certificate for a checked CSR, issued by the CA (§4.3); raises ConfigError.

    The CSR may name only `expected_name` and the `hosts` (the names the node is dialled at besides
    it); the certificate carries basicConstraints CA:false and is valid for `days` from now
    (`days=0`: 6.7.4's 1975-01-01 to 4096-01-01).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    problems = ca_problems(ca_cert_pem, ca_key_pem)
    if problems:
        raise ConfigError("the CA", None, "; ".join(problems))
    problem = csr_problem(csr_pem, expected_name, hosts)
    if problem:
        raise ConfigError("the CSR", None, problem)
    signer_pem = split_bundle(ca_cert_pem)[-1]  # the key's CA: the newest of a bundle
    ca_cert = x509.load_pem_x509_certificate(signer_pem.encode())
    ca_key = serialization.load_pem_private_key(ca_key_pem.encode(), password=None)
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    builder = (
        _validity(x509.CertificateBuilder(), days)
        .subject_name(csr.subject)
        .issuer_name(ca_cert.subject)
        .public_key(csr.public_key())
        .serial_number(_serial_for(csr.public_key()))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    # A rotated CA (generation 2 on) names its key in what it signs, so a verifier picks the right
    # CA out of a bundle; generation 1 keeps 6.7.4's shape (SAN only).
    if ca_generation(signer_pem) > 1:
        try:
            skid = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            akid = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(skid)
            builder = builder.add_extension(akid, critical=False)
        except x509.ExtensionNotFound:
            pass
    return _cert_pem(builder.sign(ca_key, _hash_for(ca_key)))  # type: ignore[arg-type]


def split_bundle(pem: str) -> list[str]:
    """Each `-----BEGIN CERTIFICATE-----` block of a PEM file, in file order (a CA bundle).

    network_zenoh's `ca_cert` may hold several: zenoh trusts every certificate of the file.
    """
    end = "-----END CERTIFICATE-----"
    blocks = []
    for part in pem.split(end)[:-1]:
        start = part.find("-----BEGIN CERTIFICATE-----")
        if start >= 0:
            blocks.append(part[start:] + end + "\n")
    return blocks


def ca_generation(cert_pem: str) -> int:
    """A CA's generation from its CN: `CA` is 1, `CA-<n>` is n; any other name counts as 1."""
    cert = _load(cert_pem, _CERT)
    cn = _names(cert.subject, cert.extensions)[0] if cert is not None else None
    prefix = f"{CA_COMMON_NAME}-"
    if cn and cn.startswith(prefix) and cn[len(prefix) :].isdigit():
        return int(cn[len(prefix) :])
    return 1


def issued_by(cert_pem: str, ca_cert_pem: str) -> bool:
    """Whether `ca_cert_pem` (one CA) signed `cert_pem`."""
    cert, ca_cert = _load(cert_pem, _CERT), _load(ca_cert_pem, _CERT)
    return cert is not None and ca_cert is not None and _issued_by_problem(cert, [ca_cert]) is None


# ---- checking ----------------------------------------------------------------------------


def cert_name_problem(cert_name: str) -> str | None:
    """Why `cert_name` cannot be a node certificate's CN and DNS SAN, or None.

    A DNS-1123 label fits both rcgen's PrintableString CN and a dNSName, and Kubernetes names.
    """
    return dns_label_problem(cert_name)


@functools.lru_cache(maxsize=4096)
def csr_problem(csr_pem: str, expected_name: str, hosts: tuple[str, ...] = ()) -> str | None:
    """Why the CSR cannot be signed for `expected_name` (and `hosts`): unparsable, bad signature,
    wrong or extra names. Pure, so cached by content (a long-running `serve` checks an unchanged
    CSR once)."""
    from cryptography.exceptions import UnsupportedAlgorithm

    csr = _load(csr_pem, _CSR)
    if csr is None:
        return "is not a PEM certificate request (-----BEGIN CERTIFICATE REQUEST-----)"
    try:
        if not isinstance(csr.public_key(), _signing_keys()):
            return "its public key is not a signing key type (ECDSA, Ed25519 or RSA)"
        if not csr.is_signature_valid:
            return "its signature does not verify (the request was altered or is corrupt)"
        extensions = csr.extensions
    except UnsupportedAlgorithm:
        return "uses a key or signature algorithm this tool cannot check (expected ECDSA P-256)"
    except ValueError as exc:
        return f"cannot be read: {exc}"
    extra = [ext.oid.dotted_string for ext in extensions if ext.oid not in _csr_extensions()]
    if extra:
        return f"requests extensions a node certificate must not carry: {', '.join(extra)}"
    return _name_problem(_names(csr.subject, extensions), expected_name, hosts)


def host_names(pem: str) -> tuple[str, ...]:
    """The SAN entries of a certificate or CSR (as cert_hosts spells them), for a check that leaves
    the hosts to the gate."""
    kind = _pem_kind(pem)
    item = _load(pem, kind) if kind != _KEY else None
    if item is None:
        return ()
    try:
        return tuple(_names(item.subject, item.extensions)[1])
    except ValueError:
        return ()


def names_only(pem: str, expected: str, hosts: tuple[str, ...]) -> bool:
    """Whether a CSR or certificate names exactly `expected` plus only some of the `hosts`."""
    kind = _pem_kind(pem)
    item = _load(pem, kind) if kind != _KEY else None
    if item is None:
        return False
    try:
        return _name_problem(_names(item.subject, item.extensions), expected, hosts) is None
    except ValueError:
        return False


def _name_problem(names: tuple[str | None, list[str]], expected: str, hosts: tuple[str, ...]) -> str | None:
    """Why a CN and SAN list do not name exactly `expected` (plus only the `hosts`), or None."""
    cn, san = names
    allowed = {expected, *hosts}
    if cn == expected and expected in san and len(set(san)) == len(san) and set(san) <= allowed:
        return None
    also = f" (SAN may also hold the node's host {', '.join(hosts)})" if hosts else ""
    return f"names {_show(names)}, expected CN and DNS name {expected!r}{also} and no other name"


def cert_hosts(node: NodeNetworkAddress | None) -> tuple[str, ...]:
    """The SAN a node's certificate carries besides `{chain}-{domain}`: the node's listed host
    (`IP:<addr>` or a DNS name), the name a node outside Kubernetes dials it by (zenoh checks the
    dialled host against the SANs only, docs/membership.md). Nothing for a node not listed."""
    if node is None:
        return ()
    ip = node.host_ip
    return (f"IP:{ip}",) if ip is not None else (node.host.lower(),)


def leaf_problem(cert_pem: str) -> str | None:
    """Why a node certificate lacks basicConstraints CA:false (6.7.4's certificates do), or None."""
    from cryptography import x509

    cert = _load(cert_pem, _CERT)
    if cert is None:
        return None  # cert_problems says so
    try:
        ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return "has no basicConstraints extension (expected CA:false, as sign-csr issues)"
    except ValueError as exc:
        return f"has an unreadable basicConstraints extension: {exc}"
    return "has basicConstraints CA:true" if ca else None


def cert_problems(
    cert_pem: str,
    ca_cert_pem: str,
    expected_name: str | None = None,
    public_of: str | None = None,
    hosts: tuple[str, ...] = (),
) -> list[str]:
    """What is wrong with a node certificate: parse, issuer, exact names, validity, key match."""
    verdict = _cert_verdict(cert_pem, ca_cert_pem, expected_name, public_of, hosts)
    if isinstance(verdict, str):
        return [verdict]
    before, not_before, not_after, after = verdict
    found = list(before)
    now = datetime.datetime.now(datetime.UTC)
    if now > not_after:
        found.append(f"expired on {_day(not_after)} (renew it: renew-cert)")
    elif now < not_before:
        found.append(f"is not valid yet (from {not_before} to {not_after})")
    return [*found, *after]


@functools.lru_cache(maxsize=4096)
def _cert_verdict(
    cert_pem: str, ca_cert_pem: str, expected_name: str | None, public_of: str | None, hosts: tuple[str, ...]
) -> str | tuple[tuple[str, ...], datetime.datetime, datetime.datetime, tuple[str, ...]]:
    """cert_problems but for the clock, by content (pure, so a long-running `serve` checks an
    unchanged certificate once): a parse problem, or (problems before the validity check, the
    validity window, problems after it)."""
    cert = _load(cert_pem, _CERT)
    if cert is None:
        return "is not a PEM certificate (-----BEGIN CERTIFICATE-----)"
    cas = [_load(block, _CERT) for block in split_bundle(ca_cert_pem)]
    if not cas or None in cas:
        return "the CA certificate is not a PEM certificate"
    found: list[str] = []
    issuer_problem = _issued_by_problem(cert, cas)
    if issuer_problem:
        found.append(issuer_problem)
    if _is_ca(cert):
        found.append("is a CA certificate, not a node certificate")
    if expected_name is not None:
        problem = _name_problem(_names(cert.subject, cert.extensions), expected_name, hosts)
        if problem:
            found.append(problem)
    after = []
    if public_of is not None and not public_key_matches(cert_pem, public_of):
        after.append("its public key does not match the given key")
    return tuple(found), cert.not_valid_before_utc, cert.not_valid_after_utc, tuple(after)


def ca_problems(cert_pem: str, key_pem: str | None = None) -> list[str]:
    """What keeps a certificate (or a bundle of them, during a rotation) and key from serving as the
    chain's CA; the key must be the newest (last) CA's."""
    blocks = split_bundle(cert_pem)
    certs = [_load(block, _CERT) for block in blocks]
    if not certs or None in certs:
        return ["the CA certificate is not a PEM certificate (-----BEGIN CERTIFICATE-----)"]
    found: list[str] = []
    if not all(_is_ca(cert) for cert in certs):
        found.append("the certificate is not a CA certificate (BasicConstraints CA:TRUE is missing)")
    if key_pem is not None:
        key_problem = private_key_problem(key_pem)
        if key_problem:
            found.append(f"the CA key {key_problem}")
        elif not public_key_matches(blocks[-1], key_pem):
            which = (
                "the newest CA certificate (the last of the bundle)"
                if len(blocks) > 1
                else "the CA certificate"
            )
            found.append(f"the CA key does not match {which}")
    return found


def private_key_problem(key_pem: str) -> str | None:
    """Why `key_pem` is not an unencrypted PKCS#8 PEM signing key, or None."""
    if "-----BEGIN PRIVATE KEY-----" not in key_pem:
        return "is not an unencrypted PKCS#8 PEM key (-----BEGIN PRIVATE KEY-----)"
    key = _load(key_pem, _KEY)
    if key is None:
        return "cannot be read as a PKCS#8 PEM private key"
    if not isinstance(key, _private_signing_keys()):
        return "is not a signing key type (ECDSA, Ed25519 or RSA)"
    return None


def public_key_matches(cert_pem: str, other_pem: str) -> bool:
    """Whether the certificate and `other_pem` (CSR, private key or certificate) share a key."""
    from cryptography.exceptions import UnsupportedAlgorithm

    cert = _load(cert_pem, _CERT)
    other = _load(other_pem, _pem_kind(other_pem))
    if cert is None or other is None:
        return False
    try:
        return _spki(cert.public_key()) == _spki(other.public_key())
    except (UnsupportedAlgorithm, ValueError):
        return False


# ---- helpers -----------------------------------------------------------------------------


def _subject(common_name: str) -> x509.Name:
    from cryptography import x509
    from cryptography.x509.name import _ASN1Type
    from cryptography.x509.oid import NameOID

    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION, _type=_ASN1Type.UTF8String),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name, _type=_ASN1Type.PrintableString),
        ]
    )


def _validity(builder: x509.CertificateBuilder, days: int = 0) -> x509.CertificateBuilder:
    if days == 0:
        return builder.not_valid_before(NOT_BEFORE).not_valid_after(NOT_AFTER)
    start = datetime.datetime.now(datetime.UTC).replace(microsecond=0) - _SKEW
    return builder.not_valid_before(start).not_valid_after(start + _SKEW + datetime.timedelta(days=days))


def _day(when: datetime.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _serial_for(public_key: Any) -> int:
    """rcgen's serial: SHA-256 of the raw public key, first 20 bytes, top bit cleared."""
    digest = bytearray(_sha256(_raw_public(public_key))[:_SERIAL_LEN])
    digest[0] &= 0x7F
    return int.from_bytes(digest, "big")


def _raw_public(public_key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    return _spki(public_key)


def _spki(public_key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(
        public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _sha256(data: bytes) -> bytes:
    import hashlib

    return hashlib.sha256(data).digest()


def _hash_for(key: Any) -> Any:
    """The digest that goes with the CA key: SHA-384 for P-384, none for Ed25519, else SHA-256."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size == 384:
        return hashes.SHA384()
    return hashes.SHA256()


def _cert_pem(cert: x509.Certificate) -> str:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _key_pem(key: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    return str(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")
    )


def _pem_kind(pem: str) -> str:
    if "-----BEGIN CERTIFICATE REQUEST-----" in pem:
        return _CSR
    if "-----BEGIN CERTIFICATE-----" in pem:
        return _CERT
    return _KEY


@functools.lru_cache(maxsize=1024)
def _load(pem: str, kind: str) -> Any:
    """The parsed PEM object of `kind`, or None when it cannot be read (pure and immutable, so
    cached by content: a flow over many nodes reads each node's key and certificate several times)."""
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    loaders: dict[str, Callable[[bytes], Any]] = {
        _CERT: x509.load_pem_x509_certificate,
        _CSR: x509.load_pem_x509_csr,
        _KEY: lambda data: serialization.load_pem_private_key(data, password=None),
    }
    try:
        return loaders[kind](pem.encode("utf-8"))
    except (ValueError, TypeError, UnsupportedAlgorithm, UnicodeError):
        return None


def _names(subject: x509.Name, extensions: x509.Extensions) -> tuple[str | None, list[str]]:
    """(CN, DNS names of the SAN) of a certificate or CSR."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    common = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = str(common[0].value) if len(common) == 1 else None
    try:
        san = extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return cn, []
    names = []
    for name in san:
        if isinstance(name, x509.DNSName):
            names.append(name.value.lower())
        elif isinstance(name, x509.IPAddress):
            names.append(f"IP:{name.value}")
        else:
            names.append(f"{type(name).__name__}:{name.value}")
    return cn, names


def _show(names: tuple[str | None, list[str]]) -> str:
    cn, san = names
    return f"CN {cn!r} and SAN {san}"


def _is_ca(cert: x509.Certificate) -> bool:
    from cryptography import x509

    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, ValueError):
        return False


def _issued_by_problem(cert: x509.Certificate, cas: list[x509.Certificate]) -> str | None:
    """None when one CA of the bundle `cas` signed `cert`."""
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

    for ca_cert in cas:
        try:
            cert.verify_directly_issued_by(ca_cert)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            continue
        return None
    return "is not issued by the chain's CA (issuer or signature does not match ca_cert/cert.pem)"


def _csr_extensions() -> tuple[Any, ...]:
    from cryptography.x509.oid import ExtensionOID

    return (ExtensionOID.SUBJECT_ALTERNATIVE_NAME, ExtensionOID.KEY_USAGE, ExtensionOID.EXTENDED_KEY_USAGE)


def _signing_keys() -> tuple[type, ...]:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    return (ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey, rsa.RSAPublicKey)


def _private_signing_keys() -> tuple[type, ...]:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    return (ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey, rsa.RSAPrivateKey)


def cert_not_after(cert_pem: str) -> str:
    """The certificate's not-after time, `YYYY-MM-DDTHH:MM:SSZ` (UTC)."""
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    return _day(cert.not_valid_after_utc)


def days_left(not_after: datetime.datetime, now: datetime.datetime | None = None) -> int:
    """Whole days from `now` to `not_after` (negative once expired): the one computation of it."""
    remaining = not_after - (now or datetime.datetime.now(datetime.UTC))
    return remaining.days


def cert_lifetime(cert_pem: str) -> tuple[str, str, str, int] | None:
    """(subject CN, issuer CN, not-after `YYYY-MM-DDTHH:MM:SSZ`, days left) of a certificate, or
    None when it does not parse."""
    from cryptography.x509.oid import NameOID

    cert = _load(cert_pem, _CERT)
    if cert is None:
        return None

    def cn(name: x509.Name) -> str:
        found = name.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(found[0].value) if found else name.rfc4514_string()

    after = cert.not_valid_after_utc
    return cn(cert.subject), cn(cert.issuer), _day(after), days_left(after)
