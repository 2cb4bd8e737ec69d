"""The `serve` configuration file (TOML): chain repos to watch, and the node repos each one drives.

```toml
listen = "127.0.0.1:8080"          # optional; --listen overrides it
workdir = "/var/lib/cloud-config"  # optional; where clones are cached
max_body_bytes = 1048576           # optional
max_parallel = 4                   # optional; reconciles running at once, across all nodes
status_listen = "127.0.0.1:9090"   # optional: serve /, /status and /metrics here instead
status_token_env = "STATUS_TOKEN"  # optional: they then need `Authorization: Bearer <token>`

[[pipeline]]
name = "gitops-test-chain"         # webhooks go to POST /hooks/<name>
chain_repo = "https://git.example.com/consortium/gitops-test-chain.git"
branch = "master"
secret_env = "CHAIN_WEBHOOK_SECRET"   # or: secret_file = "/run/secrets/chain-webhook"
age_identity_file = "/run/secrets/age/keys.txt"  # optional; decrypts node repos encrypted at rest
trust_root = "<chain sha>"         # where the receipt check starts for a node repo without a trailer
require_members = true             # optional; refuse a chain without members.toml
signing_key = "<GnuPG key id>"     # optional; sign the node commits (OpenPGP)

status_key_file = "/run/secrets/pipeline-key"   # optional: SSH key signing status records
status_repo = "https://git.example.com/consortium/status.git"  # optional (default: chain_repo)
status_records = true              # optional; false turns records off
notify_secret_env = "NOTIFY_SECRET"  # optional: /notify/argocd|flux/<name> (or notify_secret_file)
argocd_webhook_url = "https://argocd.example.com/api/webhook"  # optional: ping after a push
flux_receiver_url = "https://flux.example.com/hook/<digest>"   # optional: ping after a push
engine_secret_env = "ENGINE_SECRET"  # the webhook.github.secret / Receiver token (or engine_secret_file)
alert_webhook_url = "https://hooks.slack.com/..."  # optional: {"text": ...} on refusals and first failures

[[pipeline.node]]
domain = "node0"
repo = "https://git.example.com/org1/gitops-test-chain-node0.git"
branch = "master"                  # optional
chain_name = "gitops-test-chain"   # optional (default: from the node repo's node_config.toml)
```
A secret written in the file itself is refused: the file is often checked in.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloud_config.errors import ConfigError
from cloud_config.model.schema import decode_toml, parse_toml
from cloud_config.pipeline.engines import EngineSettings
from cloud_config.pipeline.reconcile import Target, default_workdir
from cloud_config.pipeline.status_records import RecordSettings

DEFAULT_LISTEN = "127.0.0.1:8080"
DEFAULT_MAX_BODY = 1024 * 1024
DEFAULT_MAX_PARALLEL = 4
_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
_TOP_KEYS = {
    "listen",
    "workdir",
    "max_body_bytes",
    "max_parallel",
    "pipeline",
    "status_listen",
    "status_token_env",
}
_PIPELINE_KEYS = {
    "name", "chain_repo", "branch", "secret_env", "secret_file", "node", "age_identity_file",
    "trust_root", "require_members", "signing_key",
    "status_key_file", "status_repo", "status_records",
    "notify_secret_env", "notify_secret_file",
    "argocd_webhook_url", "flux_receiver_url", "engine_secret_env", "engine_secret_file",
    "alert_webhook_url",
}  # fmt: skip
_NODE_KEYS = {"domain", "repo", "branch", "chain_name"}


@dataclass(frozen=True)
class Pipeline:
    """One watched chain repo and the node repos to reconcile when its branch moves."""

    name: str
    chain_repo: str
    branch: str
    targets: tuple[Target, ...]
    secret: bytes = field(repr=False)
    records: RecordSettings | None = None
    notify_secret: bytes = field(default=b"", repr=False)
    engine: EngineSettings | None = field(default=None, repr=False)
    alert_url: str = ""


@dataclass(frozen=True)
class ServiceConfig:
    """The whole file."""

    listen: str
    workdir: Path
    max_body_bytes: int
    pipelines: dict[str, Pipeline]
    max_parallel: int = DEFAULT_MAX_PARALLEL
    status_listen: str | None = None
    status_token: bytes = field(default=b"", repr=False)


def _check_keys(table: Mapping[str, Any], allowed: set[str], source: str, where: str) -> None:
    for key in table:
        if key in allowed:
            continue
        if any(word in key.lower() for word in ("secret", "token", "password")):
            raise ConfigError(
                source,
                f"{where}{key}",
                "secrets must not be written in this file; use secret_env or secret_file",
            )
        raise ConfigError(
            source, f"{where}{key}", f"unknown key (expected one of {', '.join(sorted(allowed))})"
        )


def _string(table: Mapping[str, Any], key: str, source: str, where: str, default: str | None = None) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or not value:
        raise ConfigError(source, f"{where}{key}", "must be a non-empty string")
    return value


def _optional(table: Mapping[str, Any], key: str, source: str, where: str) -> str | None:
    return None if table.get(key) is None else _string(table, key, source, where)


def _secret(
    table: Mapping[str, Any], base: Path, source: str, where: str, prefix: str = "", optional: bool = False
) -> bytes:
    env_key, file_key = f"{prefix}secret_env", f"{prefix}secret_file"
    env, file = table.get(env_key), table.get(file_key)
    if optional and env is None and file is None:
        return b""
    if (env is None) == (file is None):
        raise ConfigError(source, f"{where}{env_key}", f"give exactly one of {env_key} or {file_key}")
    if env is not None:
        name = _string(table, env_key, source, where)
        value = os.environ.get(name, "")
        if not value:
            raise ConfigError(source, f"{where}{env_key}", f"environment variable {name} is not set or empty")
        return value.encode()
    path = base / _string(table, file_key, source, where)
    try:
        value_bytes = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(source, f"{where}{file_key}", f"cannot read {path}: {exc.strerror}") from None
    if not value_bytes:
        raise ConfigError(source, f"{where}{file_key}", f"{path} is empty")
    return value_bytes


def _records(
    table: Mapping[str, Any], base: Path, chain_repo: str, source: str, where: str
) -> RecordSettings | None:
    enabled = table.get("status_records", True)
    if not isinstance(enabled, bool):
        raise ConfigError(source, f"{where}status_records", "must be true or false")
    if not enabled or "status_key_file" not in table:
        return None
    key = base / _string(table, "status_key_file", source, where)
    if not key.is_file():
        raise ConfigError(source, f"{where}status_key_file", f"{key} is not a file")
    repo = _string(table, "status_repo", source, where, chain_repo)
    return RecordSettings(repo, key)


def _engine(table: Mapping[str, Any], base: Path, source: str, where: str) -> EngineSettings | None:
    argocd, flux = table.get("argocd_webhook_url"), table.get("flux_receiver_url")
    if argocd is None and flux is None:
        return None
    if argocd is not None and flux is not None:
        raise ConfigError(
            source, f"{where}argocd_webhook_url", "give argocd_webhook_url or flux_receiver_url, not both"
        )
    key = "argocd_webhook_url" if argocd is not None else "flux_receiver_url"
    url = _string(table, key, source, where)
    if not re.match(r"^https?://", url):
        raise ConfigError(source, f"{where}{key}", "must be an http:// or https:// URL")
    secret = _secret(table, base, source, where, "engine_")
    return EngineSettings("argocd" if argocd is not None else "flux", url, secret)


def _pipeline(table: Mapping[str, Any], index: int, base: Path, source: str) -> Pipeline:
    where = f"pipeline[{index}]."
    _check_keys(table, _PIPELINE_KEYS, source, where)
    name = _string(table, "name", source, where)
    if not _NAME.match(name):
        raise ConfigError(
            source, f"{where}name", "use letters, digits, '.', '_' or '-' (it is part of the URL)"
        )
    chain_repo = _string(table, "chain_repo", source, where)
    branch = _string(table, "branch", source, where, "master")
    identity = None
    if "age_identity_file" in table:
        identity = base / _string(table, "age_identity_file", source, where)
        if not identity.is_file():
            raise ConfigError(source, f"{where}age_identity_file", f"{identity} does not exist")
    trust_root = _optional(table, "trust_root", source, where)
    signing_key = _optional(table, "signing_key", source, where)
    require_members = table.get("require_members", False)
    if not isinstance(require_members, bool):
        raise ConfigError(source, f"{where}require_members", "must be true or false")
    nodes = table.get("node", [])
    if not isinstance(nodes, list) or not nodes:
        raise ConfigError(source, f"{where}node", "list at least one [[pipeline.node]]")
    targets = []
    for j, node in enumerate(nodes):
        nwhere = f"{where}node[{j}]."
        _check_keys(node, _NODE_KEYS, source, nwhere)
        chain_name = node.get("chain_name")
        targets.append(
            Target(
                chain_repo=chain_repo,
                chain_branch=branch,
                node_repo=_string(node, "repo", source, nwhere),
                node_branch=_string(node, "branch", source, nwhere, "master"),
                domain=_string(node, "domain", source, nwhere),
                chain_name=_string(node, "chain_name", source, nwhere) if chain_name is not None else None,
                age_identity_file=identity,
                trust_root=trust_root,
                require_members=require_members,
                signing_key=signing_key,
            )
        )
    domains = [t.domain for t in targets]
    if len(set(domains)) != len(domains):
        raise ConfigError(source, f"{where}node", "a domain is listed twice")
    return Pipeline(
        name,
        chain_repo,
        branch,
        tuple(targets),
        _secret(table, base, source, where),
        records=_records(table, base, chain_repo, source, where),
        notify_secret=_secret(table, base, source, where, "notify_", optional=True),
        engine=_engine(table, base, source, where),
        alert_url=_optional(table, "alert_webhook_url", source, where) or "",
    )


def load_config(path: Path) -> ServiceConfig:
    """Read and check the service file; load the webhook secrets it names."""
    source = str(path)
    try:
        data = parse_toml(decode_toml(path.read_bytes(), source), source)
    except OSError as exc:
        raise ConfigError(source, None, f"cannot read: {exc.strerror}") from None
    _check_keys(data, _TOP_KEYS, source, "")
    base = path.resolve().parent
    tables = data.get("pipeline", [])
    if not isinstance(tables, list) or not tables:
        raise ConfigError(source, "pipeline", "list at least one [[pipeline]]")
    pipelines: dict[str, Pipeline] = {}
    for i, table in enumerate(tables):
        pipe = _pipeline(table, i, base, source)
        if pipe.name in pipelines:
            raise ConfigError(source, f"pipeline[{i}].name", f"{pipe.name!r} is used twice")
        pipelines[pipe.name] = pipe
    max_body = _positive(data, "max_body_bytes", DEFAULT_MAX_BODY, source)
    max_parallel = _positive(data, "max_parallel", DEFAULT_MAX_PARALLEL, source)
    workdir = base / data["workdir"] if "workdir" in data else default_workdir()
    listen = _string(data, "listen", source, "", DEFAULT_LISTEN)
    status_listen = _string(data, "status_listen", source, "") if "status_listen" in data else None
    token = b""
    if "status_token_env" in data:
        name = _string(data, "status_token_env", source, "")
        token = os.environ.get(name, "").encode()
        if not token:
            raise ConfigError(source, "status_token_env", f"environment variable {name} is not set or empty")
    return ServiceConfig(listen, workdir, max_body, pipelines, max_parallel, status_listen, token)


def _positive(data: Mapping[str, Any], key: str, default: int, source: str) -> int:
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(source, key, "must be a positive whole number")
    return value
