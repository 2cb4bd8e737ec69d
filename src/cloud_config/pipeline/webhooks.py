"""Push webhooks: checking who sent them (before the body is parsed) and reading the pushed branch.

Schemes (each forge's documented one):
* GitHub      `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`
* Gitea, Gogs `X-Gitea-Signature` / `X-Gogs-Signature: <hex HMAC-SHA256(secret, body)>`
* GitLab      `X-Gitlab-Token: <secret>`
* Gitee       `X-Gitee-Token: <secret>`, or with `X-Gitee-Timestamp: <ms>` the token is
              base64(HMAC-SHA256(secret, "<timestamp>\\n<secret>")); a timestamp more than
              GITEE_MAX_SKEW_SECONDS from our clock is refused, so a captured request cannot be
              replayed later
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from typing import Any, Protocol

from cloud_config.errors import CloudConfigError

# Gitee signed mode: how far X-Gitee-Timestamp may be from our clock, either way (replay window).
GITEE_MAX_SKEW_SECONDS = 300


class Headers(Protocol):
    """Request headers looked up case-insensitively (http.client.HTTPMessage is one)."""

    def get(self, name: str, /) -> str | None: ...


class WebhookAuthError(CloudConfigError):
    """A webhook without a valid signature or token (HTTP 401)."""


# Push events nest a few levels (commits[].author...); far deeper is hostile, not a forge.
MAX_JSON_DEPTH = 64
_JSON_NESTING = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)


class WebhookPayloadError(CloudConfigError):
    """A signed webhook whose body is not a push event we can read (HTTP 400)."""


def _hmac_hex(secret: bytes, body: bytes) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def _gitee_sign(secret: bytes, timestamp: str) -> str:
    mac = hmac.new(secret, timestamp.encode() + b"\n" + secret, hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def verify(headers: Headers, body: bytes, secret: bytes) -> str:
    """Check the request's signature or token; return the forge's name, or raise WebhookAuthError."""
    if not secret:
        raise WebhookAuthError("no webhook secret is configured")
    github = headers.get("X-Hub-Signature-256")
    if github is not None:
        if _same(github, "sha256=" + _hmac_hex(secret, body)):
            return "github"
        raise WebhookAuthError("bad X-Hub-Signature-256")
    for name, forge in (("X-Gitea-Signature", "gitea"), ("X-Gogs-Signature", "gogs")):
        given = headers.get(name)
        if given is not None:
            if _same(given.lower(), _hmac_hex(secret, body)):
                return forge
            raise WebhookAuthError(f"bad {name}")
    token = headers.get("X-Gitlab-Token")
    if token is not None:
        if _same(token, secret.decode(errors="replace")):
            return "gitlab"
        raise WebhookAuthError("bad X-Gitlab-Token")
    return _verify_gitee(headers, secret)


def _verify_gitee(headers: Headers, secret: bytes) -> str:
    token = headers.get("X-Gitee-Token")
    if token is None:
        raise WebhookAuthError("no signature header (X-Hub-Signature-256, X-Gitea-Signature, ...)")
    timestamp = headers.get("X-Gitee-Timestamp")
    expected = _gitee_sign(secret, timestamp) if timestamp else secret.decode(errors="replace")
    if not _same(token, expected):
        raise WebhookAuthError("bad X-Gitee-Token")
    if timestamp:
        _check_gitee_timestamp(timestamp)
    return "gitee"


def _check_gitee_timestamp(timestamp: str) -> None:
    """Refuse a signed Gitee request whose timestamp (milliseconds) is outside the replay window."""
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 16:
        raise WebhookAuthError("X-Gitee-Timestamp: expected milliseconds since 1970")
    skew = int(timestamp) / 1000 - time.time()
    if abs(skew) > GITEE_MAX_SKEW_SECONDS:
        side = "behind" if skew < 0 else "ahead of"
        raise WebhookAuthError(
            f"X-Gitee-Timestamp is {abs(skew):.0f} s {side} this server's clock; more than "
            f"{GITEE_MAX_SKEW_SECONDS} s either way is refused (a replayed request, or a clock to fix)"
        )


def sign(forge: str, secret: bytes, body: bytes, timestamp: str = "") -> dict[str, str]:
    """The headers `forge` would send with `body` (used by the local forge's hooks and the benchmark)."""
    if forge == "github":
        return {"X-Hub-Signature-256": "sha256=" + _hmac_hex(secret, body)}
    if forge in ("gitea", "gogs"):
        return {f"X-{forge.capitalize()}-Signature": _hmac_hex(secret, body)}
    if forge == "gitlab":
        return {"X-Gitlab-Token": secret.decode()}
    if forge == "gitee":
        if timestamp:
            return {"X-Gitee-Token": _gitee_sign(secret, timestamp), "X-Gitee-Timestamp": timestamp}
        return {"X-Gitee-Token": secret.decode()}
    raise ValueError(f"unknown forge {forge!r}")


def _json_depth_over(body: bytes, limit: int) -> bool:
    """Whether arrays and objects nest deeper than `limit` (checked before json.loads recurses)."""
    depth = 0
    for match in _JSON_NESTING.finditer(body):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif token in (b"]", b"}"):
            depth -= 1
    return False


def json_object(body: bytes) -> dict[str, Any]:
    """The JSON object a signed webhook body holds; WebhookPayloadError (400) when it is not one."""
    if _json_depth_over(body, MAX_JSON_DEPTH):
        raise WebhookPayloadError(f"body is JSON nested more than {MAX_JSON_DEPTH} deep")
    try:
        event = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WebhookPayloadError(f"body is not JSON: {exc}") from None
    if not isinstance(event, dict):
        raise WebhookPayloadError("body is not a JSON object")
    return event


def pushed_branch(body: bytes) -> tuple[str | None, str | None]:
    """(branch, new sha) of a push event; branch None for a tag or another kind of event."""
    event = json_object(body)
    ref = event.get("ref")
    after = event.get("after") if isinstance(event.get("after"), str) else None
    if not isinstance(ref, str) or not ref.startswith("refs/heads/"):
        return None, after
    return ref.removeprefix("refs/heads/"), after
