"""The node's Kubernetes objects (reference §6.3-§6.4), as plain dicts.

Improvements over cloud-config 6.7.4: the node's private key and config.toml (which embeds the TLS
key) live in Secrets (ConfigMaps only with `legacy_configmaps`); ports come from node_config.toml;
metrics ports are exposed when metrics are on; the EndpointSlice port is named like its Service port.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from cloud_config.model.chain import RAFT
from cloud_config.model.network_address import NodeNetworkAddress
from cloud_config.model.node import Deployment
from cloud_config.model.paths import node_name
from cloud_config.render.config_toml import K8S_P2P_PORT
from cloud_config.render.inputs import NodeInputs

Obj = dict[str, Any]
CONFIG_DIR = "/etc/cita-cloud/config"
CONFIG_PATH = f"{CONFIG_DIR}/config.toml"
DEBUG_IMAGE = "praqma/network-multitool:latest"
SECRET_MODE = 0o440  # readable by the pod's fsGroup, nobody else


@dataclass(frozen=True)
class Service:
    """One micro-service container: its slot, node_config port keys, and whether it needs /mnt."""

    slot: str
    grpc_key: str
    metrics_key: str
    mounts_account: bool
    probe_delay: int


SERVICES = (
    Service("network", "network_port", "network_metrics_port", True, 30),
    Service("consensus", "consensus_port", "consensus_metrics_port", True, 30),
    Service("executor", "executor_port", "executor_metrics_port", False, 30),
    Service("storage", "storage_port", "storage_metrics_port", False, 30),
    Service("controller", "controller_port", "controller_metrics_port", True, 60),
)


def labels(inputs: NodeInputs) -> dict[str, str]:
    """The standard labels of every object of the node."""
    return {
        "app.kubernetes.io/chain-name": inputs.chain_name,
        "app.kubernetes.io/chain-node": inputs.node_name,
    }


def b64(data: str) -> str:
    """Standard base64 with padding of UTF-8 text."""
    return base64.b64encode(data.encode("utf-8")).decode("ascii")


def config_object(inputs: NodeInputs, config_toml: str, legacy: bool) -> Obj:
    """`NODE-config`: config.toml, in a Secret (or the legacy ConfigMap)."""
    meta = {"labels": labels(inputs), "name": f"{inputs.node_name}-config"}
    if legacy:
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "data": {"config.toml": config_toml},
            "metadata": meta,
        }
    data = {"config.toml": b64(config_toml)}
    return {"apiVersion": "v1", "kind": "Secret", "data": data, "metadata": meta, "type": "Opaque"}


def account_object(inputs: NodeInputs, legacy: bool) -> Obj:
    """`NODE-account`: the three key files mounted at /mnt, in a Secret (or the legacy ConfigMap)."""
    meta = {"labels": labels(inputs), "name": f"{inputs.node_name}-account"}
    if legacy:
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "binaryData": {"private_key": b64(inputs.private_key)},
            "data": {
                "node_address": inputs.node.account,
                "validator_address": inputs.validator_address,
            },
            "metadata": meta,
        }
    data = {
        "node_address": b64(inputs.node.account),
        "private_key": b64(inputs.private_key),
        "validator_address": b64(inputs.validator_address),
    }
    return {"apiVersion": "v1", "kind": "Secret", "data": data, "metadata": meta, "type": "Opaque"}


def image(inputs: NodeInputs, slot: str) -> tuple[str, str] | None:
    """(`{registry}/{repo}/{image}`, tag) of a slot's service, or None when the chain has none."""
    deployment = _deployment(inputs)
    service = inputs.chain.image(slot)
    if service is None:
        return None
    return f"{deployment.docker_registry}/{deployment.docker_repo}/{service.image}", service.tag


def images(inputs: NodeInputs) -> list[tuple[str, str]]:
    """(image name, tag) of every container the StatefulSet runs."""
    out = [found for svc in SERVICES if (found := image(inputs, svc.slot)) is not None]
    if _deployment(inputs).enable_debug:
        name, tag = DEBUG_IMAGE.rsplit(":", 1)
        out.append((name, tag))
    return out


