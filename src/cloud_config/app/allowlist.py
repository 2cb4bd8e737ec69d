"""peers: who may reach a node, for a cloud firewall (the same list its NetworkPolicy admits)."""

from __future__ import annotations

from dataclasses import dataclass

from cloud_config.model.node import NodeConfig
from cloud_config.model.paths import NODE_CONFIG, ChainLayout
from cloud_config.render import allowlist
from cloud_config.render.config_toml import p2p_port
from cloud_config.store import chain_files


@dataclass
class Peers:
    """A node's admitted peers, the port they reach (UDP), and the warnings on how they are admitted."""

    domain: str
    port: int
    protocol: str
    sources: list[allowlist.PeerSource]
    warnings: list[str]


def peers(layout: ChainLayout, domain: str) -> Peers:
    """The current peers of `domain` with their sources; `--peer-cidr`s from its node folder, if here."""
    chain = chain_files.read_chain(layout)
    me = chain.node(domain)
    if me is None:
        from cloud_config.errors import NotFoundError

        listed = ", ".join(n.domain for n in chain.node_network_address_list) or "none"
        raise NotFoundError(f"--domain: node {domain!r} is not in the node list (nodes: {listed})")
    cidrs: dict[str, str] = {}
    path = layout.node_dir(domain) / NODE_CONFIG
    if path.is_file():
        node = NodeConfig.loads(path.read_text(encoding="utf-8"), str(path))
        if node.deployment is not None:
            cidrs = node.deployment.peer_cidr_map()
    sources, warnings = allowlist.peer_sources(layout.chain_name, chain, domain, cidrs)
    return Peers(domain, p2p_port(me), allowlist.P2P_PROTOCOL, sources, warnings)
