"""The micro-services' shared `config.toml` (reference §5), with the gaps cloud-config leaves filled.

Each section is rendered on its own and the texts are concatenated, which is how cloud-config
appends them (every section ends with one empty line).
"""

from __future__ import annotations

from typing import Any

from cloud_config.model import toml_format
from cloud_config.model.chain import OVERLORD, RAFT
from cloud_config.model.network_address import NodeNetworkAddress
from cloud_config.render.inputs import NodeInputs

K8S_P2P_PORT = 40000
PROTOCOL = "quic"


def render_config_toml(inputs: NodeInputs) -> str:
    """The whole config.toml text for one node."""
    sections: list[tuple[str, dict[str, Any]]] = [("network_zenoh", _network(inputs))]
    consensus = inputs.chain.consensus
    if consensus == RAFT:
        sections.append((RAFT, _raft(inputs)))
    elif consensus == OVERLORD:
        sections.append((OVERLORD, _overlord(inputs)))
    sections.append(("executor_evm", _executor(inputs)))
    sections.append(("storage_opendal", _storage(inputs)))
    sections.extend(_controller_sections(inputs))
    return "".join(toml_format.dumps({name: body}) for name, body in sections)


def key_paths(inputs: NodeInputs) -> tuple[str, str]:
    """Where the services find node_address and validator_address (mounted on k8s, else relative)."""
    if inputs.me.is_k8s:
        return "/mnt/node_address", "/mnt/validator_address"
    return "node_address", "validator_address"


def p2p_port(me: NodeNetworkAddress) -> int:
    """The port network_zenoh listens on: fixed inside a pod, the listed port elsewhere."""
    return K8S_P2P_PORT if me.is_k8s else me.port


def peer_endpoint(inputs: NodeInputs, peer: NodeNetworkAddress) -> tuple[str, int]:
    """(domain, port) this node dials to reach `peer` (the table of reference §5)."""
    me = inputs.me
    if not me.is_k8s:
        return peer.host, peer.port
    if peer.cluster == me.cluster or peer.host_ip is not None:
        return inputs.peer_name(peer), K8S_P2P_PORT
    return inputs.peer_name(peer), peer.port


def peers(inputs: NodeInputs) -> list[NodeNetworkAddress]:
    """Every other node of the list, in list order."""
    return [n for n in inputs.chain.node_network_address_list if n.domain != inputs.domain]


def _log_config(inputs: NodeInputs, service: str) -> dict[str, Any]:
    node = inputs.node
    return {
        "max_level": node.log_level,
        "filter": node.log_level,
        "service_name": service,
        "rolling_file_path": node.log_file_path,
        "agent_endpoint": node.jaeger_agent_endpoint,
    }


def _network(inputs: NodeInputs) -> dict[str, Any]:
    node = inputs.node
    grpc = node.grpc_ports
    node_address, validator_address = key_paths(inputs)
    section: dict[str, Any] = {
        "ca_cert": inputs.ca_cert,
        "cert": inputs.cert,
        "priv_key": inputs.key,
        "chain_id": inputs.chain.system_config.chain_id,
        "domain": inputs.node_name,
        "enable_metrics": node.enable_metrics,
        "grpc_port": grpc["network_port"],
        "metrics_port": node.metrics_ports["network_metrics_port"],
        "node_address": node_address,
        "port": p2p_port(inputs.me),
        "protocol": PROTOCOL,
        "validator_address": validator_address,
        "modules": [
            {"hostname": "localhost", "module_name": "consensus", "port": grpc["consensus_port"]},
            {"hostname": "localhost", "module_name": "controller", "port": grpc["controller_port"]},
        ],
        "log_config": _log_config(inputs, "network"),
    }
    dialled = [peer_endpoint(inputs, p) for p in peers(inputs)]
    if dialled:
        section["peers"] = [{"domain": d, "port": p, "protocol": PROTOCOL} for d, p in dialled]
    return section


def _raft(inputs: NodeInputs) -> dict[str, Any]:
    node = inputs.node
    grpc = node.grpc_ports
    return {
        "controller_port": grpc["controller_port"],
        "enable_metrics": node.enable_metrics,
        "grpc_listen_port": grpc["consensus_port"],
        "log_level": node.log_level,
        "metrics_port": node.metrics_ports["consensus_metrics_port"],
        "network_port": grpc["network_port"],
        "node_addr": key_paths(inputs)[0],
    }


def _overlord(inputs: NodeInputs) -> dict[str, Any]:
    node = inputs.node
    grpc = node.grpc_ports
    return {
        "consensus_port": grpc["consensus_port"],
        "controller_port": grpc["controller_port"],
        "domain": inputs.node_name,
        "enable_metrics": node.enable_metrics,
        "metrics_port": node.metrics_ports["consensus_metrics_port"],
        "network_port": grpc["network_port"],
        "log_config": _log_config(inputs, "consensus"),
    }


def _executor(inputs: NodeInputs) -> dict[str, Any]:
    node = inputs.node
    return {
        "domain": inputs.node_name,
        "enable_metrics": node.enable_metrics,
        "executor_port": node.grpc_ports["executor_port"],
        "metrics_port": node.metrics_ports["executor_metrics_port"],
        "log_config": _log_config(inputs, "executor"),
    }


def _storage(inputs: NodeInputs) -> dict[str, Any]:
    node = inputs.node
    grpc = node.grpc_ports
    return {
        "domain": inputs.node_name,
        "enable_metrics": node.enable_metrics,
        "metrics_port": node.metrics_ports["storage_metrics_port"],
        "storage_port": grpc["storage_port"],
        "cloud_storage": dict(node.cloud_storage),
        # cloud-config leaves these two out, so the exporter dials 50002/50004 whatever grpc_ports says.
        "exporter": {
            "base_path": node.exporter_base_path,
            "chain_name": node.exporter_chain_name,
            "executor_port": grpc["executor_port"],
            "controller_port": grpc["controller_port"],
        },
        "log_config": _log_config(inputs, "storage"),
    }


def _controller_sections(inputs: NodeInputs) -> list[tuple[str, dict[str, Any]]]:
    chain = inputs.chain
    sc = chain.system_config
    node = inputs.node
    grpc = node.grpc_ports
    node_address, validator_address = key_paths(inputs)
    controller = {
        "consensus_port": grpc["consensus_port"],
        "controller_port": grpc["controller_port"],
        "domain": inputs.node_name,
        "enable_metrics": node.enable_metrics,
        "executor_port": grpc["executor_port"],
        "is_danger": node.is_danger,
        "metrics_port": node.metrics_ports["controller_metrics_port"],
        "network_port": grpc["network_port"],
        "node_address": node_address,
        "storage_port": grpc["storage_port"],
        "tx_persistence": node.enable_tx_persistence,
        "validator_address": validator_address,
        "log_config": _log_config(inputs, "controller"),
    }
    genesis = {"prevhash": chain.genesis_block.prevhash, "timestamp": chain.genesis_block.timestamp}
    system = {
        "admin": sc.admin,
        "block_interval": sc.block_interval,
        "block_limit": sc.block_limit,
        "chain_id": sc.chain_id,
        "quota_limit": sc.quota_limit,
        "validators": list(sc.validators),
        "version": sc.version,
    }
    return [("genesis_block", genesis), ("system_config", system), ("controller", controller)]