def _deployment(inputs: NodeInputs) -> Deployment:
    return inputs.node.deployment or Deployment()


def _command(inputs: NodeInputs, slot: str) -> list[str]:
    command = [slot, "run", "-c", CONFIG_PATH]
    if slot == "consensus" and inputs.chain.consensus == RAFT:
        return [*command, "--stdout"]
    if slot in ("consensus", "controller"):
        return [*command, "-p", "/mnt/private_key"]
    return command


def _mounts(account: bool) -> list[Obj]:
    mounts = [
        {"mountPath": "/data", "name": "datadir"},
        {"mountPath": CONFIG_DIR, "name": "node-config"},
    ]
    if account:
        mounts.append({"mountPath": "/mnt", "name": "node-account"})
    mounts.append({"mountPath": "/etc/localtime", "name": "node-localtime"})
    return mounts


def resources(deployment: Deployment) -> Obj:
    """Container resources from the deployment settings."""
    return {
        "limits": {"cpu": deployment.limits_cpu, "memory": deployment.limits_memory},
        "requests": {"cpu": deployment.requests_cpu, "memory": deployment.requests_memory},
    }


def probe(grpc_port: int, delay: int) -> Obj:
    """The gRPC health probe of one container."""
    return {
        "exec": {"command": ["grpc-health-probe", f"-addr=localhost:{grpc_port}"]},
        "initialDelaySeconds": delay,
        "periodSeconds": 10,
    }


def _ports(inputs: NodeInputs, svc: Service) -> list[Obj]:
    node = inputs.node
    ports: list[Obj] = []
    if svc.slot == "network":
        ports.append({"containerPort": K8S_P2P_PORT, "name": "network", "protocol": "UDP"})
    ports.append({"containerPort": node.grpc_ports[svc.grpc_key], "name": "grpc", "protocol": "TCP"})
    if node.enable_metrics:
        ports.append(
            {
                "containerPort": node.metrics_ports[svc.metrics_key],
                "name": "metrics",
                "protocol": "TCP",
            }
        )
    return ports


def containers(inputs: NodeInputs) -> list[Obj]:
    """The five service containers (plus the debug one when enabled)."""
    deployment = _deployment(inputs)
    out: list[Obj] = []
    for svc in SERVICES:
        container: Obj = {
            "command": _command(inputs, svc.slot),
            "imagePullPolicy": deployment.pull_policy,
            "name": svc.slot,
            "ports": _ports(inputs, svc),
            "resources": resources(deployment),
            "volumeMounts": _mounts(svc.mounts_account),
            "workingDir": "/data",
        }
        found = image(inputs, svc.slot)
        if found is not None:
            container["image"] = ":".join(found)
        if not deployment.disable_health_check:
            container["livenessProbe"] = probe(inputs.node.grpc_ports[svc.grpc_key], svc.probe_delay)
        out.append(container)
    if deployment.enable_debug:
        out.append(
            {
                "command": ["/bin/bash", "-c", "while true;do sleep 100;done"],
                "image": DEBUG_IMAGE,
                "imagePullPolicy": deployment.pull_policy,
                "name": "debug",
                "volumeMounts": _mounts(True),
                "workingDir": "/data",
            }
        )
    return out


def _volume(name: str, object_name: str, legacy: bool) -> Obj:
    if legacy:
        return {"configMap": {"name": object_name}, "name": name}
    return {"name": name, "secret": {"defaultMode": SECRET_MODE, "secretName": object_name}}


