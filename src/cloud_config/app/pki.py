"""The CA and node-certificate use cases: create-ca, create-csr, sign-csr, import-ca, import-cert.

Every command checks its inputs, then writes under the chain folder's lock (`store.pki_files`
writes: private keys 0600 in 0700 folders, staged under paths the chain folder's .gitignore covers).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cloud_config.crypto import pki
from cloud_config.errors import ConfigError, ConflictError, UsageError
from cloud_config.model.chain import ChainConfig
from cloud_config.model.names import dns_label_problem
from cloud_config.model.paths import CERT_FILE as CERT
from cloud_config.model.paths import CSR_FILE as CSR
from cloud_config.model.paths import KEY_FILE as KEY
from cloud_config.model.paths import ChainLayout
from cloud_config.store.atomic import PUBLIC_MODE, SECRET_MODE, locked
from cloud_config.store.chain_files import read_chain, require_chain_dir
from cloud_config.store.files import read_flag_file
from cloud_config.store.pki_files import read_pem, write_tls


def create_ca(layout: ChainLayout, force: bool = False) -> None:
    """create-ca: a new CA, unless one exists and `force` is not given."""
    require_chain_dir(layout)
    with locked(layout.chain_dir):
        existing = [p for p in (layout.ca_dir / CERT, layout.ca_dir / KEY) if p.exists()]
        if existing and not force:
            raise ConflictError(
                f"{existing[0]} already exists; a new CA invalidates every certificate the old one "
                "signed (pass --force to replace it)"
            )
        cert_pem, key_pem = pki.create_ca()
        write_tls(layout, layout.ca_dir, {CERT: (cert_pem, PUBLIC_MODE), KEY: (key_pem, SECRET_MODE)})


def create_csr(
    layout: ChainLayout, domain: str, force: bool = False, chain: ChainConfig | None = None
) -> Path:
    """create-csr: a new node key and CSR; refuses to replace a key that has a signed certificate.

    `chain`: the chain folder's configuration, when the caller has read it already.
    """
    name = checked_cert_name(layout, domain)
    require_chain_dir(layout)
    folder = layout.cert_dir(domain)
    with locked(layout.chain_dir):
        cert = folder / CERT
        conflict = None if force else _certified_key_conflict(folder)
        if conflict:
            raise ConflictError(f"{conflict} (pass --force to make a new key and drop the certificate)")
        csr_pem, key_pem = pki.create_csr(name, _own_hosts(layout, domain, chain))
        write_tls(layout, folder, {CSR: (csr_pem, PUBLIC_MODE), KEY: (key_pem, SECRET_MODE)})
        # Whatever certificate is left was issued for another key.
        cert.unlink(missing_ok=True)
    return folder / CSR


def sign_csr(
    layout: ChainLayout,
    domain: str,
    days: int = pki.DEFAULT_DAYS,
    renew: bool = False,
    chain: ChainConfig | None = None,
) -> Path:
    """sign-csr: check the CSR and the CA, then issue `certs/<domain>/cert.pem` for `days`.

    An existing certificate that is still good for this CSR is kept unless `renew` (renew-cert);
    `chain`: the chain folder's configuration, when the caller has read it already.
    """
    if days < 0:
        raise UsageError("--days", f"must be 0 (6.7.4's 1975-4096) or a positive number of days, not {days}")
    name = checked_cert_name(layout, domain)
    require_chain_dir(layout)
    folder = layout.cert_dir(domain)
    with locked(layout.chain_dir):
        ca_cert, ca_key = read_ca(layout)
        csr = read_pem(folder / CSR, f"run `{layout.hint('create-csr', '--domain', domain)}` first")
        hosts = _own_hosts(layout, domain, chain)
        problem = pki.csr_problem(csr, name, hosts)
        if problem:
            raise ConfigError(str(folder / CSR), None, problem)
        old = folder / CERT
        if not renew and old.exists():
            old_pem = read_pem(old)
            if not pki.cert_problems(old_pem, ca_cert, name, csr, hosts) and not pki.leaf_problem(old_pem):
                return old  # already signed: a new signature would only change bytes (and make a commit)
        cert_pem = pki.sign_csr(ca_cert, ca_key, csr, name, hosts, days=days)
        write_tls(layout, folder, {CERT: (cert_pem, PUBLIC_MODE)})
    return folder / CERT


def _own_hosts(layout: ChainLayout, domain: str, chain: ChainConfig | None = None) -> tuple[str, ...]:
    """The names besides `{chain}-{domain}` the node's certificate carries: its listed host;
    `chain`: the chain folder's configuration, when the caller has read it already."""
    if chain is not None:
        return pki.cert_hosts(chain.node(domain))
    if not layout.chain_config.is_file():
        return ()
    return pki.cert_hosts(read_chain(layout).node(domain))


