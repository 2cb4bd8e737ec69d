"""The delivery engines, both ways: pinging Argo CD / Flux after a node-repo push, and reading
the sync reports they send back to `/notify/argocd/<pipeline>` and `/notify/flux/<pipeline>`.

Facts (research/engines.md; argoproj/argo-cd util/webhook, go-playground/webhooks 02d182ac4769,
argoproj/notifications-engine cf274d2e5cf0, fluxcd/notification-controller 2e46958a67f3):
* Argo CD `/api/webhook` reads a GitHub push (`X-GitHub-Event: push`, JSON): `ref`, `after`,
  `repository.html_url` (the only URL it matches against `spec.source.repoURL`) and
  `repository.default_branch`; with `webhook.github.secret` set it checks only
  `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>` (401 on a mismatch).
* A Flux `Receiver` of type `generic-hmac` listens at `/hook/<sha256(token+name+namespace)>` and
  checks `X-Signature: sha256=<hex HMAC-SHA256(token, body)>` over the raw body.
* Argo CD's notifications webhook service cannot sign: it sends static headers (values from
  `argocd-notifications-secret`) or basic auth, so we take `Authorization: Bearer <secret>`.
* Flux's `generic-hmac` Provider sends `json.Marshal(event)` with
  `X-Signature: sha256=<hex HMAC-SHA256(token, body)>`; metadata keys lose their group prefix
  (`revision`, not `kustomize.toolkit.fluxcd.io/revision`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from cloud_config.errors import CloudConfigError
from cloud_config.pipeline.webhooks import Headers, WebhookAuthError, WebhookPayloadError, json_object

PING_TIMEOUT = 10.0


@dataclass(frozen=True)
class EngineSettings:
    """Which engine a pipeline pings after a push, where, and the shared secret."""

    kind: str  # "argocd" or "flux"
    url: str
    secret: bytes = field(repr=False)


def _hmac_hex(secret: bytes, body: bytes) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def public_url(url: str) -> str:
    """A repo URL without any user:password part (what the engine's Application names)."""
    return re.sub(r"^([a-z][a-z0-9+.-]*://)[^/\s]+@", r"\1", url, flags=re.IGNORECASE)


def push_event(repo_url: str, branch: str, before: str, after: str, modified: list[str]) -> bytes:
    """The GitHub-format push event Argo CD's /api/webhook reads (and a Flux Receiver accepts)."""
    event = {
        "ref": f"refs/heads/{branch}",
        "before": before,
        "after": after,
        "repository": {"html_url": public_url(repo_url), "default_branch": branch},
        "commits": [{"id": after, "added": [], "modified": sorted(modified), "removed": []}],
    }
    return json.dumps(event, sort_keys=True).encode()


def ping_headers(kind: str, secret: bytes, body: bytes) -> dict[str, str]:
    """The headers of an engine ping: Argo CD's GitHub push, or a Flux generic-hmac Receiver's."""
    signature = "sha256=" + _hmac_hex(secret, body)
    if kind == "argocd":
        return {
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-Hub-Signature-256": signature,
        }
    return {"Content-Type": "application/json", "X-Signature": signature}


def ping(engine: EngineSettings, body: bytes) -> int:
    """POST the push event to the engine; its HTTP status. Raises CloudConfigError when unreachable."""
    headers = ping_headers(engine.kind, engine.secret, body)
    return _post(engine.url, body, headers, f"{engine.kind} ping")


def post_text(url: str, text: str) -> int:
    """POST a Slack-compatible `{"text": ...}` message; its HTTP status (raises when unreachable)."""
    body = json.dumps({"text": text}).encode()
    return _post(url, body, {"Content-Type": "application/json"}, "alert webhook")


def _post(url: str, body: bytes, headers: dict[str, str], what: str) -> int:
    request = urllib.request.Request(url, body, headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=PING_TIMEOUT) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError) as exc:
        raise CloudConfigError(f"{what} to {public_url(url)} failed: {exc}") from None


# ---- sync reports coming back ------------------------------------------------------------


def check_notify(engine: str, headers: Headers, body: bytes, secret: bytes) -> None:
    """Authenticate a sync report as that engine sends it; WebhookAuthError (401) otherwise."""
    if not secret:
        raise WebhookAuthError("no notify secret is configured for this pipeline")
    if engine == "argocd":
        given = headers.get("Authorization") or ""
        if not hmac.compare_digest(given.encode(), b"Bearer " + secret):
            raise WebhookAuthError("bad or missing Authorization: Bearer token")
    else:
        given = headers.get("X-Signature") or ""
        if not hmac.compare_digest(given.encode(), ("sha256=" + _hmac_hex(secret, body)).encode()):
            raise WebhookAuthError("bad or missing X-Signature")


def read_sync(engine: str, body: bytes) -> tuple[str, dict[str, str]]:
    """(object name, {engine, revision, health, time}) of a sync report.

    Argo CD: the body our `argocd-app --notify-url` template sends
    (`{"app", "revision", "sync", "health"}`). Flux: a notification-controller event; the
    revision is `metadata.revision` (`<branch>@sha1:<sha>`), the health its severity and reason.
    """
    data = json_object(body)
    if engine == "argocd":
        name, revision = data.get("app"), data.get("revision")
        health = f"{data.get('sync', '?')}/{data.get('health', '?')}"
    else:
        involved: dict[str, Any] = data.get("involvedObject") or {}
        metadata: dict[str, Any] = data.get("metadata") or {}
        if not isinstance(involved, dict) or not isinstance(metadata, dict):
            raise WebhookPayloadError("not a Flux event (involvedObject and metadata must be objects)")
        name, revision = involved.get("name"), metadata.get("revision", "")
        healthy = data.get("severity") == "info"
        health = f"{'Ready' if healthy else 'Failed'}/{data.get('reason', '?')}"
    if not isinstance(name, str) or not name or not isinstance(revision, str):
        raise WebhookPayloadError(f"not a {engine} sync report (no object name or revision)")
    revision = revision.rpartition(":")[2] if "@" in revision else revision
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return name, {"engine": engine, "revision": revision[:64], "health": str(health)[:80], "time": stamp}
