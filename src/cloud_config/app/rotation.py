"""rotate-ca: the chain's CA replaced in three phases, each one PR, with no outage.

* begin: a new CA (`CN=CA-<n>`, its own key and SKID) joins the old one in `ca_cert/cert.pem`
  (old first, new last), so every node's rendered `ca_cert` trusts both; the new key replaces
  `ca_cert/key.pem` and the old key leaves the chain folder for a 0600 file beside it;
* reissue: every node CSR of the node list is signed again by the new CA (the CSRs are in the
  repo, so no member has to act);
* finish: the old CA leaves the bundle (refused while a certificate still depends on it), and
  the retired key file is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cloud_config.crypto import pki
from cloud_config.errors import ConfigError, ConflictError
from cloud_config.model.paths import CERT_FILE, CSR_FILE, KEY_FILE, ChainLayout
from cloud_config.store.atomic import PUBLIC_MODE, SECRET_DIR_MODE, SECRET_MODE, locked, write_many
from cloud_config.store.chain_files import require_chain_dir
from cloud_config.store.node_files import load_chain
from cloud_config.store.pki_files import read_pem, write_tls


@dataclass
class Rotated:
    """What one phase did, for the command to print."""

    phase: str
    retired_key: Path | None = None  # begin: where the old key went; finish: the file deleted
    reissued: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # CSRs of domains no longer in the node list


def _bundle(layout: ChainLayout, count: int, hint: str) -> tuple[list[str], str]:
    """The CA bundle (checked to hold `count` CAs, the key the newest's) and the CA key."""
    ca_path = layout.ca_dir / CERT_FILE
    text = read_pem(ca_path, "run `cloud-config create-ca` or `import-ca` first")
    key = read_pem(layout.ca_dir / KEY_FILE, "only the holder of the CA key can rotate the CA")
    problems = pki.ca_problems(text, key)
    if problems:
        raise ConfigError(str(layout.ca_dir), None, "; ".join(problems))
    cas = pki.split_bundle(text)
    if len(cas) != count:
        raise ConflictError(f"{ca_path} holds {len(cas)} CA certificate(s): {hint}")
    return cas, key


def begin(layout: ChainLayout) -> Rotated:
    """rotate-ca --begin."""
    require_chain_dir(layout)
    with locked(layout.chain_dir):
        (old,), old_key = _bundle(layout, 1, "a rotation is under way (run --reissue, then --finish)")
        generation = pki.ca_generation(old)
        new_cert, new_key = pki.create_ca(generation + 1)
        retired = layout.retired_ca_key(generation)
        if retired.exists():
            raise ConflictError(f"{retired} already exists; move it away first (it is a CA key)")
        retired.parent.mkdir(mode=SECRET_DIR_MODE, exist_ok=True)
        write_many({retired: (old_key.encode("ascii"), SECRET_MODE)})  # before the key is replaced
        write_tls(
            layout,
            layout.ca_dir,
            {CERT_FILE: (old + new_cert, PUBLIC_MODE), KEY_FILE: (new_key, SECRET_MODE)},
        )
    return Rotated("begin", retired_key=retired)


def reissue(layout: ChainLayout) -> Rotated:
    """rotate-ca --reissue: every node CSR of the node list signed again by the new CA."""
    chain, _ = load_chain(layout.chain_dir, layout.chain_name)
    with locked(layout.chain_dir):
        cas, key = _bundle(layout, 2, "run `cloud-config rotate-ca --begin` first")
        bundle, newest = "".join(cas), cas[-1]
        listed = [n.domain for n in chain.node_network_address_list]
        done = Rotated("reissue")
        files: dict[Path, tuple[bytes, int]] = {}
        for domain in listed:
            folder = layout.cert_dir(domain)
            if not (folder / CSR_FILE).is_file():
                if (folder / CERT_FILE).is_file():
                    raise ConfigError(
                        str(folder / CSR_FILE), None,
                        f"is missing, so {domain}'s certificate cannot be re-signed: its owner runs "
                        f"`cloud-config create-csr --domain {domain} --force` first",
                    )  # fmt: skip
                continue
            csr = read_pem(folder / CSR_FILE)
            name = layout.cert_name(domain)
            hosts = pki.cert_hosts(chain.node(domain))
            problem = pki.csr_problem(csr, name, hosts)
            if problem:
                raise ConfigError(str(folder / CSR_FILE), None, problem)
            cert = folder / CERT_FILE
            if cert.is_file() and pki.issued_by(read_pem(cert), newest):
                continue  # already the new CA's
            files[cert] = (pki.sign_csr(bundle, key, csr, name, hosts).encode("ascii"), PUBLIC_MODE)
            done.reissued.append(domain)
        if layout.certs_dir.is_dir():
            done.skipped = sorted(
                p.parent.name for p in layout.certs_dir.glob(f"*/{CSR_FILE}") if p.parent.name not in listed
            )
        write_many(files)
    return done


def finish(layout: ChainLayout) -> Rotated:
    """rotate-ca --finish: the old CA out of the bundle, once no certificate depends on it."""
    require_chain_dir(layout)
    with locked(layout.chain_dir):
        cas, _ = _bundle(layout, 2, "there is no rotation to finish (run --begin first)")
        old, newest = cas
        certs = sorted(layout.certs_dir.glob(f"*/{CERT_FILE}")) if layout.certs_dir.is_dir() else []
        stale = [p.parent.name for p in certs if not pki.issued_by(read_pem(p), newest)]
        if stale:
            raise ConflictError(
                f"{len(stale)} certificate(s) are not issued by the new CA yet ({', '.join(stale)}): "
                "run `cloud-config rotate-ca --reissue` and merge it first"
            )
        write_many({layout.ca_dir / CERT_FILE: (newest.encode("ascii"), PUBLIC_MODE)})
        retired = layout.retired_ca_key(pki.ca_generation(old))
        gone = retired if retired.is_file() else None
        retired.unlink(missing_ok=True)
    return Rotated("finish", retired_key=gone)