def renew_cert(layout: ChainLayout, domain: str, days: int = pki.DEFAULT_DAYS) -> Path:
    """renew-cert: sign the node's CSR again (the same key, or a new one after create-csr --force)."""
    if (
        not layout.cert_dir(domain).joinpath(CSR).is_file()
        and layout.cert_dir(domain).joinpath(CERT).is_file()
    ):
        raise ConfigError(
            str(layout.cert_dir(domain) / CSR), None,
            "is missing: an imported certificate is renewed by importing its successor (import-cert)",
        )  # fmt: skip
    return sign_csr(layout, domain, days, renew=True)


@dataclass(frozen=True)
class CertInfo:
    """One certificate of the chain folder, for `certs`."""

    path: str  # relative to the chain folder
    domain: str  # "" for the CA
    subject: str
    issuer: str
    not_after: str
    days_left: int


def list_certs(layout: ChainLayout) -> list[CertInfo]:
    """Every certificate of the chain folder: each CA of ca_cert/cert.pem, then each node's."""
    require_chain_dir(layout)
    found: list[CertInfo] = []
    files = [(layout.ca_dir / CERT, "")]
    certs_root = layout.certs_dir
    if certs_root.is_dir():
        files += [(p / CERT, p.name) for p in sorted(certs_root.iterdir()) if (p / CERT).is_file()]
    for path, domain in files:
        if not path.is_file():
            continue
        relative = path.relative_to(layout.chain_dir).as_posix()
        for pem in pki.split_bundle(read_pem(path)):
            lifetime = pki.cert_lifetime(pem)
            if lifetime is None:
                raise ConfigError(relative, None, "is not a PEM certificate")
            found.append(CertInfo(relative, domain, *lifetime))
    return found


def read_ca(layout: ChainLayout) -> tuple[str, str]:
    """The CA certificate and key that can sign, or the error that says why not."""
    ca_cert = read_pem(layout.ca_dir / CERT, f"run `{layout.hint('create-ca')}` or `import-ca` first")
    ca_key = read_pem(layout.ca_dir / KEY, "only the holder of the CA key can sign")
    problems = pki.ca_problems(ca_cert, ca_key)
    if problems:
        raise ConfigError(str(layout.ca_dir), None, "; ".join(problems))
    return ca_cert, ca_key


def _certified_key_conflict(folder: Path) -> str | None:
    """Why a new key for this node would orphan a signed certificate, or None."""
    cert, key = folder / CERT, folder / KEY
    if not cert.exists():
        return None
    if not key.exists():
        return f"{cert} is a signed certificate for a key kept elsewhere; a new key here would replace it"
    if pki.public_key_matches(read_pem(cert), read_pem(key)):
        return f"{key} already has a signed certificate ({cert}); a new key makes it useless"
    return None  # the certificate is already stale


