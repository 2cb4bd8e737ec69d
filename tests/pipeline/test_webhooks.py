"""The webhook endpoint over real HTTP: every forge's signature scheme, 401/202/413, and no run when refused.

Signatures are computed here by hand from each forge's documentation, not with the code under test.
Reconciles are real: the real renderer on a real chain, git over HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from cloud_config.pipeline.service import Service
from cloud_config.pipeline.service_config import load_config
from cloud_config.pipeline.service_http import make_app
from cloud_config.pipeline.webhooks import GITEE_MAX_SKEW_SECONDS
from tests.support.pipeline_repos import (
    SECRET,
    Repos,
    Writer,
    build_template,
    get,
    post,
    push_event,
    write_service_file,
)

pytestmark = pytest.mark.slow  # real servers, forge over HTTP, many processes


class Running:
    """A started service with one pipeline ("chain") driving node0."""

    def __init__(self, service: Service, server: Any, chain: Writer) -> None:
        self.service, self.server, self.chain = service, server, chain
        self.hook = f"{server.url}/hooks/chain"

    def runs(self) -> int:
        return int(self.service.status()["chain"]["node0"]["runs"])

    def send(self, headers: dict[str, str], body: bytes | None = None) -> tuple[int, dict[str, Any]]:
        body = push_event("master", self.chain.head()) if body is None else body
        code, text = post(self.hook, body, {"Content-Type": "application/json", **headers})
        return code, json.loads(text)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("webhooks")
    repos = Repos(build_template(tmp / "template"), tmp)
    try:
        config = load_config(write_service_file(tmp, repos.chain_url, {"node0": repos.node_url}))
        server = make_app(config, listen="127.0.0.1:0")
        service = server.service
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield Running(service, server, repos.chain)
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)
            assert service.close(timeout=30)
    finally:
        repos.close()


def hex_hmac(body: bytes) -> str:
    return hmac.new(SECRET, body, hashlib.sha256).hexdigest()


def gitee_sign(timestamp: str) -> str:
    digest = hmac.new(SECRET, f"{timestamp}\n{SECRET.decode()}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def gitee_signed(offset_seconds: float = 0.0) -> dict[str, str]:
    """Gitee's signed-mode headers for a request made `offset_seconds` from now (milliseconds)."""
    stamp = str(int((time.time() + offset_seconds) * 1000))
    return {"X-Gitee-Token": gitee_sign(stamp), "X-Gitee-Timestamp": stamp}


def good_headers(forge: str, body: bytes) -> dict[str, str]:
    return {
        "github": {"X-Hub-Signature-256": "sha256=" + hex_hmac(body), "X-GitHub-Event": "push"},
        "gitea": {"X-Gitea-Signature": hex_hmac(body)},
        "gogs": {"X-Gogs-Signature": hex_hmac(body)},
        "gitlab": {"X-Gitlab-Token": SECRET.decode()},
        "gitee": {"X-Gitee-Token": SECRET.decode()},
        "gitee-signed": gitee_signed(),
    }[forge]


@pytest.mark.parametrize("forge", ["github", "gitea", "gogs", "gitlab", "gitee", "gitee-signed"])
def test_each_forge_signature_is_accepted_and_runs_a_reconcile(running: Running, forge: str) -> None:
    body = push_event("master", running.chain.head())
    before = running.runs()
    code, reply = running.send(good_headers(forge, body), body)
    assert code == 202 and reply["forge"] == forge.removesuffix("-signed")
    assert reply["queued"] == {"node0": "running"} or reply["queued"] == {"node0": "running+pending"}
    assert running.service.queue.wait_idle(30)
    assert running.runs() > before
    last = running.service.status()["chain"]["node0"]["last"]
    assert last["result"] in ("committed", "up to date") and last["chain_sha"] == running.chain.head()


