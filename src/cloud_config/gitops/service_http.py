"""The HTTP edge of the webhook service (stdlib http.server; imported only when serving)."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cloud_config.gitops.service import Service

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

    def do_GET(self) -> None:
        service = self.server.service
        if self.path == "/healthz":
            self._reply(200, b"ok\n", "text/plain; charset=utf-8")
        elif self.path == "/status":
            self._json(200, service.status())
        elif self.path == "/metrics":
            self._reply(200, service.metrics().encode(), "text/plain; version=0.0.4; charset=utf-8")
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        service = self.server.service
        if not self.path.startswith("/hooks/"):
            self._json(404, {"error": "not found"}, close=True)
            return
        length_text = self.headers.get("Content-Length")
        if length_text is None or not length_text.isdigit():
            self._json(HTTPStatus.LENGTH_REQUIRED, {"error": "Content-Length required"}, close=True)
            return
        if int(length_text) > service.config.max_body_bytes:
            # The body is never read: answer and drop the connection.
            self._json(413, {"error": f"body larger than {service.config.max_body_bytes} bytes"}, close=True)
            return
        body = self.rfile.read(int(length_text))
        code, reply = service.push(self.path.removeprefix("/hooks/").strip("/"), self.headers, body)
        self._json(code, reply)


class ServiceServer(ThreadingHTTPServer):
    """A threading HTTP server that carries the service."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], service: Service) -> None:
        self.service = service
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        host, port = str(self.server_address[0]), int(self.server_address[1])
        return f"http://{host}:{port}"


def build_server(service: Service, host: str, port: int) -> ServiceServer:
    """Bind the server; the caller runs `serve_forever` and, at the end, shutdown + server_close."""
    return ServiceServer((host, port), service)
