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
    # Flux: the Secret (beside the Kustomization) whose `*.agekey` entry decrypts the node's SOPS files.
    sops_secret: str | None = None
    project: str = "default"
    namespace: str = ""  # where the Application (or Flux objects) live; "" = the engine's own

    @property
    def flux_namespace(self) -> str:
        """Where the Flux objects (and the Secrets they reference) live."""
        return self.namespace or FLUX_NAMESPACE

    verify_key_id: str | None = None  # 16-hex OpenPGP key id the node commits must be signed with
    verify_public_key: str | None = None  # its armored public key, when known

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


def argocd_objects(spec: AppSpec, notify_url: str | None = None) -> list[Doc]:
    """The Application; with a verify key, first an AppProject whose `signatureKeys` make Argo CD
    sync only commits signed by that key (and the `argocd-gpg-keys-cm` entry holding the public
    key, when given). `signatureKeys` is what the Argo CD releases our schemas know accept; Argo CD
    3.5+ reads it as a `sourceIntegrity` policy in `head` mode. With `notify_url`, the Application
    is subscribed to our triggers and the argocd-notifications-cm patch comes last."""
    docs = _argocd_app_objects(spec)
    if notify_url is None:
        return docs
    for doc in docs:
        if doc["kind"] == "Application":
            subscribe(doc)
    return [*docs, notifications_patch(notify_url)]


def _argocd_app_objects(spec: AppSpec) -> list[Doc]:
    if spec.verify_key_id is None:
        return [application(spec)]
    project: Doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {
            "name": spec.name if spec.project == "default" else spec.project,
            "namespace": ARGOCD_NAMESPACE,
            "labels": spec.labels(),
        },
        "spec": {
            "description": f"{spec.name}: only commits signed by the pipeline's key {spec.verify_key_id}",
            "sourceRepos": [spec.repo_url],
            "destinations": [{"server": spec.dest_server, "namespace": spec.dest_namespace}],
            "clusterResourceWhitelist": [{"group": "", "kind": "Namespace"}],
            "signatureKeys": [{"keyID": spec.verify_key_id}],
        },
    }
    docs = [project, application(spec, project=project["metadata"]["name"])]
    if spec.verify_public_key is not None:
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": "argocd-gpg-keys-cm",
                    "namespace": ARGOCD_NAMESPACE,
                    "labels": {
                        "app.kubernetes.io/name": "argocd-gpg-keys-cm",
                        "app.kubernetes.io/part-of": "argocd",
                    },
                },
                "data": {spec.verify_key_id: spec.verify_public_key},
            }
        )
    return docs


