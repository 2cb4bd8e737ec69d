"""What the rehearsal starts: every node of the chain as network_zenoh would run it, from its rendered files.

Two sources of certificates:
* real: every node of the list has its node folder (`{chain}-{domain}` beside the chain folder),
  so each is rendered exactly as `update-node` renders it, with its own TLS key;
* mirrored: otherwise (a chain repo holds no key, and a revision never does), a throwaway CA
  stands in for each CA of the chain and signs a throwaway certificate for each node with the
  same subject, SANs, dates and issuer as its real one (`crypto.mirror`), so every check comes out
  as it would with the real files.
Either way each node's `config.toml` is rendered by the real renderer and its `network_zenoh`
section read back: `ca_cert`, `cert`, `priv_key` and `peers` are what the endpoints use.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloud_config.crypto import mirror
from cloud_config.model.chain import ChainConfig
from cloud_config.model.network_address import NodeNetworkAddress
from cloud_config.model.node import Deployment, NodeConfig
from cloud_config.model.paths import CA_CERT, NODE_CONFIG, ChainLayout, node_cert, node_name
from cloud_config.render.config_toml import K8S_P2P_PORT
from cloud_config.render.inputs import NodeInputs
from cloud_config.render.node import render_node

REAL = "real certificates and keys (node folders)"
MIRRORED = "throwaway keys and CAs mirroring the chain's certificates"


@dataclass(frozen=True)
class ChainFiles:
    """The public files of a chain folder, from its working tree or a git revision."""

    chain: ChainConfig
    chain_text: str
    ca_cert: str | None
    certs: dict[str, str]  # domain -> certs/<domain>/cert.pem


@dataclass
class Node:
    """One node as it would start: its rendered TLS files, the peers it dials, its NetworkPolicies."""

    domain: str
    name: str
    address: NodeNetworkAddress
    cert: str | None
    key: str | None = field(repr=False)
    bundle: str
    peers: list[tuple[str, int]]
    policies: list[dict[str, Any]]
    problem: str | None = None  # why it cannot listen


@dataclass
class Mesh:
    """The nodes to start, the departed ones (with the certificate they left with), and the source."""

    source: str
    nodes: list[Node]
    departed: list[Node]


def chain_files_at(chain: ChainConfig, chain_text: str, read: Any) -> ChainFiles:
    """ChainFiles from a reader `read(path) -> text or None` (working tree or git snapshot)."""
    certs = {}
    for node in chain.node_network_address_list:
        text = read(node_cert(node.domain))
        if text is not None:
            certs[node.domain] = text
    return ChainFiles(chain, chain_text, read(CA_CERT), certs)


def real_mesh(layout: ChainLayout, files: ChainFiles) -> Mesh | None:
    """Every node rendered from its node folder, or None when some node has no folder."""
    from cloud_config.app.node import load_inputs

    domains = [n.domain for n in files.chain.node_network_address_list]
    if not domains or not all((layout.node_dir(d) / NODE_CONFIG).is_file() for d in domains):
        return None
    nodes = []
    for domain in domains:
        inputs = load_inputs(layout.chain_dir, layout.node_dir(domain), layout.chain_name, domain)
        nodes.append(_node(inputs, render_node(inputs)))
    return Mesh(REAL, nodes, [])


def mirrored_mesh(chain_name: str, head: ChainFiles, base: ChainFiles | None = None) -> Mesh:
    """Every node of `head` with mirrored certificates; the nodes of `base` missing at head are departed."""
    known = mirror.split_bundle(head.ca_cert or "")
    if base is not None:
        known += [ca for ca in mirror.split_bundle(base.ca_cert or "") if ca not in known]
    shadows = [mirror.mirror_ca(ca) for ca in known]
    foreign: list[tuple[str, str]] = []

    def shadow_of(cert: str) -> tuple[str, str]:
        index = mirror.issuer_index(cert, known)
        if index is not None:
            return mirror.mirror_leaf(cert, shadows[index])
        if not foreign:  # a CA nobody's bundle holds
            foreign.append(mirror.mirror_ca(cert))
        return mirror.mirror_leaf(cert, foreign[0])

    bundle = "".join(shadows[known.index(ca)][0] for ca in mirror.split_bundle(head.ca_cert or ""))
    nodes = [
        _mirrored_node(chain_name, head, n, bundle, shadow_of) for n in head.chain.node_network_address_list
    ]
    departed = []
    if base is not None:
        present = {n.domain for n in head.chain.node_network_address_list}
        departed = [
            _mirrored_node(chain_name, base, old, bundle, shadow_of)
            for old in base.chain.node_network_address_list
            if old.domain not in present
        ]
    return Mesh(MIRRORED, nodes, departed)


def _mirrored_node(
    chain_name: str, files: ChainFiles, address: NodeNetworkAddress, bundle: str, shadow_of: Any
) -> Node:
    real = files.certs.get(address.domain)
    problem = f"has no certificate ({node_cert(address.domain)} is missing)"
    try:
        cert, key = shadow_of(real) if real is not None else ("", "")
    except ValueError:
        real, problem = None, f"has no readable certificate ({node_cert(address.domain)} is not PEM)"
        cert, key = "", ""
    node = NodeConfig(account="0" * 40, exporter_chain_name=chain_name)
    if address.is_k8s:
        node.deployment = Deployment(storage_class="rehearsal")  # so manifests (NetworkPolicies) render
    inputs = NodeInputs(
        chain_name=chain_name,
        domain=address.domain,
        chain=files.chain,
        node=node,
        chain_text=files.chain_text,
        ca_cert=bundle,
        cert=cert,
        node_address="",
        validator_address="",
        private_key="",
        key=key,
    )
    built = _node(inputs, render_node(inputs))
    if real is None:
        built.cert = built.key = None
        built.problem = problem
    return built


def _node(inputs: NodeInputs, tree: dict[str, bytes]) -> Node:
    network = tomllib.loads(tree["config.toml"].decode("utf-8"))["network_zenoh"]
    peers = [(str(p["domain"]), int(p["port"])) for p in network.get("peers", [])]
    return Node(
        domain=inputs.domain,
        name=inputs.node_name,
        address=inputs.me,
        cert=network["cert"],
        key=network["priv_key"],
        bundle=network["ca_cert"],
        peers=peers,
        policies=network_policies(tree),
    )


def network_policies(tree: dict[str, bytes]) -> list[dict[str, Any]]:
    """Every rendered NetworkPolicy object of a node's tree (none until the manifests render them)."""
    import yaml

    docs = [
        doc
        for path, data in sorted(tree.items())
        if path.endswith(".yaml") and b"NetworkPolicy" in data
        for doc in yaml.safe_load_all(data)
    ]
    return [doc for doc in docs if isinstance(doc, dict) and doc.get("kind") == "NetworkPolicy"]


def resolve(chain_name: str, nodes: list[Node], domain: str, port: int) -> Node | None:
    """The node that answers a dial of `domain:port`: its Service name (port 40000 in the cluster and
    on the Service in front of an IP host, its listed port through an ExternalName), or its listed
    host:port."""
    for node in nodes:
        if domain == node_name(chain_name, node.domain) and port in (K8S_P2P_PORT, node.address.port):
            return node
    for node in nodes:
        if (domain, port) == (node.address.host, node.address.port):
            return node
    return None


def working_tree_files(layout: ChainLayout) -> ChainFiles:
    """ChainFiles of the chain folder as it is on disk."""
    from cloud_config.store.node_files import load_chain

    chain, text = load_chain(layout.chain_dir, layout.chain_name)

    def read(rel: str) -> str | None:
        path: Path = layout.chain_dir / rel
        return path.read_text(encoding="utf-8") if path.is_file() else None

    return chain_files_at(chain, text, read)