BAD = {
    "github": {"X-Hub-Signature-256": "sha256=" + "0" * 64},
    "github-unprefixed": {"X-Hub-Signature-256": hmac.new(SECRET, b"x", hashlib.sha256).hexdigest()},
    "gitea": {"X-Gitea-Signature": "ab" * 32},
    "gogs": {"X-Gogs-Signature": "nothex"},
    "gitlab": {"X-Gitlab-Token": "wrong"},
    "gitee": {"X-Gitee-Token": "wrong"},
    "gitee-signed": {"X-Gitee-Token": gitee_sign("1"), "X-Gitee-Timestamp": "2"},
    # Correctly signed, but replayed: outside the window either way, or not a number at all.
    # (Timestamps relative to now are made when the test runs: see TIMED.)
    "gitee-stale": {},
    "gitee-2023": {"X-Gitee-Token": gitee_sign("1700000000000"), "X-Gitee-Timestamp": "1700000000000"},
    "gitee-future": {},
    "gitee-not-a-number": {"X-Gitee-Token": gitee_sign("12e9"), "X-Gitee-Timestamp": "12e9"},
    "none": {},
}


TIMED = {
    "gitee-stale": lambda: gitee_signed(-GITEE_MAX_SKEW_SECONDS - 60),
    "gitee-future": lambda: gitee_signed(GITEE_MAX_SKEW_SECONDS + 60),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_or_missing_signature_is_401_and_runs_nothing(running: Running, case: str) -> None:
    headers = TIMED[case]() if case in TIMED else BAD[case]
    before = running.runs()
    code, reply = running.send(headers)
    assert code == 401 and "error" in reply
    assert running.service.queue.wait_idle(30)
    assert running.runs() == before


def test_signature_over_another_body_is_refused(running: Running) -> None:
    body = push_event("master", running.chain.head())
    code, _ = running.send(good_headers("github", b"{}"), body)
    assert code == 401


def test_other_branch_is_accepted_but_runs_nothing(running: Running) -> None:
    before = running.runs()
    body = push_event("feature", running.chain.head())
    code, reply = running.send(good_headers("gitea", body), body)
    assert code == 202 and "ignored" in reply
    assert running.service.queue.wait_idle(30)
    assert running.runs() == before


def test_branch_deletion_runs_nothing(running: Running) -> None:
    before = running.runs()
    body = push_event("master", "0" * 40, before=running.chain.head())
    code, reply = running.send(good_headers("github", body), body)
    assert code == 202 and reply["ignored"] == "master was deleted"
    assert running.service.queue.wait_idle(30)
    assert running.runs() == before


def test_oversized_body_is_413_and_counted(running: Running) -> None:
    body = b"{" + b" " * 5000 + b"}"
    code, _ = running.send(good_headers("github", body), body)
    assert code == 413
    _, metrics = get(f"{running.server.url}/metrics")
    assert 'cloud_config_webhooks_total{pipeline="chain",code="413"}' in metrics


def test_unknown_pipeline_is_404(running: Running) -> None:
    body = push_event("master", "0" * 40)
    code, _ = post(f"{running.server.url}/hooks/nope", body, good_headers("gitea", body))
    assert code == 404


def test_health_status_and_metrics(running: Running) -> None:
    body = push_event("master", running.chain.head())
    running.send(good_headers("gitea", body), body)
    assert running.send(BAD["none"])[0] == 401  # counted below (not left to another test's order)
    assert running.service.queue.wait_idle(30)
    assert get(f"{running.server.url}/healthz") == (200, "ok\n")
    code, text = get(f"{running.server.url}/status")
    node0 = json.loads(text)["chain"]["node0"]
    assert code == 200 and node0["state"] == "idle"
    assert set(node0["last"]) >= {"chain_sha", "result", "node_commit", "seconds", "time"}
    code, metrics = get(f"{running.server.url}/metrics")
    runs = running.runs()
    assert f'cloud_config_reconcile_runs_total{{pipeline="chain",domain="node0"}} {runs}' in metrics
    assert 'cloud_config_reconcile_failures_total{pipeline="chain",domain="node0"} 0' in metrics
    assert (
        f'cloud_config_reconcile_duration_seconds_count{{pipeline="chain",domain="node0"}} {runs}' in metrics
    )
    assert 'cloud_config_webhooks_total{pipeline="chain",code="401"}' in metrics
    assert "# TYPE cloud_config_reconcile_duration_seconds summary" in metrics


def test_gitee_timestamp_inside_the_window_is_accepted(running: Running) -> None:
    assert GITEE_MAX_SKEW_SECONDS == 300
    for offset in (-GITEE_MAX_SKEW_SECONDS + 30, GITEE_MAX_SKEW_SECONDS - 30):
        code, reply = running.send(gitee_signed(offset))
        assert code == 202 and reply["forge"] == "gitee"
    assert running.service.queue.wait_idle(30)


def test_stale_gitee_timestamp_says_why(running: Running) -> None:
    code, reply = running.send(gitee_signed(-3600))
    assert code == 401 and "X-Gitee-Timestamp is 36" in reply["error"]
    assert "s behind this server's clock; more than 300 s either way is refused" in reply["error"]
    assert SECRET.decode() not in reply["error"]


def test_chunked_body_is_read_and_runs_a_reconcile(running: Running) -> None:
    body = push_event("master", running.chain.head())
    before = running.runs()
    pieces = [body[i : i + 7] for i in range(0, len(body), 7)]
    code, text = send_chunked(running.hook, pieces, {"X-Gitea-Signature": hex_hmac(body)})
    assert code == 202 and json.loads(text)["forge"] == "gitea"
    assert running.service.queue.wait_idle(30)
    assert running.runs() > before


def test_chunked_body_over_the_limit_is_413_and_runs_nothing(running: Running) -> None:
    body = b"{" + b" " * 5000 + b"}"  # max_body_bytes is 4096
    before = running.runs()
    code, _ = send_chunked(running.hook, [body[:3000], body[3000:]], {"X-Gitea-Signature": hex_hmac(body)})
    assert code == 413
    assert running.service.queue.wait_idle(30)
    assert running.runs() == before


def send_chunked(url: str, pieces: list[bytes], headers: dict[str, str]) -> tuple[int, str]:
    """POST with Transfer-Encoding: chunked (http.client encodes the pieces), no Content-Length."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.request("POST", parts.path, body=iter(pieces), headers=headers, encode_chunked=True)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


RAW: dict[str, tuple[bytes, int] | tuple[bytes, int, bytes]] = {
    "no-length": (b"", 411),
    "te-gzip": (b"Transfer-Encoding: gzip\r\n", 501),
    "te-and-length": (b"Transfer-Encoding: chunked\r\nContent-Length: 2\r\n", 400),
    "bad-size": (b"Transfer-Encoding: chunked\r\n", 400, b"zz\r\n{}\r\n0\r\n\r\n"),
    "size-with-0x": (b"Transfer-Encoding: chunked\r\n", 400, b"0x2\r\n{}\r\n0\r\n\r\n"),
    "short-chunk": (b"Transfer-Encoding: chunked\r\n", 400, b"5\r\n{}\r\n0\r\n\r\n"),
    "huge-size": (b"Transfer-Encoding: chunked\r\n", 413, b"ffffffff\r\n{}"),
}


@pytest.mark.parametrize("case", sorted(RAW))
def test_bodies_we_do_not_read_are_refused_and_run_nothing(running: Running, case: str) -> None:
    extra, expected, body = (*RAW[case], b"")[:3]
    before = running.runs()
    head = b"POST /hooks/chain HTTP/1.1\r\nHost: x\r\nX-Gitlab-Token: " + SECRET + b"\r\n" + extra
    assert raw_status(running.server.url, head + b"\r\n" + body) == expected
    assert running.service.queue.wait_idle(30)
    assert running.runs() == before


def raw_status(url: str, request: bytes) -> int:
    """Send bytes as they are and return the response's status code."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname or "", parts.port or 80), timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    return int(reply.split(b" ", 2)[1])
