"""Age identities made with pyrage, the real `sops -d`, and the key material a node must never show."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path
from typing import Any

import pyrage

from cloud_config.model.paths import ChainLayout
from cloud_config.store.sops import sops_binary
from tests.support.render import CHAIN, account


def age_identity(folder: Path, name: str) -> tuple[Path, str]:
    """A new age identity file `folder/<name>.agekey` (0600) and its recipient."""
    identity = pyrage.x25519.Identity.generate()
    path = folder / f"{name}.agekey"
    path.write_text(f"{identity}\n")
    path.chmod(0o600)
    return path, str(identity.to_public())


def sops_d(path: Path, identity: Path) -> subprocess.CompletedProcess[bytes]:
    """`sops -d <path>` as a person runs it, with SOPS_AGE_KEY_FILE=identity."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_AGE")}
    env.update(SOPS_AGE_KEY_FILE=str(identity), SOPS_DISABLE_VERSION_CHECK="1")
    return subprocess.run(
        [sops_binary(), "-d", str(path)], cwd=path.parent, env=env, capture_output=True, check=False
    )


def forbidden(private_key: str, tls_key: str) -> list[str]:
    """Strings no node-repo file may hold: the account key hex, the TLS key PEM (and each line of
    its body), and their base64."""
    body = [line for line in tls_key.splitlines() if line and not line.startswith("-----")]
    b64 = [base64.b64encode(text.encode()).decode() for text in (private_key, tls_key)]
    return [private_key, tls_key, *body, *b64]


def flags(layout: ChainLayout) -> list[str]:
    return ["--config-dir", str(layout.config_dir), "--chain-name", CHAIN]


def init_encrypted(cli: Any, layout: ChainLayout, *recipients: str, engine: str = "argocd") -> Path:
    addr = account("node0")["node_address"]
    to = [a for r in recipients for a in ("--encrypt-to", r)]
    r = cli("init-node", *flags(layout), "--domain", "node0", "--account", addr, *to)
    assert r.code == 0, r.err
    assert cli("update-node", *flags(layout), "--domain", "node0").code == 0
    r = cli("update-yaml", *flags(layout), "--domain", "node0", "--storage-class", "sc", "--engine", engine)
    assert r.code == 0, r.err
    return layout.node_dir("node0")