def import_ca(layout: ChainLayout, cert_path: Path, key_path: Path, force: bool = False) -> None:
    """import-ca: copy a CA certificate and its key in, after checking that they belong together."""
    require_chain_dir(layout)
    cert_pem = read_flag_file("--ca-cert", cert_path)
    key_pem = read_flag_file("--ca-key", key_path)
    problems = pki.ca_problems(cert_pem)
    if problems:
        raise UsageError("--ca-cert", f"{cert_path}: {'; '.join(problems)}")
    _check_key("--ca-key", key_path, key_pem, cert_pem, "--ca-cert")
    with locked(layout.chain_dir):
        old = layout.ca_dir / CERT
        if not force and old.exists() and not pki.public_key_matches(read_pem(old), key_pem):
            raise ConflictError(
                f"{old} holds another CA; replacing it invalidates every certificate it signed "
                "(pass --force to replace it)"
            )
        write_tls(layout, layout.ca_dir, {CERT: (cert_pem, PUBLIC_MODE), KEY: (key_pem, SECRET_MODE)})


def import_cert(layout: ChainLayout, domain: str, cert_path: Path, key_path: Path) -> None:
    """import-cert: copy a node certificate and key in, after checking key, CA and name."""
    name = checked_cert_name(layout, domain)
    require_chain_dir(layout)
    cert_pem = read_flag_file("--cert", cert_path)
    key_pem = read_flag_file("--key", key_path)
    folder = layout.cert_dir(domain)
    with locked(layout.chain_dir):
        ca_cert = read_pem(layout.ca_dir / CERT, "import or create the chain's CA first")
        problems = pki.ca_problems(ca_cert)
        if problems:
            raise ConfigError(str(layout.ca_dir / CERT), None, "; ".join(problems))
        problems = pki.cert_problems(cert_pem, ca_cert, name, hosts=_own_hosts(layout, domain))
        if problems:
            raise UsageError("--cert", f"{cert_path}: {'; '.join(problems)}")
        _check_key("--key", key_path, key_pem, cert_pem, "--cert")
        write_tls(layout, folder, {CERT: (cert_pem, PUBLIC_MODE), KEY: (key_pem, SECRET_MODE)})
        csr = folder / CSR
        if csr.exists() and not pki.public_key_matches(cert_pem, read_pem(csr)):
            csr.unlink()  # a request for a key that is no longer this node's


def read_node_tls(layout: ChainLayout, domain: str) -> tuple[str, str, str]:
    """(CA cert, node cert, node key) PEMs of `domain` in the chain folder, checked to fit together
    (the names the certificate may carry besides `{chain}-{domain}` are the gate's to judge)."""
    name = checked_cert_name(layout, domain)
    folder = layout.cert_dir(domain)
    ca_cert = read_pem(layout.ca_dir / CERT, f"run `{layout.hint('create-ca')}` or `import-ca` first")
    cert = read_pem(
        folder / CERT, f"run `{layout.hint('sign-csr', '--domain', domain)}` (or import-cert) first"
    )
    key = read_pem(folder / KEY, f"the node's TLS key belongs in {folder}")
    problem = pki.private_key_problem(key)
    if problem:
        raise ConfigError(str(folder / KEY), None, problem)
    problems = pki.cert_problems(cert, ca_cert, name, key, pki.host_names(cert))  # hosts: the gate's
    if problems:
        raise ConfigError(str(folder / CERT), None, "; ".join(problems))
    return ca_cert, cert, key


def checked_cert_name(layout: ChainLayout, domain: str) -> str:
    """`{chain}-{domain}`, refused before anything is written when it cannot name a certificate."""
    problem = dns_label_problem(layout.chain_name)
    if problem:
        raise UsageError("--chain-name", f"{layout.chain_name!r} {problem} (it names the node certificates)")
    if not domain:
        raise UsageError("--domain", "must not be empty")
    name = layout.cert_name(domain)
    problem = pki.cert_name_problem(name)
    if problem:
        raise UsageError("--domain", f"certificate name {name!r} {problem}")
    return name


def _check_key(flag: str, path: Path, key_pem: str, cert_pem: str, cert_flag: str) -> None:
    problem = pki.private_key_problem(key_pem)
    if problem:
        raise UsageError(flag, f"{path} {problem}")
    if not pki.public_key_matches(cert_pem, key_pem):
        raise UsageError(flag, f"{path} does not match the certificate given by {cert_flag}")
