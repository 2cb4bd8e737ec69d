"""The node's Kubernetes objects (reference §6.3-§6.4), as plain dicts.

Improvements over cloud-config 6.7.4: the node's private key and config.toml (which embeds the TLS
key) live in Secrets (ConfigMaps only with `legacy_configmaps`); ports come from node_config.toml;
metrics ports are exposed when metrics are on; the EndpointSlice port is named like its Service port;
the recommended `app.kubernetes.io/*` labels on every object (the two selector labels kept, since a
StatefulSet's selector is immutable); pods that pass the Pod Security "restricted" profile (non-root,
no privilege escalation, every capability dropped, RuntimeDefault seccomp, read-only root file system,
`TZ` instead of a hostPath); startup, readiness and liveness probes; a ServiceAccount without a token
and a PodDisruptionBudget per node; a checksum annotation that rolls the pod on every change the
services cannot reload (all but network_zenoh's peers); an optional NodePort/LoadBalancer Service that
makes the p2p port reachable from other clusters (docs/rendering.md).
"""

from __future__ import annotations

import tomllib
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
POD_USER = 1000
# The pod template annotation whose value changes with everything the services read at start only.
CHECKSUM_ANNOTATION = "checksum/config"
SELECTOR_LABELS = ("app.kubernetes.io/chain-name", "app.kubernetes.io/chain-node")
STARTUP_PERIOD = 10
WRITABLE = ("/data", "/tmp")  # the folders a service may write with a read-only root file system


@dataclass(frozen=True)
class Service:
    """One micro-service container: its slot, node_config port keys, and whether it needs /mnt."""

    slot: str
    grpc_key: str
    metrics_key: str
    mounts_account: bool
    startup_seconds: int  # how long the service may take to start before the kubelet restarts it


SERVICES = (
    Service("network", "network_port", "network_metrics_port", True, 120),
    Service("consensus", "consensus_port", "consensus_metrics_port", True, 120),
    Service("executor", "executor_port", "executor_metrics_port", False, 120),
    Service("storage", "storage_port", "storage_metrics_port", False, 300),
    Service("controller", "controller_port", "controller_metrics_port", True, 300),
)


def selector(inputs: NodeInputs) -> dict[str, str]:
    """The labels that select the node's pod: those of 6.7.4, unchanged (a StatefulSet's selector is
    immutable, so a running node's StatefulSet must keep them to keep applying)."""
    from cloud_config.render.allowlist import pod_selector  # the one place of these labels

    return pod_selector(inputs.chain_name, inputs.domain)


def labels(inputs: NodeInputs, component: str = "node") -> dict[str, str]:
    """Every object's labels: the selector labels and Kubernetes' recommended set."""
    out = {
        **selector(inputs),
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/instance": inputs.node_name,
        "app.kubernetes.io/managed-by": "cloud-config",
        "app.kubernetes.io/name": "cita-cloud-node",
        "app.kubernetes.io/part-of": inputs.chain_name,
    }
    version = _version(inputs)
    if version:
        out["app.kubernetes.io/version"] = version
    return out


def _version(inputs: NodeInputs) -> str:
    """The controller's tag without its digest, when it is a valid label value."""
    service = inputs.chain.image("controller")
    tag = service.tag.split("@", 1)[0] if service else ""
    return tag if 0 < len(tag) <= 63 and tag[0].isalnum() and tag[-1].isalnum() else ""


def b64(data: str) -> str:
    """Standard base64 with padding of UTF-8 text."""
    import base64

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
    """(`{registry}/{repo}/{image}`, tag) of a slot's service, or None when the chain has none; a
    pinned tag is `v6.7.4@sha256:...` and the image reference `name:v6.7.4@sha256:...`."""
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


