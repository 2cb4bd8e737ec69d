"""Fixture chains and node folders for the rendering tests, with real keys and certificates.

Accounts are derived from fixed secrets (so addresses are stable); certificates come from a real CA,
because loading a node checks that its certificate, TLS key and CA fit together.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from cloud_config.app.chain import fresh_chain_config
from cloud_config.crypto import pki
from cloud_config.crypto.accounts import BLS_ORDER, derive_account
from cloud_config.model import edits
from cloud_config.model.network_address import parse_list
from cloud_config.model.node import NodeConfig
from cloud_config.model.paths import ChainLayout
from cloud_config.model.stage import Stage

FIVE_NODES = (
    "8.8.8.8:40000:node0:k8s,8.8.8.8:40001:node1:k8s,8.8.8.8:40002:node2:k8s:cita,"
    "rivtower.com:40003:node3,9.9.9.9:40004:node4"
)
CHAIN = "test-chain"


def hexof(seed: str, length: int) -> str:
    """Deterministic fake hex of `length` characters."""
    out = ""
    while len(out) < length:
        out += hashlib.sha256(f"{seed}{len(out)}".encode()).hexdigest()
    return out[:length]


@functools.cache
def account(domain: str, consensus: str = "consensus_overlord") -> dict[str, str]:
    """The key files of a node's account, derived from a secret fixed by the domain."""
    secret = int(hexof(f"key-{domain}", 64), 16) % (BLS_ORDER - 1) + 1
    derived = derive_account(secret.to_bytes(32, "big"), consensus)
    return {
        "private_key": derived.private_key_hex,
        "node_address": derived.node_address,
        "validator_address": derived.validator_address,
    }


def make_chain(
    config_dir: Path,
    nodelist: str = FIVE_NODES,
    consensus: str = "consensus_overlord",
    name: str = CHAIN,
) -> ChainLayout:
    """A chain folder at Finalize with the given node list, a CA cert and every node's certificate."""
    layout = ChainLayout(config_dir, name)
    opts = edits.GenesisOptions(timestamp=1709695109593, consensus_image=consensus)
    config = fresh_chain_config(name, opts, 0)
    edits.set_admin(config, hexof("admin", 40))
    domains = [node.domain for node in parse_list(nodelist)]
    config.system_config.validators = [account(d, consensus)["validator_address"] for d in domains]
    edits.set_nodelist(config, nodelist)
    config.stage = Stage.FINALIZE
    layout.chain_dir.mkdir(parents=True, exist_ok=True)
    layout.chain_config.write_text(config.dumps(), encoding="utf-8")
    (layout.ca_dir).mkdir(exist_ok=True)
    ca_cert, ca_key = pki.create_ca()
    (layout.ca_dir / "cert.pem").write_text(ca_cert)
    (layout.ca_dir / "key.pem").write_text(ca_key)
    for domain in domains:
        write_account(layout.account_dir(account(domain, consensus)["node_address"]), domain, consensus)
        cert_dir = layout.cert_dir(domain)
        cert_dir.mkdir(parents=True, exist_ok=True)
        csr, key = pki.create_csr(layout.cert_name(domain))
        (cert_dir / "csr.pem").write_text(csr)
        (cert_dir / "key.pem").write_text(key)
        (cert_dir / "cert.pem").write_text(pki.sign_csr(ca_cert, ca_key, csr, layout.cert_name(domain)))
    return layout


def write_account(folder: Path, domain: str, consensus: str = "consensus_overlord") -> None:
    """Write the three account files of `domain` into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, value in account(domain, consensus).items():
        (folder / name).write_text(value)


def make_node(
    layout: ChainLayout, domain: str, *, consensus: str = "consensus_overlord", **settings: object
) -> Path:
    """A node folder as init-node leaves it (node_config.toml, account, TLS key), built by hand."""
    node_dir = layout.node_dir(domain)
    keys = account(domain, consensus)
    node = NodeConfig(account=keys["node_address"], exporter_chain_name=layout.chain_name)
    for key, value in settings.items():
        setattr(node, key, value)
    node_dir.mkdir(parents=True, exist_ok=True)
    (node_dir / "node_config.toml").write_text(node.dumps(), encoding="utf-8")
    write_account(node_dir / "accounts" / keys["node_address"], domain, consensus)
    (node_dir / "certs" / domain).mkdir(parents=True, exist_ok=True)
    (node_dir / "certs" / domain / "key.pem").write_bytes((layout.cert_dir(domain) / "key.pem").read_bytes())
    return node_dir


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its bytes."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }
