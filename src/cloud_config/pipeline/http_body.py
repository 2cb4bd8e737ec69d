"""HTTP/1.1 request bodies: chunked transfer coding decoded with a size bound (RFC 9112 §7.1)."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Protocol


class Readable(Protocol):
    """A binary stream (a socket file, a WSGI input)."""

    def read(self, size: int = ..., /) -> bytes: ...
    def readline(self, size: int = ..., /) -> bytes: ...


class BodyError(Exception):
    """A request body we will not read: its HTTP status and a one-line reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


_LINE_LIMIT = 1024  # a chunk-size line or a trailer line
_MAX_TRAILERS = 32
_HEX = re.compile(rb"[0-9A-Fa-f]{1,15}")


def read_chunked(rfile: Readable, limit: int) -> bytes:
    """Read a chunked body (RFC 9112 §7.1), refusing it as soon as it would exceed `limit` bytes."""
    body = bytearray()
    while True:
        size = _chunk_size(rfile.readline(_LINE_LIMIT + 1))
        if size == 0:
            break
        if len(body) + size > limit:
            raise BodyError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body larger than {limit} bytes")
        data = rfile.read(size)
        if len(data) != size or rfile.read(2) != b"\r\n":
            raise BodyError(HTTPStatus.BAD_REQUEST, "malformed chunked body (chunk truncated)")
        body += data
    for _ in range(_MAX_TRAILERS):
        line = rfile.readline(_LINE_LIMIT + 1)
        if line in (b"\r\n", b"\n"):
            return bytes(body)
        if not line.endswith(b"\n"):
            raise BodyError(HTTPStatus.BAD_REQUEST, "malformed chunked body (trailer)")
    raise BodyError(HTTPStatus.BAD_REQUEST, f"more than {_MAX_TRAILERS} trailer lines")


def _chunk_size(line: bytes) -> int:
    digits = line.split(b";", 1)[0].strip()
    if not line.endswith(b"\n") or not _HEX.fullmatch(digits):
        raise BodyError(HTTPStatus.BAD_REQUEST, "malformed chunked body (chunk size line)")
    return int(digits, 16)
