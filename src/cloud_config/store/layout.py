"""Where a chain's files live: chain folder `{config_dir}/{chain}`, node folders beside it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CHAIN_CONFIG = "chain_config.toml"
NODE_CONFIG = "node_config.toml"
# What init-chain ignores in the chain folder: every secret the tool writes there.
GITIGNORE = "accounts/*/\nca_cert/key.pem\ncerts/*/key.pem\n"


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
        return self.chain_dir / "accounts"

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
        return self.config_dir / f"{self.chain_name}-{domain}"

    def cert_name(self, domain: str) -> str:
        """The name in a node's certificate and its Kubernetes objects."""
        return f"{self.chain_name}-{domain}"