def log_dir(inputs: NodeInputs) -> str | None:
    """Where the services write their log files when that is outside /data and /tmp (the writable
    folders of a read-only root file system), else None: it gets an emptyDir of its own."""
    path = (inputs.node.log_file_path or "").rstrip("/")
    if not path or not path.startswith("/") or any(path == d or path.startswith(f"{d}/") for d in WRITABLE):
        return None
    return path


def _mounts(account: bool, logs: str | None = None) -> list[Obj]:
    """Whole-volume mounts, never `subPath`: the kubelet swaps a Secret volume's files in place, so an
    edited config.toml reaches the running network service (a subPath mount is never updated)."""
    mounts: list[Obj] = [
        {"mountPath": "/data", "name": "datadir"},
        {"mountPath": CONFIG_DIR, "name": "node-config", "readOnly": True},
    ]
    if account:
        mounts.append({"mountPath": "/mnt", "name": "node-account", "readOnly": True})
    mounts.append({"mountPath": "/tmp", "name": "tmp"})
    if logs:
        mounts.append({"mountPath": logs, "name": "logs"})
    return mounts


def resources(deployment: Deployment, slot: str) -> Obj:
    """One container's resources: the shared settings with the service's own overrides."""
    values = deployment.service_resources(slot)
    return {
        "limits": {"cpu": values["limits_cpu"], "memory": values["limits_memory"]},
        "requests": {"cpu": values["requests_cpu"], "memory": values["requests_memory"]},
    }


def probes(grpc_port: int, startup_seconds: int) -> Obj:
    """startup, readiness and liveness probes of one container, all gRPC health checks
    (grpc.health.v1, which every service serves on its gRPC port, through the images'
    grpc-health-probe): the startup probe allows `startup_seconds`, then readiness gates traffic
    and liveness restarts a hung service."""
    check = {"exec": {"command": ["grpc-health-probe", f"-addr=localhost:{grpc_port}"]}}
    return {
        "livenessProbe": {**check, "failureThreshold": 3, "periodSeconds": 10, "timeoutSeconds": 5},
        "readinessProbe": {**check, "failureThreshold": 3, "periodSeconds": 10, "timeoutSeconds": 5},
        "startupProbe": {
            **check,
            "failureThreshold": max(1, startup_seconds // STARTUP_PERIOD),
            "periodSeconds": STARTUP_PERIOD,
            "timeoutSeconds": 5,
        },
    }


def security_context(deployment: Deployment) -> Obj:
    """A container's securityContext: what the Pod Security "restricted" profile requires."""
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": deployment.read_only_root_fs,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
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
            "env": _env(deployment),
            "imagePullPolicy": deployment.pull_policy,
            "name": svc.slot,
            "ports": _ports(inputs, svc),
            "resources": resources(deployment, svc.slot),
            "securityContext": security_context(deployment),
            "volumeMounts": _mounts(svc.mounts_account, log_dir(inputs)),
            "workingDir": "/data",
        }
        found = image(inputs, svc.slot)
        if found is not None:
            container["image"] = ":".join(found)
        if not deployment.disable_health_check:
            container.update(probes(inputs.node.grpc_ports[svc.grpc_key], svc.startup_seconds))
        out.append(container)
    if deployment.enable_debug:
        out.append(
            {
                "command": ["/bin/bash", "-c", "while true;do sleep 100;done"],
                "env": _env(deployment),
                "image": DEBUG_IMAGE,
                "imagePullPolicy": deployment.pull_policy,
                "name": "debug",
                "securityContext": security_context(deployment),
                "volumeMounts": _mounts(True, log_dir(inputs)),
                "workingDir": "/data",
            }
        )
    return out


def _env(deployment: Deployment) -> list[Obj]:
    return [{"name": "TZ", "value": deployment.timezone}]


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