def application(spec: AppSpec, project: str | None = None) -> Doc:
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
            "project": project or spec.project,
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
    namespace = spec.flux_namespace
    repo: Doc = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": spec.name, "namespace": namespace, "labels": spec.labels()},
        "spec": {"interval": "1m", "url": spec.repo_url, "ref": {"branch": spec.revision}},
    }
    keys: list[Doc] = []
    if spec.verify_key_id is not None:
        # source.toolkit.fluxcd.io/v1 `verify` has `mode` and `secretRef` only (no `provider`):
        # the Secret's `*.asc` entries are the trusted OpenPGP public keys.
        secret = f"{spec.name}-signing-key"
        repo["spec"]["verify"] = {"mode": "HEAD", "secretRef": {"name": secret}}
        if spec.verify_public_key is not None:
            keys.append(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": secret, "namespace": namespace, "labels": spec.labels()},
                    "type": "Opaque",
                    "stringData": {f"{spec.verify_key_id}.asc": spec.verify_public_key},
                }
            )
    kustomization: Doc = {
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
    if spec.sops_secret is not None:
        kustomization["spec"]["decryption"] = {"provider": "sops", "secretRef": {"name": spec.sops_secret}}
    return [*keys, repo, kustomization]


def to_yaml(docs: list[Doc]) -> str:
    """The documents as one YAML stream."""
    import yaml

    return "---\n".join(yaml.safe_dump(doc, sort_keys=False, default_flow_style=False) for doc in docs)


# ---- sync reports back to `serve` (/notify/argocd/<pipeline>, /notify/flux/<pipeline>) -----------
# Argo CD notifications (argoproj/notifications-engine cf274d2e5cf0): service `service.webhook.<name>`
# in argocd-notifications-cm, `$key` values taken from argocd-notifications-secret, no signing
# (static headers only); subscription annotation `notifications.argoproj.io/subscribe.<trigger>.<service>`.
# Flux (fluxcd/notification-controller 2e46958a67f3): Provider and Alert are v1beta3; `generic-hmac`
# signs the body with the Secret's `token` (X-Signature: sha256=<hex>).
NOTIFY_SERVICE = "cloud-config"
NOTIFY_TOKEN_KEY = "cloud-config-notify-token"  # the key in argocd-notifications-secret
NOTIFY_TRIGGERS = ("cloud-config-synced", "cloud-config-degraded")
_SYNC_BODY = (
    '{"app":"{{.app.metadata.name}}","ns":"{{.app.metadata.namespace}}",'
    '"revision":"{{.app.status.sync.revision}}","sync":"{{.app.status.sync.status}}",'
    '"health":"{{.app.status.health.status}}"}'
)


def subscribe(app: Doc) -> Doc:
    """The Application with the annotations subscribing it to our triggers (empty recipient)."""
    annotations = app["metadata"].setdefault("annotations", {})
    for trigger in NOTIFY_TRIGGERS:
        annotations[f"notifications.argoproj.io/subscribe.{trigger}.{NOTIFY_SERVICE}"] = ""
    return app


def notifications_patch(notify_url: str) -> Doc:
    """Only our keys of the cluster-wide argocd-notifications-cm, to merge in with
    `kubectl -n argocd patch configmap argocd-notifications-cm --type merge --patch-file FILE`
    (never apply it as the whole ConfigMap: other teams' triggers live there too)."""
    service = (
        f"url: {notify_url}\n"
        "headers:\n"
        "- name: Content-Type\n  value: application/json\n"
        f"- name: Authorization\n  value: Bearer ${NOTIFY_TOKEN_KEY}\n"
    )
    template = f"webhook:\n  {NOTIFY_SERVICE}:\n    method: POST\n    body: |\n      {_SYNC_BODY}\n"
    synced = (
        "- when: app.status.operationState != nil and app.status.operationState.phase in ['Succeeded']\n"
        "  oncePer: app.status.sync.revision\n  send: [cloud-config-sync]\n"
    )
    degraded = "- when: app.status.health.status == 'Degraded'\n  send: [cloud-config-sync]\n"
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "argocd-notifications-cm", "namespace": ARGOCD_NAMESPACE},
        "data": {
            f"service.webhook.{NOTIFY_SERVICE}": service,
            "template.cloud-config-sync": template,
            "trigger.cloud-config-synced": synced,
            "trigger.cloud-config-degraded": degraded,
        },
    }


def flux_notify_objects(spec: AppSpec, notify_url: str) -> list[Doc]:
    """A generic-hmac Provider posting to `notify_url` and an Alert for the node's Kustomization.
    The Secret `<name>-notify` (key `token`, in their namespace) holds the pipeline's notify secret;
    create it yourself."""
    namespace = spec.flux_namespace
    provider = {
        "apiVersion": "notification.toolkit.fluxcd.io/v1beta3",
        "kind": "Provider",
        "metadata": {"name": f"{spec.name}-status", "namespace": namespace, "labels": spec.labels()},
        "spec": {"type": "generic-hmac", "address": notify_url, "secretRef": {"name": f"{spec.name}-notify"}},
    }
    alert = {
        "apiVersion": "notification.toolkit.fluxcd.io/v1beta3",
        "kind": "Alert",
        "metadata": {"name": f"{spec.name}-status", "namespace": namespace, "labels": spec.labels()},
        "spec": {
            "providerRef": {"name": f"{spec.name}-status"},
            "eventSeverity": "info",
            "eventSources": [{"kind": "Kustomization", "name": spec.name}],
        },
    }
    return [provider, alert]
