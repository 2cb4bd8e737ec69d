"""Fixture chains and node folders for the rendering tests, built without the crypto layer.

Key material here is well-formed but fake: renderers only copy it, never interpret it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cloud_config.model import edits
from cloud_config.model.node import NodeConfig
from cloud_config.model.stage import Stage
from cloud_config.store.layout import ChainLayout

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


def pem(kind: str, seed: str) -> str:
    """A well-formed PEM block with fake content."""
    body = hashlib.sha256(seed.encode()).hexdigest() * 2
    return f"-----BEGIN {kind}-----\n{body[:64]}\n{body[64:]}\n-----END {kind}-----\n"


def account(domain: str, consensus: str = "consensus_overlord") -> dict[str, str]:
    """Fake key files of a node's account."""
    node_address = hexof(f"addr-{domain}", 40)
    validator = hexof(f"val-{domain}", 96) if consensus == "consensus_overlord" else node_address
    return {
        "private_key": hexof(f"key-{domain}", 64),
        "node_address": node_address,
        "validator_address": validator,
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
    config = edits.new_chain_config(name, opts, 0)
    edits.set_admin(config, hexof("admin", 40))
    domains = [item.split(":")[2] for item in nodelist.split(",")]
    config.system_config.validators = [account(d, consensus)["validator_address"] for d in domains]
    edits.set_nodelist(config, nodelist)
    config.stage = Stage.FINALIZE
    layout.chain_dir.mkdir(parents=True, exist_ok=True)
    layout.chain_config.write_text(config.dumps(), encoding="utf-8")
    (layout.ca_dir).mkdir(exist_ok=True)
    (layout.ca_dir / "cert.pem").write_text(pem("CERTIFICATE", "ca"))
    (layout.ca_dir / "key.pem").write_text(pem("PRIVATE KEY", "ca-key"))
    for domain in domains:
        write_account(layout.account_dir(account(domain, consensus)["node_address"]), domain, consensus)
        cert_dir = layout.cert_dir(domain)
        cert_dir.mkdir(parents=True, exist_ok=True)
        (cert_dir / "cert.pem").write_text(pem("CERTIFICATE", f"cert-{domain}"))
        (cert_dir / "key.pem").write_text(pem("PRIVATE KEY", f"tls-{domain}"))
        (cert_dir / "csr.pem").write_text(pem("CERTIFICATE REQUEST", f"csr-{domain}"))
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
    (node_dir / "certs" / domain / "key.pem").write_text(pem("PRIVATE KEY", f"tls-{domain}"))
    return node_dir


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its bytes."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }
