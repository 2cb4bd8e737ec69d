"""Loopback stand-ins for the delivery engines, checking what they check (research/engines.md):

* Argo CD `/api/webhook` (util/webhook + go-playground/webhooks v6.4.0 github parser): POST only,
  `X-GitHub-Event` must be push or ping, with a secret only `X-Hub-Signature-256` counts (401 on a
  mismatch), the body must unmarshal into the push payload (`repository.created_at`/`pushed_at`
  are int64: a string there is a 400), and `repository.html_url` is the URL matched.
* A Flux `Receiver` of type generic-hmac at `/hook/<sha256(token+name+namespace)>` (404 elsewhere),
  `X-Signature: <sha1|sha256|sha512>=<hex>` over the raw body.
And the senders: what Argo CD's notifications webhook service and Flux's generic-hmac Provider POST.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    """One request the stand-in accepted."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class EngineStandIn:
    """A running stand-in; `kind` "argocd" or "flux"."""

    kind: str
    secret: bytes
    receiver: tuple[str, str] = ("node-receiver", "flux-system")
    accepted: list[Received] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                code, why = stand_in.check(self.path, {k: v for k, v in self.headers.items()}, body)
                if code == 200:
                    stand_in.accepted.append(
                        Received(self.path, dict(self.headers.items()), body, time.time())
                    )
                else:
                    stand_in.refused.append((code, why))
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def hook_path(self) -> str:
        """Argo CD's fixed path, or the Receiver's webhookPath."""
        if self.kind == "argocd":
            return "/api/webhook"
        name, namespace = self.receiver
        return "/hook/" + hashlib.sha256(self.secret + name.encode() + namespace.encode()).hexdigest()

    @property
    def url(self) -> str:
        """What goes into serve.toml."""
        return f"http://127.0.0.1:{self.server.server_address[1]}{self.hook_path}"

    def check(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        """(HTTP status, reason) the engine would answer."""
        lower = {k.lower(): v for k, v in headers.items()}
        if path != self.hook_path:
            return 404, "unknown path"
        if self.kind == "flux":
            algo, _, given = lower.get("x-signature", "").partition("=")
            digest = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}.get(algo)
            if digest is None or not hmac.compare_digest(
                given, hmac.new(self.secret, body, digest).hexdigest()
            ):
                return 400, "X-Signature does not match"
            return 200, ""
        if lower.get("x-github-event") not in ("push", "ping"):
            return 400, "not a push event"
        given = lower.get("x-hub-signature-256", "")
        if not hmac.compare_digest(
            given, "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        ):
            return 401, "HMAC verification failed"
        if lower.get("content-type") != "application/json":
            return 400, "form encoding is not supported"
        try:
            event = json.loads(body)
        except ValueError:
            return 400, "not JSON"
        repo = event.get("repository", {})
        if not isinstance(repo.get("html_url"), str) or not isinstance(event.get("ref"), str):
            return 400, "no repository.html_url or ref"
        if any(not isinstance(repo.get(k, 0), int) for k in ("created_at", "pushed_at")):
            return 400, "created_at / pushed_at must be int64"
        return 200, ""

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


def argocd_notification(url: str, secret: str, app: str, revision: str) -> tuple[int, bytes]:
    """POST what our argocd-notifications template sends (service.webhook headers: a Bearer value)."""
    body = json.dumps(
        {
            "app": app,
            "ns": "argocd",
            "revision": revision,
            "sync": "Synced",
            "health": "Healthy",
            "phase": "Succeeded",
        }
    ).encode()
    return _post(url, body, {"Content-Type": "application/json", "Authorization": f"Bearer {secret}"}), body


def flux_event(name: str, revision: str) -> bytes:
    """A notification-controller event as Go's json.Marshal writes it (field order, no spaces)."""
    event = {
        "involvedObject": {"kind": "Kustomization", "namespace": "flux-system", "name": name,
                           "uid": "7d0f5d2a-1b7e-4c55-9d2e-1f0c3c4b5a6d",
                           "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "resourceVersion": "12345"},
        "severity": "info",
        "timestamp": "2026-12-01T22:00:00Z",
        "message": "Reconciliation finished in 1.2s, next run in 10m0s",
        "reason": "ReconciliationSucceeded",
        "metadata": {"revision": f"master@sha1:{revision}", "summary": "node"},
        "reportingController": "kustomize-controller",
        "reportingInstance": "kustomize-controller-7c7b9d8c5-abcde",
    }  # fmt: skip
    return json.dumps(event, separators=(",", ":")).encode()


def flux_notification(url: str, token: bytes, body: bytes, sign: bool = True) -> int:
    """POST a Flux event the way the generic-hmac Provider does."""
    headers = {"Content-Type": "application/json", "gotk-component": "kustomize-controller"}
    if sign:
        headers["X-Signature"] = "sha256=" + hmac.new(token, body, hashlib.sha256).hexdigest()
    return _post(url, body, headers)


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, body, headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


class Collector:
    """A loopback endpoint recording every POSTed JSON body (a Slack-compatible incoming webhook)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                collector.bodies.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/slack"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
