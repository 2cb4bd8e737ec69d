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
        "statefulset.yaml": _bytes(k8s.statefulset(inputs, config_toml)),
        "node-svc.yaml": _bytes(k8s.node_service(inputs)),
        "rpc-svc.yaml": _bytes(k8s.rpc_service(inputs)),
        "serviceaccount.yaml": _bytes(k8s.service_account(inputs)),
        f"{prefix}-config.yaml": _bytes(k8s.config_object(inputs, config_toml, legacy)),
        f"{prefix}-account.yaml": _bytes(k8s.account_object(inputs, legacy)),
    }
    optional = {"pdb.yaml": k8s.disruption_budget(inputs), "nodeport-svc.yaml": k8s.exposed_service(inputs)}
    yamls.update({name: _bytes(obj) for name, obj in optional.items() if obj is not None})
    me = inputs.me
    for peer in peers(inputs):
        where = (me.cluster, me.name_space, deployment.cluster_domain)
        yamls.update(_external_files(inputs.chain_name, peer, *where))
    yamls["networkpolicy.yaml"] = _bytes(k8s.network_policy(inputs))
    tree = {f"yamls/{name}": data for name, data in yamls.items()}
    tree.update(kustomization(inputs, list(yamls), deployment))
    return tree


def dump(obj: dict[str, Any]) -> str:
    """yaml_out.dump, imported on first use: a node without manifests never loads PyYAML."""
    from cloud_config.render.yaml_out import dump as yaml_dump

    return yaml_dump(obj)


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


def _container_patch(inputs: NodeInputs, values: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    containers = [{"name": name, **fields} for name, fields in values]
    return _patch(inputs, {"template": {"spec": {"containers": containers}}})


def patches(inputs: NodeInputs, deployment: Deployment) -> list[dict[str, Any]]:
    """cloud-config's four StatefulSet patches (storage, resources, pull policy, probes), filled
    from the saved settings: the knobs an overlay edits, in one place."""
    services = [svc.slot for svc in k8s.SERVICES]
    every = [*services, "debug"] if deployment.enable_debug else services
    grpc = inputs.node.grpc_ports
    out = [
        _patch(inputs, {"volumeClaimTemplates": [k8s.pvc(deployment)]}),
        _container_patch(inputs, [(s, {"resources": k8s.resources(deployment, s)}) for s in services]),
        _container_patch(inputs, [(s, {"imagePullPolicy": deployment.pull_policy}) for s in every]),
    ]
    if not deployment.disable_health_check:
        probes = [(svc.slot, k8s.probes(grpc[svc.grpc_key], svc.startup_seconds)) for svc in k8s.SERVICES]
        out.append(_container_patch(inputs, probes))
    return out


def _image_entry(name: str, tag: str) -> dict[str, str]:
    """A kustomize `images` entry; a pinned `tag@sha256:...` keeps its digest."""
    tag, _, digest = tag.partition("@")
    return {"name": name, "newTag": tag, **({"digest": digest} if digest else {})}


def kustomization(inputs: NodeInputs, yamls: list[str], deployment: Deployment) -> Tree:
    """The node repo's root kustomization.yaml: the one place that lists what the repo applies
    (resources, images, patches). For a node encrypted at rest delivered by Argo CD, its
    Secrets move from `resources:` into the KSOPS generator (written beside it, listed under
    `generators:`); for Flux they stay under `resources:` (kustomize-controller decrypts them)."""
    target = {"kind": "StatefulSet", "name": inputs.node_name}
    resources, sealed = at_rest.split_resources(inputs, [f"yamls/{name}" for name in yamls])
    root: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "images": [_image_entry(name, tag) for name, tag in k8s.images(inputs)],
        "patches": [{"patch": dump(p), "target": target} for p in patches(inputs, deployment)],
        "resources": resources,
    }
    tree: Tree = {}
    if sealed:
        tree[SECRET_GENERATOR] = _bytes(at_rest.ksops_generator(inputs, sealed))
        root["generators"] = [SECRET_GENERATOR]
    tree[KUSTOMIZATION] = _bytes(root)
    return tree
