"""Delivery objects for a node repo: an Argo CD `Application`, or a Flux `GitRepository` + `Kustomization`.

Pure: returns plain documents. Both engines sync automatically, prune what the node repo no
longer holds, and repair drift. Neither ever deletes the node's data:
* the node's PersistentVolumeClaims come from the StatefulSet's `volumeClaimTemplates`, so the
  StatefulSet controller owns them; Argo CD and Flux only prune objects they applied themselves
  (Argo CD's tracking label, Flux's inventory), so a prune never reaches them;
* the Application ignores differences in `volumeClaimTemplates` (a field Kubernetes forbids
  changing) so a later storage-class edit does not wedge every sync, and prunes last;
* no `resources-finalizer`: deleting the Application leaves the running node and its volumes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cloud_config.errors import UsageError
from cloud_config.model.paths import node_name

DEFAULT_SERVER = "https://kubernetes.default.svc"
ARGOCD_NAMESPACE = "argocd"
FLUX_NAMESPACE = "flux-system"
Doc = dict[str, Any]


@dataclass(frozen=True)
class AppSpec:
    """Where a node repo is and where it deploys to."""

    chain_name: str
    domain: str
    repo_url: str
    # The node repo's root: kustomization.yaml (resources, images, saved patches) is there.
    # 6.7.4's `yamls` skipped the kustomization; `--path yamls` still gives the old layout.
    path: str = "."
    revision: str = "master"
    dest_server: str = DEFAULT_SERVER
    dest_namespace: str = "default"
    project: str = "default"
    namespace: str = ""  # where the Application (or Flux objects) live; "" = the engine's own

    @property
    def name(self) -> str:
        """The object name: the node's name in the chain, as in the walkthrough."""
        return node_name(self.chain_name, self.domain)

    def labels(self) -> dict[str, str]:
        """Labels shared by every object."""
        return {
            "app.kubernetes.io/name": self.name,
            "app.kubernetes.io/part-of": self.chain_name,
            "app.kubernetes.io/managed-by": "cloud-config",
        }


def application(spec: AppSpec) -> Doc:
    """The Argo CD Application (what `argocd app create ... --sync-policy auto` makes, done right)."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": spec.name,
            "namespace": spec.namespace or ARGOCD_NAMESPACE,
            "labels": spec.labels(),
        },
        "spec": {
            "project": spec.project,
            "source": {"repoURL": spec.repo_url, "targetRevision": spec.revision, "path": spec.path},
            "destination": {"server": spec.dest_server, "namespace": spec.dest_namespace},
            "ignoreDifferences": [
                {"group": "apps", "kind": "StatefulSet", "jsonPointers": ["/spec/volumeClaimTemplates"]}
            ],
            "syncPolicy": {
                "automated": {"prune": True, "selfHeal": True, "allowEmpty": False},
                "syncOptions": ["PruneLast=true", "RespectIgnoreDifferences=true", "CreateNamespace=true"],
                "retry": {"limit": 5, "backoff": {"duration": "5s", "factor": 2, "maxDuration": "3m"}},
            },
        },
    }


def flux_objects(spec: AppSpec) -> list[Doc]:
    """A Flux GitRepository watching the node repo and a Kustomization applying its manifests."""
    if spec.dest_server != DEFAULT_SERVER:
        raise UsageError("--dest-server", "Flux applies to the cluster it runs in; leave it at the default")
    path = "./" if spec.path in (".", "./") else spec.path if spec.path.startswith("./") else f"./{spec.path}"
    namespace = spec.namespace or FLUX_NAMESPACE
    repo = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": spec.name, "namespace": namespace, "labels": spec.labels()},
        "spec": {"interval": "1m", "url": spec.repo_url, "ref": {"branch": spec.revision}},
    }
    kustomization = {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": spec.name, "namespace": namespace, "labels": spec.labels()},
        "spec": {
            "interval": "10m",
            "retryInterval": "1m",
            "path": path,
            "prune": True,
            "force": False,
            "sourceRef": {"kind": "GitRepository", "name": spec.name},
            "targetNamespace": spec.dest_namespace,
            "timeout": "5m",
        },
    }
    return [repo, kustomization]


def to_yaml(docs: list[Doc]) -> str:
    """The documents as one YAML stream."""
    import yaml

    return "---\n".join(yaml.safe_dump(doc, sort_keys=False, default_flow_style=False) for doc in docs)
