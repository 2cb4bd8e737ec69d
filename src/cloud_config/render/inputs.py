"""What rendering one node needs: the chain and node configuration and the node's own key material."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from cloud_config.model.chain import ChainConfig
from cloud_config.model.network_address import NodeNetworkAddress
from cloud_config.model.node import NodeConfig
from cloud_config.model.paths import node_name


@dataclass
class NodeInputs:
    """Everything `render_node` reads; secret fields are kept out of `repr` so they never reach a log."""

    chain_name: str
    domain: str
    chain: ChainConfig
    node: NodeConfig
    chain_text: str
    ca_cert: str
    cert: str
    node_address: str
    validator_address: str
    private_key: str = field(repr=False)
    key: str = field(repr=False)

    @cached_property
    def me(self) -> NodeNetworkAddress:
        """This node's entry in the node list (the last one with its domain, as cloud-config reads it)."""
        found = [n for n in self.chain.node_network_address_list if n.domain == self.domain]
        if not found:
            raise LookupError(f"node {self.domain} is no longer in the chain's node list")
        return found[-1]

    @property
    def node_name(self) -> str:
        """`{chain}-{domain}`: the node's certificate name and the name of its Kubernetes objects."""
        return node_name(self.chain_name, self.domain)

    def peer_name(self, peer: NodeNetworkAddress) -> str:
        """The Service name of another node."""
        return node_name(self.chain_name, peer.domain)
