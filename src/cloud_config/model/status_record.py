"""A node's status record (`status.toml` on branch `status/<domain>`): what its pipeline last did.

Format 1 (docs/status.md)::

    format = 1
    domain = "node0"
    owner = "alice"
    result = "applied"              # or "up-to-date", "refused"
    chain_commit = "<sha>"          # the chain commit applied (refused: the one refused)
    node_commit = "<sha>"           # the node repo's head after the run
    digest = "sha256:<hex>"         # genesis_block + system_config as rendered in config.toml
    cert_not_after = "2036-...Z"    # the node certificate's not-after, when it has one
    tool_version = "6.7.4"
    started = "2026-12-01T22:00:00Z"
    finished = "2026-12-01T22:00:01Z"

    [refusal]                       # only when result = "refused"
    rule = "render"
    commit = "<sha>"
    message = "..."

    [sync]                          # the cluster's last report, when one arrived
    engine = "argocd"               # or "flux"
    revision = "<node repo sha>"
    health = "Healthy"
    time = "..."
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from typing import Any

from cloud_config.errors import ConfigError

FORMAT = 1
RECORD_FILE = "status.toml"
RESULTS = ("applied", "up-to-date", "refused")
_REQUIRED = ("domain", "owner", "result", "chain_commit", "node_commit", "digest", "tool_version",
             "started", "finished")  # fmt: skip
_SUBTABLES = {"refusal": ("rule", "commit", "message"), "sync": ("engine", "revision", "health", "time")}


def branch_of(domain: str) -> str:
    """The status branch of a node."""
    return f"status/{domain}"


@dataclass
class StatusRecord:
    """One node's record."""

    domain: str
    owner: str
    result: str
    chain_commit: str
    node_commit: str
    digest: str
    tool_version: str
    started: str
    finished: str
    cert_not_after: str = ""
    refusal: dict[str, str] = field(default_factory=dict)
    sync: dict[str, str] = field(default_factory=dict)

    def dumps(self) -> str:
        """The record as TOML (keys in a fixed order)."""
        lines = [f"format = {FORMAT}"]
        for key in (*_REQUIRED, "cert_not_after"):
            value = getattr(self, key)
            if value:
                lines.append(f"{key} = {json.dumps(value)}")
        for table, keys in _SUBTABLES.items():
            values = getattr(self, table)
            if values:
                lines += ["", f"[{table}]"]
                lines += [f"{k} = {json.dumps(str(values[k]))}" for k in keys if values.get(k)]
        return "\n".join(lines) + "\n"

    @classmethod
    def loads(cls, text: str, source: str) -> StatusRecord:
        """Parse a record; ConfigError naming `source` and the field when it is not one."""
        try:
            data: dict[str, Any] = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(source, None, f"not valid TOML: {exc}") from None
        if data.get("format") != FORMAT:
            raise ConfigError(source, "format", f"expected {FORMAT}, got {data.get('format')!r}")
        values: dict[str, Any] = {}
        for key in (*_REQUIRED, "cert_not_after"):
            value = data.get(key, "")
            if not isinstance(value, str) or (key in _REQUIRED and not value):
                raise ConfigError(source, key, "must be a non-empty string")
            values[key] = value
        if values["result"] not in RESULTS:
            raise ConfigError(source, "result", f"must be one of {', '.join(RESULTS)}")
        for table, keys in _SUBTABLES.items():
            sub = data.get(table, {})
            if not isinstance(sub, dict) or not all(isinstance(sub.get(k, ""), str) for k in keys):
                raise ConfigError(source, table, "must be a table of strings")
            values[table] = {k: sub[k] for k in keys if sub.get(k)}
        return cls(**values)