def restart_checksum(inputs: NodeInputs, config_toml: str) -> str:
    """sha256 over what the services read only at start: config.toml without `network_zenoh.peers`
    (network_zenoh re-reads the file and applies new peers itself, docs/rendering.md) and the key
    files. A peer change keeps the value, so it never restarts the pod; a new certificate, CA bundle,
    genesis, key or any other setting changes it, which rolls the pod."""
    config = tomllib.loads(config_toml)
    config.get("network_zenoh", {}).pop("peers", None)
    keys = [inputs.private_key, inputs.node_address, inputs.validator_address]
    import hashlib  # here, with json and base64: the k8s objects are made only for a deployed node
    import json

    text = json.dumps([config, keys], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def statefulset(inputs: NodeInputs, config_toml: str) -> Obj:
    """The node's StatefulSet (selector, serviceName and volumeClaimTemplates as 6.7.4 wrote them:
    Kubernetes refuses to change them on a running StatefulSet)."""
    deployment = _deployment(inputs)
    legacy = deployment.legacy_configmaps
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
    volumes: list[Obj] = [
        _volume("node-account", f"{inputs.node_name}-account", legacy),
        _volume("node-config", f"{inputs.node_name}-config", legacy),
        {"emptyDir": {"sizeLimit": "256Mi"}, "name": "tmp"},
    ]
    if log_dir(inputs):
        volumes.append({"emptyDir": {"sizeLimit": "1Gi"}, "name": "logs"})
    pod_spec = {
        "affinity": {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [{"podAffinityTerm": term, "weight": 100}]
            }
        },
        "automountServiceAccountToken": False,
        "containers": containers(inputs),
        "securityContext": {
            "fsGroup": POD_USER,
            "runAsGroup": POD_USER,
            "runAsNonRoot": True,
            "runAsUser": POD_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "serviceAccountName": inputs.node_name,
        "volumes": volumes,
    }
    template_meta = {
        "annotations": {CHECKSUM_ANNOTATION: restart_checksum(inputs, config_toml)},
        "labels": labels(inputs),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"labels": labels(inputs), "name": inputs.node_name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selector(inputs)},
            "serviceName": "",
            "template": {"metadata": template_meta, "spec": pod_spec},
            "volumeClaimTemplates": [pvc(deployment)],
        },
    }


def service_account(inputs: NodeInputs) -> Obj:
    """The node's own ServiceAccount: no API token (the services never call the Kubernetes API)."""
    return {
        "apiVersion": "v1",
        "automountServiceAccountToken": False,
        "kind": "ServiceAccount",
        "metadata": {"labels": labels(inputs), "name": inputs.node_name},
    }


def disruption_budget(inputs: NodeInputs) -> Obj | None:
    """A PodDisruptionBudget selecting only this node's pod, or None with `pdb = false`.

    maxUnavailable 1 (the default) never blocks a drain of a one-pod StatefulSet but keeps the
    eviction API in the loop; 0 blocks every voluntary eviction (for a validator whose downtime would
    stall the chain: the SRE moves it by hand)."""
    deployment = _deployment(inputs)
    if not deployment.pdb:
        return None
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"labels": labels(inputs), "name": inputs.node_name},
        "spec": {
            "maxUnavailable": deployment.pdb_max_unavailable,
            "selector": {"matchLabels": selector(inputs)},
        },
    }


def _port(name: str, port: int, protocol: str, target: int | None = None) -> Obj:
    target = port if target is None else target
    return {"name": name, "port": port, "protocol": protocol, "targetPort": target}


def node_service(inputs: NodeInputs) -> Obj:
    """The node's own ClusterIP Service, the name its peers in the cluster dial: p2p, and (as 6.7.4
    had them) rpc, call and the metrics ports. It lists the pod before it is ready, so a node still
    syncing can be dialled by its peers; clients should use `NODE-rpc`, which lists ready pods only."""
    node = inputs.node
    grpc = node.grpc_ports
    ports = [
        _port("network", K8S_P2P_PORT, "UDP"),
        _port("rpc", grpc["controller_port"], "TCP"),
        _port("call", grpc["executor_port"], "TCP"),
    ]
    if node.enable_metrics:
        ports += [_port(f"{s.slot}-metrics", node.metrics_ports[s.metrics_key], "TCP") for s in SERVICES]
    spec = {
        "ports": ports,
        "publishNotReadyAddresses": True,
        "selector": selector(inputs),
        "type": "ClusterIP",
    }
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"labels": labels(inputs, "p2p"), "name": inputs.node_name},
        "spec": spec,
    }


