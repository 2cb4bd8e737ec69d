"""The one home of file names: where a chain's files live, how a node is named, which paths are secret.

The chain folder is `{config_dir}/{chain}`, each node folder `{config_dir}/{chain}-{domain}` beside
it; `{chain}-{domain}` also names the node's certificate and its Kubernetes objects. Everything that
asks "is this path secret?" (file modes, the chain folder's .gitignore, pruning, the PR gate) asks
this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

DEFAULT_CHAIN = "test-chain"  # cloud-config's default --chain-name
CHAIN_CONFIG = "chain_config.toml"
NODE_CONFIG = "node_config.toml"
MEMBERS_FILE = "members.toml"
CA_CERT = "ca_cert/cert.pem"
CA_KEY = "ca_cert/key.pem"
ACCOUNTS = "accounts"
CERT_FILE, CSR_FILE, KEY_FILE = "cert.pem", "csr.pem", "key.pem"
PRIVATE_KEY = "private_key"

# What init-chain ignores in the chain folder: every secret the tool writes there.
SECRET_GLOBS = (f"{ACCOUNTS}/*/", CA_KEY, f"certs/*/{KEY_FILE}")
GITIGNORE = "".join(f"{glob}\n" for glob in SECRET_GLOBS)
# Files a node folder's render writes that hold secret material (written 0600). The 6.7.4
# ConfigMaps are listed because a folder rendered by 6.7.4 holds the key in them.
GENERATED_SECRETS = frozenset(
    {
        "config.toml",
        PRIVATE_KEY,
        "yamls/secret-config.yaml",
        "yamls/secret-account.yaml",
        "yamls/cm-config.yaml",
        "yamls/cm-account.yaml",
    }
)
# File names that are secret wherever they stand (an account key, a TLS or CA key).
_SECRET_NAMES = {PRIVATE_KEY: "an account private key", KEY_FILE: "a private key file"}


# Encryption at rest (a node with `[secrets]` recipients): `.sops.yaml` holds the creation rules, so a
# person's `sops` edits use the same recipients; Argo CD decrypts through KSOPS's generator file.
SOPS_CONFIG = ".sops.yaml"
SECRET_GENERATOR = "secret-generator.yaml"
# Only the values of a Kubernetes Secret are encrypted (Flux and KSOPS read the rest).
ENCRYPTED_FIELDS = "^(data|stringData)$"
SopsKind = Literal["yaml", "binary"]
# The node folder's files held SOPS-encrypted, as `.sops.yaml` path regexes (relative to the node
# folder, first match wins): the rendered Secrets (YAML, values encrypted), then whole files: the
# account key and its rendered copy, the TLS key, config.toml (which embeds the TLS key), and in a
# creator's chain folder the CA key.
ENCRYPTED_PATHS: tuple[tuple[str, SopsKind], ...] = (
    (r"^yamls/secret-[^/]+\.yaml$", "yaml"),
    (
        rf"^({PRIVATE_KEY}|config\.toml|{ACCOUNTS}/[^/]+/{PRIVATE_KEY}|certs/[^/]+/key\.pem|ca_cert/key\.pem)$",
        "binary",
    ),
)
_ENCRYPTED = tuple((re.compile(rx), kind) for rx, kind in ENCRYPTED_PATHS)
# The same names in a creator's chain folder (`cloud-config secrets encrypt`): CA key, account keys,
# node TLS keys; all git-ignored (SECRET_GLOBS).
CHAIN_ENCRYPTED_GLOBS = (CA_KEY, f"{ACCOUNTS}/*/{PRIVATE_KEY}", f"certs/*/{KEY_FILE}")


def encrypted_at_rest(path: str) -> SopsKind | None:
    """How a node-folder file is held when its node encrypts at rest ("yaml": the values of a
    Kubernetes object; "binary": the whole file), or None for a file kept in plain text."""
    for pattern, kind in _ENCRYPTED:
        if pattern.match(path):
            return kind
    return None


def node_name(chain_name: str, domain: str) -> str:
    """`{chain}-{domain}`: a node's folder, its certificate name and the name of its Kubernetes objects."""
    return f"{chain_name}-{domain}"


