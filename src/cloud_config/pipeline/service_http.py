"""The HTTP edge of the webhook service (stdlib http.server; imported only when serving)."""

from __future__ import annotations

import hmac
import json
import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cloud_config.model.node import ENGINES
from cloud_config.pipeline.http_body import BodyError, read_chunked
from cloud_config.pipeline.service import Reconciler, Service, parse_listen
from cloud_config.pipeline.service_config import ServiceConfig
from cloud_config.pipeline.webhooks import WebhookAuthError, WebhookPayloadError

log = logging.getLogger("cloud_config.serve")
_READ_TIMEOUT = 30


class _Handler(BaseHTTPRequestHandler):
    server: ServiceServer
    protocol_version = "HTTP/1.1"
    timeout = _READ_TIMEOUT

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _reply(self, code: int, body: bytes, content_type: str, close: bool = False) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def _json(self, code: int, data: Any, close: bool = False) -> None:
        body = (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()
        self._reply(code, body, "application/json", close)

    def _status_allowed(self) -> bool:
        """Whether this listener serves the page, /status and /metrics to this request (else replied)."""
        service = self.server.service
        if self.server.role == "hooks" and service.config.status_listen:
            self._json(404, {"error": "not found (the status listener serves this)"})
            return False
        token = service.config.status_token
        given = (self.headers.get("Authorization") or "").encode()
        if token and not hmac.compare_digest(given, b"Bearer " + token):
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Bearer realm="cloud-config status"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return False
        return True

    def do_GET(self) -> None:
        service = self.server.service
        if self.path == "/healthz":
            self._reply(200, b"ok\n", "text/plain; charset=utf-8")
        elif self.path in ("/", "/status", "/metrics") and not self._status_allowed():
            return
        elif self.path == "/":
            self._reply(200, service.page().encode(), "text/html; charset=utf-8")
        elif self.server.role == "status":
            if self.path == "/status":
                self._json(200, service.status())
            elif self.path == "/metrics":
                self._reply(200, service.metrics().encode(), "text/plain; version=0.0.4; charset=utf-8")
            else:
                self._json(404, {"error": "not found"})
        elif self.path == "/status":
            self._json(200, service.status())
        elif self.path == "/metrics":
            self._reply(200, service.metrics().encode(), "text/plain; version=0.0.4; charset=utf-8")
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        service = self.server.service
        if self.server.role == "hooks" and self.path.startswith("/notify/"):
            self._notify()
            return
        if self.server.role != "hooks" or not self.path.startswith("/hooks/"):
            self._json(404, {"error": "not found"}, close=True)
            return
        pipeline = self.path.removeprefix("/hooks/").strip("/")
        try:
            body = self._read_body(service.config.max_body_bytes)
        except BodyError as exc:
            # The rest of the body is never read: answer and drop the connection.
            code, reply = service.refuse(pipeline, exc.status, str(exc))
            self._json(code, reply, close=True)
            return
        code, reply = service.push(pipeline, self.headers, body)
        self._json(code, reply)

    def _notify(self) -> None:
        """POST /notify/argocd/<pipeline> or /notify/flux/<pipeline>: a sync report."""
        service = self.server.service
        engine, _, pipeline = self.path.removeprefix("/notify/").strip("/").partition("/")
        if engine not in ENGINES or not pipeline:
            self._json(
                404, {"error": "expected /notify/argocd/<pipeline> or /notify/flux/<pipeline>"}, close=True
            )
            return
        try:
            body = self._read_body(service.config.max_body_bytes)
            code, reply = service.hooks.notify(engine, pipeline, self.headers, body)
        except BodyError as exc:
            self._json(exc.status, {"error": str(exc)}, close=True)
            return
        except WebhookAuthError as exc:
            log.warning("notify %s/%s refused: %s", engine, pipeline, exc)
            code, reply = 401, {"error": str(exc)}
        except WebhookPayloadError as exc:
            code, reply = 400, {"error": str(exc)}
        self._json(code, reply)

    def _read_body(self, limit: int) -> bytes:
        """The request body, by Content-Length or chunked; BodyError past `limit` or when malformed."""
        coding = self.headers.get("Transfer-Encoding")
        length_text = self.headers.get("Content-Length")
        if coding is not None:
            if coding.strip().lower() != "chunked":
                raise BodyError(HTTPStatus.NOT_IMPLEMENTED, "only Transfer-Encoding: chunked is supported")
            if length_text is not None:
                raise BodyError(HTTPStatus.BAD_REQUEST, "both Content-Length and Transfer-Encoding given")
            return read_chunked(self.rfile, limit)
        if length_text is None or not length_text.isascii() or not length_text.isdigit():
            raise BodyError(
                HTTPStatus.LENGTH_REQUIRED, "Content-Length or Transfer-Encoding: chunked required"
            )
        if int(length_text) > limit:
            raise BodyError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body larger than {limit} bytes")
        return self.rfile.read(int(length_text))


class ServiceServer(ThreadingHTTPServer):
    """A threading HTTP server that carries the service."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], service: Service, role: str = "hooks") -> None:
        self.service = service
        self.role = role  # "hooks": webhooks, notify (and the status routes unless moved); "status"
        self.status_server: ServiceServer | None = None  # the second listener (status_listen)
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        host, port = str(self.server_address[0]), int(self.server_address[1])
        return f"http://{host}:{port}"


def build_server(service: Service, host: str, port: int) -> ServiceServer:
    """Bind the server; the caller runs `serve_forever` and, at the end, shutdown + server_close."""
    return ServiceServer((host, port), service)


def make_app(
    config: ServiceConfig, *, reconciler: Reconciler | None = None, listen: str | None = None
) -> ServiceServer:
    """The service and its HTTP server (`.service`, `.url`), bound but not serving yet.

    `listen` overrides the file's address; port 0 picks a free port. The caller runs
    `serve_forever()` and, at the end, `shutdown()`, `server_close()` and `service.close()`.
    """
    server = build_server(Service(config, reconciler), *parse_listen(listen or config.listen))
    if config.status_listen:
        server.status_server = ServiceServer(
            parse_listen(config.status_listen), server.service, role="status"
        )
    return server


def run_until_stopped(server: ServiceServer, service: Service) -> None:
    """Serve until SIGTERM or Ctrl-C; then stop taking webhooks and let running reconciles end."""
    import signal

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    status_server = server.status_server
    if status_server is not None:
        threading.Thread(
            target=status_server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
        ).start()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        log.info("stopping")
    finally:
        signal.signal(signal.SIGTERM, previous)
        if status_server is not None:
            status_server.shutdown()
            status_server.server_close()
        server.server_close()
        service.close()
