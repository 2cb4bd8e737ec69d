"""Who may reach a node: its current peers on the p2p port, and its own namespace (plus a
monitoring namespace) on the gRPC and metrics ports.

network_zenoh's QUIC link asks a connecting peer for no certificate (docs/membership.md), so a
departed node that still reaches a node's p2p port can connect. The allowlist is what keeps it out:
the same list renders the node's NetworkPolicy (render.k8s) and `cloud-config peers`, which prints
it for a cloud firewall where no CNI enforces NetworkPolicy. Pure: same inputs, same list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cloud_config.model.chain import ChainConfig
from cloud_config.model.network_address import NodeNetworkAddress, host_cidr
from cloud_config.model.paths import node_name

P2P_PROTOCOL = "UDP"  # the transport cloud-config renders is quic: QUIC over UDP


@dataclass(frozen=True)
class PeerSource:
    """Where one current peer's traffic comes from, as the node's ingress rules admit it."""

    domain: str
    name: str  # `{chain}-{domain}`
    same_cluster: bool  # admitted by pod and namespace selectors
    namespace: str  # the peer's namespace (same-cluster peers)
    cidr: str  # the source addresses of a peer outside the cluster; "" for a same-cluster peer
    cidr_from: str  # "peer-cidr" (set with --peer-cidr), "host" (the peer's IP host) or "" (none)

    def to_dict(self) -> dict[str, object]:
        """As `peers --format json` prints it."""
        return {
            "domain": self.domain,
            "name": self.name,
            "same_cluster": self.same_cluster,
            "namespace": self.namespace if self.same_cluster else "",
            "cidr": self.cidr,
            "cidr_from": self.cidr_from,
        }


def peer_sources(
    chain_name: str, chain: ChainConfig, domain: str, peer_cidrs: Mapping[str, str]
) -> tuple[list[PeerSource], list[str]]:
    """The current peers of `domain` (every other node of the list, in list order) and the
    warnings: a CIDR taken from the peer's dialled IP (egress NAT may differ), or a peer that no
    rule admits (no --peer-cidr and a host that is not an IP)."""
    nodes = chain.node_network_address_list
    me = _me(nodes, domain)
    sources, warnings = [], []
    for peer in (n for n in nodes if n.domain != domain):
        name = node_name(chain_name, peer.domain)
        if me.is_k8s and peer.is_k8s and peer.cluster == me.cluster:
            sources.append(PeerSource(peer.domain, name, True, peer.name_space, "", ""))
            continue
        cidr, origin = peer_cidrs.get(peer.domain, ""), "peer-cidr"
        if not cidr:
            cidr, origin = host_cidr(peer.host) or "", "host"
            if cidr:
                warnings.append(
                    f"{domain}: peer {peer.domain} is admitted from its host {cidr}, the address it is "
                    f"dialled at; if its traffic leaves through NAT, set --peer-cidr {peer.domain}=CIDR"
                )
            else:
                origin = ""
                warnings.append(
                    f"{domain}: peer {peer.domain} ({peer.host}) is admitted from nowhere: its host is not "
                    f"an IP; set --peer-cidr {peer.domain}=CIDR (the addresses its traffic comes from)"
                )
        sources.append(PeerSource(peer.domain, name, False, peer.name_space, cidr, origin))
    unknown = sorted(set(peer_cidrs) - {n.domain for n in nodes if n.domain != domain})
    warnings.extend(
        f"{domain}: --peer-cidr {d}=... names no peer in the node list (ignored)" for d in unknown
    )
    return sources, warnings


def _me(nodes: list[NodeNetworkAddress], domain: str) -> NodeNetworkAddress:
    found = [n for n in nodes if n.domain == domain]
    if not found:
        raise LookupError(f"node {domain} is not in the chain's node list")
    return found[-1]


def pod_selector(chain_name: str, domain: str) -> dict[str, str]:
    """The labels that select a node's pod (6.7.4's: chain name and `{chain}-{domain}`)."""
    return {
        "app.kubernetes.io/chain-name": chain_name,
        "app.kubernetes.io/chain-node": node_name(chain_name, domain),
    }


def _namespace(name: str) -> dict[str, object]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


def network_policy(
    chain_name: str,
    me: NodeNetworkAddress,
    sources: list[PeerSource],
    p2p_port: int,
    service_ports: list[int],
    monitoring_namespace: str,
    labels: Mapping[str, str],
) -> dict[str, object]:
    """The node's NetworkPolicy: the p2p port (UDP) from `sources` only; the gRPC and metrics ports
    (`service_ports`, TCP) from the node's own pod, its namespace and `monitoring_namespace`.

    A rule with an empty `from` would admit everyone, so a node with no admitted peer gets no p2p
    rule at all (the port admits nobody).
    """
    peers: list[dict[str, object]] = []
    for s in sources:
        if s.same_cluster:
            peers.append(
                {
                    "podSelector": {"matchLabels": pod_selector(chain_name, s.domain)},
                    **_namespace(s.namespace),
                }
            )
        elif s.cidr:
            peers.append({"ipBlock": {"cidr": s.cidr}})
    ingress: list[dict[str, object]] = []
    if peers:
        ingress.append({"from": peers, "ports": [{"port": p2p_port, "protocol": P2P_PROTOCOL}]})
    own = [
        {"podSelector": {"matchLabels": pod_selector(chain_name, me.domain)}},
        _namespace(me.name_space),
        *(
            [_namespace(monitoring_namespace)]
            if monitoring_namespace and monitoring_namespace != me.name_space
            else []
        ),
    ]
    ingress.append(
        {"from": own, "ports": [{"port": p, "protocol": "TCP"} for p in sorted(set(service_ports))]}
    )
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"labels": dict(labels), "name": node_name(chain_name, me.domain)},
        "spec": {
            "podSelector": {"matchLabels": pod_selector(chain_name, me.domain)},
            "policyTypes": ["Ingress"],
            "ingress": ingress,
        },
    }
