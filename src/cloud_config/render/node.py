"""Everything generated for one node, as a tree of relative paths and bytes (a pure function)."""

from __future__ import annotations

import functools
from typing import Any

from cloud_config.model.network_address import NodeNetworkAddress
from cloud_config.model.node import Deployment
from cloud_config.model.paths import CA_CERT, PRIVATE_KEY, SECRET_GENERATOR, SOPS_CONFIG, node_cert
from cloud_config.render import at_rest, k8s
from cloud_config.render.config_toml import peers, render_config_toml
from cloud_config.render.inputs import NodeInputs
from cloud_config.render.yaml_out import dump

Tree = dict[str, bytes]
KUSTOMIZATION = "kustomization.yaml"


def render_node(inputs: NodeInputs) -> Tree:
    """The node's generated files: config.toml, key-file copies, chain/CA/cert copies, and for a
    k8s node with saved deployment settings its manifests and kustomization.

    Raises:
        LookupError: the node is not in the chain's node list.
    """
    config_toml = render_config_toml(inputs)
    tree: Tree = {
        "config.toml": config_toml.encode("utf-8"),
        PRIVATE_KEY: inputs.private_key.encode("ascii"),
        "node_address": inputs.node_address.encode("ascii"),
        "validator_address": inputs.validator_address.encode("ascii"),
        "chain_config.toml": inputs.chain_text.encode("utf-8"),
        CA_CERT: inputs.ca_cert.encode("utf-8"),
        node_cert(inputs.domain): inputs.cert.encode("utf-8"),
    }
    if inputs.me.is_k8s and inputs.node.deployment is not None:
        tree.update(render_k8s(inputs, config_toml))
    if inputs.node.recipients:
        tree[SOPS_CONFIG] = _bytes(at_rest.sops_config(inputs.node.recipients))
    return tree


def render_k8s(inputs: NodeInputs, config_toml: str) -> Tree:
    """yamls/* and the kustomization (with its patches) of a k8s node."""
    deployment = inputs.node.deployment or Deployment()
    legacy = deployment.legacy_configmaps
    prefix = "cm" if legacy else "secret"
    yamls: Tree = {
        "statefulset.yaml": _bytes(k8s.statefulset(inputs)),
        "node-svc.yaml": _bytes(k8s.node_service(inputs)),
        f"{prefix}-config.yaml": _bytes(k8s.config_object(inputs, config_toml, legacy)),
        f"{prefix}-account.yaml": _bytes(k8s.account_object(inputs, legacy)),
    }
    me = inputs.me
    for peer in peers(inputs):
        where = (me.cluster, me.name_space, deployment.cluster_domain)
        yamls.update(_external_files(inputs.chain_name, peer, *where))
    yamls["networkpolicy.yaml"] = _bytes(k8s.network_policy(inputs))
    tree = {f"yamls/{name}": data for name, data in yamls.items()}
    resources, sealed = at_rest.split_resources(inputs, [f"yamls/{name}" for name in yamls])
    kustomization = _kustomization(inputs, resources, deployment)
    if sealed:
        tree[SECRET_GENERATOR] = _bytes(at_rest.ksops_generator(inputs, sealed))
        kustomization["generators"] = [SECRET_GENERATOR]
    tree[KUSTOMIZATION] = _bytes(kustomization)
    return tree


def _bytes(obj: dict[str, Any]) -> bytes:
    return dump(obj).encode("utf-8")


@functools.lru_cache(maxsize=65536)
def _external_files(
    chain: str, peer: NodeNetworkAddress, cluster: str, ns: str, cluster_domain: str
) -> tuple[tuple[str, bytes], ...]:
    # Every node of a chain renders the same bytes for the same peer; a chain-wide render reuses them.
    found = k8s.external_for(chain, peer, cluster, ns, cluster_domain)
    return tuple((name, _bytes(obj)) for name, obj in found)


def _patch(inputs: NodeInputs, spec: dict[str, Any]) -> dict[str, Any]:
    meta = {"name": inputs.node_name}
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta, "spec": spec}


def _container_patch(inputs: NodeInputs, field: str, values: list[tuple[str, Any]]) -> dict[str, Any]:
    containers = [{"name": name, field: value} for name, value in values]
    return _patch(inputs, {"template": {"spec": {"containers": containers}}})


def patches(inputs: NodeInputs, deployment: Deployment) -> list[dict[str, Any]]:
    """cloud-config's four StatefulSet patches (storage, resources, pull policy, probes), filled
    from the saved settings: the knobs an overlay edits, in one place."""
    services = [svc.slot for svc in k8s.SERVICES]
    every = [*services, "debug"] if deployment.enable_debug else services
    grpc = inputs.node.grpc_ports
    out = [
        _patch(inputs, {"volumeClaimTemplates": [k8s.pvc(deployment)]}),
        _container_patch(inputs, "resources", [(s, k8s.resources(deployment)) for s in services]),
        _container_patch(inputs, "imagePullPolicy", [(s, deployment.pull_policy) for s in every]),
    ]
    if not deployment.disable_health_check:
        probes = [(svc.slot, k8s.probe(grpc[svc.grpc_key], svc.probe_delay)) for svc in k8s.SERVICES]
        out.append(_container_patch(inputs, "livenessProbe", probes))
    return out


def _kustomization(inputs: NodeInputs, resources: list[str], deployment: Deployment) -> dict[str, Any]:
    target = {"kind": "StatefulSet", "name": inputs.node_name}
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "images": [{"name": name, "newTag": tag} for name, tag in k8s.images(inputs)],
        "patches": [{"patch": dump(p), "target": target} for p in patches(inputs, deployment)],
        "resources": resources,
    }
