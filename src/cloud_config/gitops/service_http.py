"""The HTTP edge of the webhook service (stdlib http.server; imported only when serving)."""

from __future__ import annotations

import json
import logging
import re
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase
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
        pipeline = self.path.removeprefix("/hooks/").strip("/")
        try:
            body = self._read_body(service.config.max_body_bytes)
        except _BodyError as exc:
            # The rest of the body is never read: answer and drop the connection.
            code, reply = service.refuse(pipeline, exc.status, str(exc))
            self._json(code, reply, close=True)
            return
        code, reply = service.push(pipeline, self.headers, body)
        self._json(code, reply)

    def _read_body(self, limit: int) -> bytes:
        """The request body, by Content-Length or chunked; _BodyError past `limit` or when malformed."""
        coding = self.headers.get("Transfer-Encoding")
        length_text = self.headers.get("Content-Length")
        if coding is not None:
            if coding.strip().lower() != "chunked":
                raise _BodyError(HTTPStatus.NOT_IMPLEMENTED, "only Transfer-Encoding: chunked is supported")
            if length_text is not None:
                raise _BodyError(HTTPStatus.BAD_REQUEST, "both Content-Length and Transfer-Encoding given")
            return _read_chunked(self.rfile, limit)
        if length_text is None or not length_text.isascii() or not length_text.isdigit():
            raise _BodyError(
                HTTPStatus.LENGTH_REQUIRED, "Content-Length or Transfer-Encoding: chunked required"
            )
        if int(length_text) > limit:
            raise _BodyError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body larger than {limit} bytes")
        return self.rfile.read(int(length_text))


class _BodyError(Exception):
    """A request body we will not read: its HTTP status and a one-line reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


_LINE_LIMIT = 1024  # a chunk-size line or a trailer line
_MAX_TRAILERS = 32
_HEX = re.compile(rb"[0-9A-Fa-f]{1,15}")


def _read_chunked(rfile: BufferedIOBase, limit: int) -> bytes:
    """Read a chunked body (RFC 9112 §7.1), refusing it as soon as it would exceed `limit` bytes."""
    body = bytearray()
    while True:
        size = _chunk_size(rfile.readline(_LINE_LIMIT + 1))
        if size == 0:
            break
        if len(body) + size > limit:
            raise _BodyError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body larger than {limit} bytes")
        data = rfile.read(size)
        if len(data) != size or rfile.read(2) != b"\r\n":
            raise _BodyError(HTTPStatus.BAD_REQUEST, "malformed chunked body (chunk truncated)")
        body += data
    for _ in range(_MAX_TRAILERS):
        line = rfile.readline(_LINE_LIMIT + 1)
        if line in (b"\r\n", b"\n"):
            return bytes(body)
        if not line.endswith(b"\n"):
            raise _BodyError(HTTPStatus.BAD_REQUEST, "malformed chunked body (trailer)")
    raise _BodyError(HTTPStatus.BAD_REQUEST, f"more than {_MAX_TRAILERS} trailer lines")


def _chunk_size(line: bytes) -> int:
    digits = line.split(b";", 1)[0].strip()
    if not line.endswith(b"\n") or not _HEX.fullmatch(digits):
        raise _BodyError(HTTPStatus.BAD_REQUEST, "malformed chunked body (chunk size line)")
    return int(digits, 16)


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