def rpc_service(inputs: NodeInputs) -> Obj:
    """`NODE-rpc`: the rpc and call ports of ready pods only (a syncing node gets no client traffic)."""
    grpc = inputs.node.grpc_ports
    ports = [_port("rpc", grpc["controller_port"], "TCP"), _port("call", grpc["executor_port"], "TCP")]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"labels": labels(inputs, "rpc"), "name": f"{inputs.node_name}-rpc"},
        "spec": {"ports": ports, "selector": selector(inputs), "type": "ClusterIP"},
    }


def exposed_service(inputs: NodeInputs) -> Obj | None:
    """`NODE-nodeport`: the p2p port reachable from outside the cluster (`expose = nodeport` or
    `loadbalancer`), or None. Peers in other clusters dial the host and port of this node's entry in
    the node list, so the Service listens there: the NodePort is that port (or `node_port`, which must
    agree), a LoadBalancer's port is that port. `externalTrafficPolicy: Local` keeps the peers' source
    addresses (no SNAT), which a NetworkPolicy allowlist needs."""
    deployment = _deployment(inputs)
    if not deployment.expose:
        return None
    listed = inputs.me.port
    port = _port("network", listed, "UDP", K8S_P2P_PORT)
    kind = "LoadBalancer"
    if deployment.expose == "nodeport":
        kind = "NodePort"
        port["nodePort"] = deployment.node_port or listed
    spec = {
        "externalTrafficPolicy": "Local",
        "ports": [port],
        "publishNotReadyAddresses": True,
        "selector": selector(inputs),
        "type": kind,
    }
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"labels": labels(inputs, "p2p"), "name": f"{inputs.node_name}-nodeport"},
        "spec": spec,
    }


def peer_labels(chain_name: str, peer: NodeNetworkAddress) -> dict[str, str]:
    """The labels of the objects that reach a peer (named after the peer, like the objects)."""
    name = node_name(chain_name, peer.domain)
    return {
        "app.kubernetes.io/component": "peer",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/managed-by": "cloud-config",
        "app.kubernetes.io/name": "cita-cloud-peer",
        "app.kubernetes.io/part-of": chain_name,
    }


def external_for(
    chain_name: str, peer: NodeNetworkAddress, cluster: str, name_space: str, cluster_domain: str
) -> tuple[tuple[str, Obj], ...]:
    """(file name, object) reaching `peer` from a node in `cluster`/`name_space` (§6.4; none
    within one namespace); `cluster_domain` completes the name of a Service in another namespace.
    A peer exposed with `expose` is reached the same way: its host and listed port are where its
    NodePort/LoadBalancer Service listens."""
    svc = node_name(chain_name, peer.domain)
    meta = {"labels": peer_labels(chain_name, peer), "name": svc}
    svc_file = f"{peer.domain}-external-svc.yaml"
    if peer.cluster == cluster:
        if peer.name_space == name_space:
            return ()
        target = f"{svc}.{peer.name_space}.svc.{cluster_domain}"
        return ((svc_file, _external_name(meta, target)),)
    ip = peer.host_ip
    if ip is None:
        return ((svc_file, _external_name(meta, peer.host)),)
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
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
        "metadata": {
            "labels": {**peer_labels(chain_name, peer), "kubernetes.io/service-name": svc},
            "name": f"{svc}-1",
        },
        "ports": [{"name": "network", "port": peer.port, "protocol": "UDP"}],
    }
    return ((svc_file, service), (f"{peer.domain}-external-endpointslice.yaml", endpoints))


def _external_name(meta: Obj, target: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
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
