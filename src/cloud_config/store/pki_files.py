"""The chain folder's TLS files: `ca_cert/{cert,key}.pem` and `certs/<domain>/{csr,cert,key}.pem`.

Every command checks its inputs, then writes under the chain folder's lock; private keys are
secret files (0600, folder 0700) and git-ignored by the chain folder's .gitignore.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from cloud_config.crypto import pki
from cloud_config.errors import ConfigError, ConflictError, NotFoundError, UsageError
from cloud_config.model.names import dns_label_problem
from cloud_config.store.atomic import PUBLIC_MODE, SECRET_DIR_MODE, SECRET_MODE, locked, write_many
from cloud_config.store.chain_files import require_chain_dir
from cloud_config.store.layout import ChainLayout

CERT, KEY, CSR = "cert.pem", "key.pem", "csr.pem"


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
        _write(layout, layout.ca_dir, {CERT: (cert_pem, PUBLIC_MODE), KEY: (key_pem, SECRET_MODE)})


def create_csr(layout: ChainLayout, domain: str, force: bool = False) -> Path:
    """create-csr: a new node key and CSR; refuses to replace a key that has a signed certificate."""
    name = checked_cert_name(layout, domain)
    require_chain_dir(layout)
    folder = layout.cert_dir(domain)
    with locked(layout.chain_dir):
        cert = folder / CERT
        conflict = None if force else _certified_key_conflict(folder)
        if conflict:
            raise ConflictError(f"{conflict} (pass --force to make a new key and drop the certificate)")
        csr_pem, key_pem = pki.create_csr(name)
        _write(layout, folder, {CSR: (csr_pem, PUBLIC_MODE), KEY: (key_pem, SECRET_MODE)})
        # Whatever certificate is left was issued for another key.
        cert.unlink(missing_ok=True)
    return folder / CSR


def sign_csr(layout: ChainLayout, domain: str) -> Path:
    """sign-csr: check the CSR and the CA, then issue `certs/<domain>/cert.pem`."""
    name = checked_cert_name(layout, domain)
    require_chain_dir(layout)
    folder = layout.cert_dir(domain)
    with locked(layout.chain_dir):
        ca_cert, ca_key = read_ca(layout)
        csr = _read(folder / CSR, f"run `cloud-config create-csr --domain {domain}` first")
        problem = pki.csr_problem(csr, name)
        if problem:
            raise ConfigError(str(folder / CSR), None, problem)
        old = folder / CERT
        if old.exists() and not pki.cert_problems(_read(old), ca_cert, name, public_of=csr):
            return old  # already signed: a new signature would only change bytes (and make a commit)
        cert_pem = pki.sign_csr(ca_cert, ca_key, csr, name)
        _write(layout, folder, {CERT: (cert_pem, PUBLIC_MODE)})
    return folder / CERT


def read_ca(layout: ChainLayout) -> tuple[str, str]:
    """The CA certificate and key that can sign, or the error that says why not."""
    ca_cert = _read(layout.ca_dir / CERT, "run `cloud-config create-ca` or `import-ca` first")
    ca_key = _read(layout.ca_dir / KEY, "only the holder of the CA key can sign")
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
    if pki.public_key_matches(_read(cert), _read(key)):
        return f"{key} already has a signed certificate ({cert}); a new key makes it useless"
    return None  # the certificate is already stale


def import_ca(layout: ChainLayout, cert_path: Path, key_path: Path, force: bool = False) -> None:
    """import-ca: copy a CA certificate and its key in, after checking that they belong together."""
    require_chain_dir(layout)
    cert_pem = _read_flag("--ca-cert", cert_path)
    key_pem = _read_flag("--ca-key", key_path)
    problems = pki.ca_problems(cert_pem)
    if problems:
        raise UsageError("--ca-cert", f"{cert_path}: {'; '.join(problems)}")
    _check_key("--ca-key", key_path, key_pem, cert_pem, "--ca-cert")
    with locked(layout.chain_dir):
        old = layout.ca_dir / CERT
        if not force and old.exists() and not pki.public_key_matches(_read(old), key_pem):
            raise ConflictError(
                f"{old} holds another CA; replacing it invalidates every certificate it signed "
                "(pass --force to replace it)"
            )
        _write(layout, layout.ca_dir, {CERT: (cert_pem, PUBLIC_MODE), KEY: (key_pem, SECRET_MODE)})


def import_cert(layout: ChainLayout, domain: str, cert_path: Path, key_path: Path) -> None:
    """import-cert: copy a node certificate and key in, after checking key, CA and name."""
    name = checked_cert_name(layout, domain)
    require_chain_dir(layout)
    cert_pem = _read_flag("--cert", cert_path)
    key_pem = _read_flag("--key", key_path)
    folder = layout.cert_dir(domain)
    with locked(layout.chain_dir):
        ca_cert = _read(layout.ca_dir / CERT, "import or create the chain's CA first")
        problems = pki.ca_problems(ca_cert)
        if problems:
            raise ConfigError(str(layout.ca_dir / CERT), None, "; ".join(problems))
        problems = pki.cert_problems(cert_pem, ca_cert, name)
        if problems:
            raise UsageError("--cert", f"{cert_path}: {'; '.join(problems)}")
        _check_key("--key", key_path, key_pem, cert_pem, "--cert")
        _write(layout, folder, {CERT: (cert_pem, PUBLIC_MODE), KEY: (key_pem, SECRET_MODE)})
        csr = folder / CSR
        if csr.exists() and not pki.public_key_matches(cert_pem, _read(csr)):
            csr.unlink()  # a request for a key that is no longer this node's


def read_node_tls(layout: ChainLayout, domain: str) -> tuple[str, str, str]:
    """(CA cert, node cert, node key) PEMs of `domain` in the chain folder, checked to fit together."""
    name = checked_cert_name(layout, domain)
    folder = layout.cert_dir(domain)
    ca_cert = _read(layout.ca_dir / CERT, "run `cloud-config create-ca` or `import-ca` first")
    cert = _read(folder / CERT, f"run `cloud-config sign-csr --domain {domain}` (or import-cert) first")
    key = _read(folder / KEY, f"the node's TLS key belongs in {folder}")
    problem = pki.private_key_problem(key)
    if problem:
        raise ConfigError(str(folder / KEY), None, problem)
    problems = pki.cert_problems(cert, ca_cert, name, public_of=key)
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


def _write(layout: ChainLayout, folder: Path, files: dict[str, tuple[str, int]]) -> None:
    """Write the files of one folder together; a folder holding a key is 0700.

    A key is first written whole under `certs/.<random>.partial/key.pem`, a path the chain
    folder's .gitignore (`certs/*/key.pem`) already covers, so even a write killed half-way leaves
    no key where `git add -A` would pick it up; then it is renamed into place.
    """
    folder.mkdir(mode=SECRET_DIR_MODE, parents=True, exist_ok=True)
    keys = {name: text for name, (text, mode) in files.items() if mode == SECRET_MODE}
    public = {folder / n: (text.encode("utf-8"), mode) for n, (text, mode) in files.items() if n not in keys}
    if keys:
        os.chmod(folder, SECRET_DIR_MODE)
    staged: list[tuple[Path, Path]] = []
    try:
        for name, text in keys.items():
            staged.append((stage_key(layout, text.encode("utf-8")), folder / name))
        write_many(public)
        for temp, target in staged:
            os.replace(temp, target)
    finally:
        for temp, _ in staged:
            shutil.rmtree(temp.parent, ignore_errors=True)


def stage_key(layout: ChainLayout, data: bytes) -> Path:
    """Write `data` as a new 0600 `certs/.<random>.partial/key.pem` (git-ignored); return its path."""
    layout.certs_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=layout.certs_dir, prefix=".", suffix=".partial"))  # mode 0700
    path = staging / KEY
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def _read(path: Path, hint: str = "") -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"{path} does not exist" + (f"; {hint}" if hint else "")) from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), None, "is not PEM text") from None


def _read_flag(flag: str, path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(flag, f"{path} does not exist") from None
    except IsADirectoryError:
        raise UsageError(flag, f"{path} is a folder, expected a PEM file") from None
    except UnicodeDecodeError:
        raise UsageError(flag, f"{path} is not PEM text") from None
