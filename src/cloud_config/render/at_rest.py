"""What a node encrypted at rest adds to its tree: `.sops.yaml`, and for Argo CD the KSOPS generator.

Pure: the rendered files stay plaintext here; `store.sync` encrypts those on the secret-path list.
For Flux the encrypted Secrets stay under `resources:` (kustomize-controller decrypts every file
with a `sops:` key); for Argo CD they move from `resources:` into KSOPS's generator
(`secret-generator.yaml`, listed under `generators:`), which the repo-server runs to decrypt them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cloud_config.model.paths import ENCRYPTED_FIELDS, ENCRYPTED_PATHS, encrypted_at_rest
from cloud_config.render.inputs import NodeInputs

# KSOPS's generator (viaduct-ai/kustomize-sops v4.5.1, README and ksops.go `type ksops`).
KSOPS_API_VERSION = "viaduct.ai/v1"
KSOPS_KIND = "ksops"


def sops_config(recipients: Sequence[str]) -> dict[str, Any]:
    """`.sops.yaml`: one creation rule per kind of secret file, to the node's recipients."""
    age = ",".join(sorted(recipients))
    rules: list[dict[str, Any]] = []
    for regex, kind in ENCRYPTED_PATHS:
        rule = {"path_regex": regex, "age": age}
        if kind == "yaml":
            rule["encrypted_regex"] = ENCRYPTED_FIELDS
        rules.append(rule)
    return {"creation_rules": rules}


def ksops_generator(inputs: NodeInputs, files: Sequence[str]) -> dict[str, Any]:
    """The KSOPS generator decrypting `files` (paths relative to the kustomization)."""
    return {
        "apiVersion": KSOPS_API_VERSION,
        "kind": KSOPS_KIND,
        "metadata": {
            "name": f"{inputs.node_name}-secrets",
            "annotations": {"config.kubernetes.io/function": "exec:\n  path: ksops\n"},
        },
        "files": [f"./{f}" for f in files],
    }


def split_resources(inputs: NodeInputs, resources: Sequence[str]) -> tuple[list[str], list[str]]:
    """(resources, files for KSOPS): for an encrypted Argo CD node the Secrets go to KSOPS."""
    deployment = inputs.node.deployment
    if not inputs.node.recipients or deployment is None or deployment.engine != "argocd":
        return list(resources), []
    sealed = [r for r in resources if encrypted_at_rest(r) == "yaml"]
    return [r for r in resources if r not in sealed], sealed