def node_cert(domain: str) -> str:
    """`certs/<domain>/cert.pem`, the node's certificate (chain folder and node folder alike)."""
    return f"certs/{domain}/{CERT_FILE}"


def node_csr(domain: str) -> str:
    """`certs/<domain>/csr.pem`, the node's certificate request in the chain folder."""
    return f"certs/{domain}/{CSR_FILE}"


def node_key(domain: str) -> str:
    """`certs/<domain>/key.pem`, the node's TLS key (never in the chain repo)."""
    return f"certs/{domain}/{KEY_FILE}"


def generated_is_secret(path: str) -> bool:
    """Whether a file a node's render generates holds secret material (and must be 0600)."""
    return path in GENERATED_SECRETS


def key_material(path: str) -> str | None:
    """What secret a relative path names by itself (CA key, account folder, key file), or None.

    The same answer for a chain repo (the PR gate) and a node folder (pruning never touches these).
    """
    parts = PurePosixPath(path).parts
    if not parts:
        return None
    if path == CA_KEY:
        return "the CA private key"
    if parts[0] == ACCOUNTS and len(parts) > 2:
        return "an account folder (its private key must stay with its owner)"
    return _SECRET_NAMES.get(parts[-1])


@dataclass(frozen=True)
class ChainLayout:
    """The paths of one chain under a config folder."""

    config_dir: Path
    chain_name: str

    @property
    def chain_dir(self) -> Path:
        """The chain folder (the shared chain repo's content)."""
        return self.config_dir / self.chain_name

    @property
    def chain_config(self) -> Path:
        """`chain_config.toml` in the chain folder."""
        return self.chain_dir / CHAIN_CONFIG

    @property
    def accounts_dir(self) -> Path:
        """Where new-account writes (git-ignored)."""
        return self.chain_dir / ACCOUNTS

    @property
    def ca_dir(self) -> Path:
        """`ca_cert/` with cert.pem (shared) and key.pem (ignored)."""
        return self.chain_dir / "ca_cert"

    @property
    def certs_dir(self) -> Path:
        """`certs/<domain>/` with csr.pem, cert.pem (shared) and key.pem (ignored)."""
        return self.chain_dir / "certs"

    def account_dir(self, address: str) -> Path:
        """The folder of one account."""
        return self.accounts_dir / address

    def cert_dir(self, domain: str) -> Path:
        """The folder of one node's TLS material in the chain folder."""
        return self.certs_dir / domain

    def node_dir(self, domain: str) -> Path:
        """A node's folder: `{config_dir}/{chain}-{domain}`, beside the chain folder."""
        return self.config_dir / node_name(self.chain_name, domain)

    def retired_ca_key(self, generation: int) -> Path:
        """Where `rotate-ca --begin` moves the old CA key: outside the chain folder (no repo holds
        it), in a folder whose '.' no domain can have, so it never looks like a node folder."""
        return self.config_dir / f"{self.chain_name}.retired-ca" / f"ca-{generation}-key.pem"

    def cert_name(self, domain: str) -> str:
        """The name in a node's certificate and its Kubernetes objects."""
        return node_name(self.chain_name, domain)

    def hint(self, verb: str, *args: str) -> str:
        """`cloud-config VERB ...` as a fix hint, with the `--chain-name`/`--config-dir` in use
        (left out when they are the defaults), so a pasted hint acts on this chain."""
        import shlex

        words = ["cloud-config", verb]
        if self.chain_name != DEFAULT_CHAIN:
            words += ["--chain-name", self.chain_name]
        if self.config_dir != Path():
            words += ["--config-dir", str(self.config_dir)]
        return shlex.join([*words, *args])