def pvc(deployment: Deployment) -> Obj:
    """The data volume claim template."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "datadir"},
        "spec": {
            "accessModes": [deployment.access_mode],
            "resources": {"requests": {"storage": deployment.storage_capacity}},
            "storageClassName": deployment.storage_class,
        },
    }


def statefulset(inputs: NodeInputs) -> Obj:
    """The node's StatefulSet."""
    deployment = _deployment(inputs)
    legacy = deployment.legacy_configmaps
    std = labels(inputs)
    term = {
        "labelSelector": {
            "matchExpressions": [
                {
                    "key": "app.kubernetes.io/chain-name",
                    "operator": "In",
                    "values": [inputs.chain_name],
                }
            ]
        },
        "topologyKey": "kubernetes.io/hostname",
    }
    pod_spec = {
        "affinity": {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [{"podAffinityTerm": term, "weight": 100}]
            }
        },
        "containers": containers(inputs),
        "securityContext": {"fsGroup": 1000, "runAsGroup": 1000, "runAsUser": 1000},
        "volumes": [
            _volume("node-account", f"{inputs.node_name}-account", legacy),
            _volume("node-config", f"{inputs.node_name}-config", legacy),
            {"hostPath": {"path": "/etc/localtime"}, "name": "node-localtime"},
        ],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"labels": std, "name": inputs.node_name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": std},
            "serviceName": "",
            "template": {"metadata": {"labels": std}, "spec": pod_spec},
            "volumeClaimTemplates": [pvc(deployment)],
        },
    }


def node_service(inputs: NodeInputs) -> Obj:
    """The node's own ClusterIP Service: p2p, rpc, call, and the metrics ports when metrics are on."""
    node = inputs.node
    grpc = node.grpc_ports
    ports = [
        {"name": "network", "port": K8S_P2P_PORT, "protocol": "UDP", "targetPort": K8S_P2P_PORT},
        {
            "name": "rpc",
            "port": grpc["controller_port"],
            "protocol": "TCP",
            "targetPort": grpc["controller_port"],
        },
        {
            "name": "call",
            "port": grpc["executor_port"],
            "protocol": "TCP",
            "targetPort": grpc["executor_port"],
        },
    ]
    if node.enable_metrics:
        for svc in SERVICES:
            port = node.metrics_ports[svc.metrics_key]
            ports.append({"name": f"{svc.slot}-metrics", "port": port, "protocol": "TCP", "targetPort": port})
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"labels": labels(inputs), "name": inputs.node_name},
        "spec": {"ports": ports, "selector": labels(inputs), "type": "ClusterIP"},
    }


def external_for(
    chain_name: str, peer: NodeNetworkAddress, cluster: str, name_space: str, cluster_domain: str
) -> tuple[tuple[str, Obj], ...]:
    """(file name, object) reaching `peer` from a node in `cluster`/`name_space` (§6.4; none
    within one namespace); `cluster_domain` completes the name of a Service in another namespace."""
    svc = node_name(chain_name, peer.domain)
    svc_file = f"{peer.domain}-external-svc.yaml"
    if peer.cluster == cluster:
        if peer.name_space == name_space:
            return ()
        target = f"{svc}.{peer.name_space}.svc.{cluster_domain}"
        return ((svc_file, _external_name(svc, target)),)
    ip = peer.host_ip
    if ip is None:
        return ((svc_file, _external_name(svc, peer.host)),)
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": svc},
        "spec": {
            "ports": [
                {
                    "name": "network",
                    "port": K8S_P2P_PORT,
                    "protocol": "UDP",
                    "targetPort": peer.port,
                }
            ]
        },
    }
    endpoints = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "addressType": f"IPv{ip.version}",
        "endpoints": [{"addresses": [str(ip)], "conditions": {"ready": True}}],
        "metadata": {"labels": {"kubernetes.io/service-name": svc}, "name": f"{svc}-1"},
        "ports": [{"name": "network", "port": peer.port, "protocol": "UDP"}],
    }
    return ((svc_file, service), (f"{peer.domain}-external-endpointslice.yaml", endpoints))


def _external_name(name: str, target: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"externalName": target, "type": "ExternalName"},
    }


def network_policy(inputs: NodeInputs) -> Obj:
    """The node's inbound allowlist (render.allowlist): p2p from the current peers only, gRPC and
    metrics from its own pod, its namespace and the monitoring namespace."""
    from cloud_config.render import allowlist

    deployment = _deployment(inputs)
    sources, _ = allowlist.peer_sources(
        inputs.chain_name, inputs.chain, inputs.domain, deployment.peer_cidr_map()
    )
    ports = [*inputs.node.grpc_ports.values(), *inputs.node.metrics_ports.values()]
    return allowlist.network_policy(
        inputs.chain_name,
        inputs.me,
        sources,
        K8S_P2P_PORT,
        ports,
        deployment.monitoring_namespace,
        labels(inputs),
    )
