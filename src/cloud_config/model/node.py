"""`node_config.toml`: one node's own settings (reference §1.2) plus its saved deployment settings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from cloud_config.model import toml_edit
from cloud_config.model.chain import RAFT
from cloud_config.model.names import dns_label_problem
from cloud_config.model.schema import Reader, parse_toml

GRPC_DEFAULTS = {
    "network_port": 50000,
    "consensus_port": 50001,
    "executor_port": 50002,
    "storage_port": 50003,
    "controller_port": 50004,
}
METRICS_DEFAULTS = {
    "network_metrics_port": 60000,
    "consensus_metrics_port": 60001,
    "executor_metrics_port": 60002,
    "storage_metrics_port": 60003,
    "controller_metrics_port": 60004,
}
CLOUD_STORAGE_KEYS = (
    "access_key_id",
    "secret_access_key",
    "endpoint",
    "bucket",
    "service_type",
    "root",
    "region",
)
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
ACCESS_MODES = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")
_IMAGE_PART = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._:/-]*[A-Za-z0-9])?$")
ENGINES = ("argocd", "flux")
# An age X25519 recipient: "age1" and 58 bech32 characters (what `age-keygen` and pyrage print).
_AGE_RECIPIENT = re.compile(r"^age1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{58}$")
EXPOSE_TYPES = ("", "nodeport", "loadbalancer")
SERVICE_SLOTS = ("network", "consensus", "executor", "storage", "controller")
RESOURCE_KEYS = ("requests_cpu", "requests_memory", "limits_cpu", "limits_memory")
NODE_PORT_RANGE = (30000, 32767)  # the kube-apiserver's default --service-node-port-range
_TZ = re.compile(r"^[A-Za-z0-9_+:/.-]{1,64}$")
# The services' log levels (reference microservices-6.7, "Log levels differ between services"):
# the tracing services (network, overlord, executor, storage, controller) parse `max_level` with
# tracing-core's `Level::from_str`: these names in any case, or a number 1-5 (Rust's usize parse, so
# a `+` and leading zeros pass too); consensus_raft parses `log_level` with sloggers 2.2's
# `Severity::from_str`: exactly these lowercase names.
TRACING_LEVELS = ("error", "warn", "info", "debug", "trace")
RAFT_LEVELS = ("trace", "debug", "info", "warning", "error", "critical")
_TRACING_NUMBER = re.compile(r"^\+?0*[1-5]$")


def tracing_accepts(level: str) -> bool:
    """Whether tracing-core's `Level::from_str` parses `level`."""
    return level.lower() in TRACING_LEVELS or bool(_TRACING_NUMBER.match(level))


def log_levels(consensus: str) -> tuple[str, ...]:
    """The level names every service of a chain with `consensus` parses (for help and errors)."""
    if consensus == RAFT:
        return tuple(name for name in RAFT_LEVELS if name in TRACING_LEVELS)
    return TRACING_LEVELS


def log_level_problem(level: str, consensus: str) -> str | None:
    """Why the chain's services would refuse `level` (None when every one of them parses it).

    cloud-config writes one level to every service: the tracing services always get it, and on a
    raft chain consensus_raft gets it too, so there a level must satisfy both parsers.
    """
    ok = tracing_accepts(level) and (consensus != RAFT or level in RAFT_LEVELS)
    if ok:
        return None
    names = ", ".join(log_levels(consensus))
    extra = "" if consensus == RAFT else " (any case, or 1-5)"
    hint = (
        " (consensus_raft wants 'warning', the other services 'warn')" if level in ("warn", "warning") else ""
    )
    return f"must be one of {names}{extra} on a {consensus} chain, got {level!r}{hint}"


@dataclass
class Deployment:
    """How `update-yaml` deploys the node; saved as `[deployment]`, which cloud-config ignores."""

    storage_class: str = ""
    access_mode: str = "ReadWriteMany"
    storage_capacity: str = "10Gi"
    requests_cpu: str = "250m"
    requests_memory: str = "512Mi"
    limits_cpu: str = "1000m"
    limits_memory: str = "1Gi"
    docker_registry: str = "docker.io"
    docker_repo: str = "citacloud"
    pull_policy: str = "IfNotPresent"
    enable_debug: bool = False
    disable_health_check: bool = False
    legacy_configmaps: bool = False
    cluster_domain: str = "cluster.local"
    engine: str = "argocd"
    timezone: str = "UTC"
    read_only_root_fs: bool = True
    pdb: bool = True
    pdb_max_unavailable: int = 1
    expose: str = ""
    node_port: int = 0
    # per-service overrides of the four resource settings: {slot: {requests_cpu: "500m", ...}}
    resources: dict[str, dict[str, str]] = field(default_factory=dict)
    # the NetworkPolicy (docs/membership.md): source CIDRs of peers outside the cluster, and the
    # namespace that may scrape the metrics ports besides the node's own
    peer_cidrs: str = ""  # DOMAIN=CIDR,... as update-yaml --peer-cidr sets them
    monitoring_namespace: str = "monitoring"

    def service_resources(self, slot: str) -> dict[str, str]:
        """The four resource settings of one service: its overrides over the shared values."""
        shared = {key: getattr(self, key) for key in RESOURCE_KEYS}
        return {**shared, **self.resources.get(slot, {})}

    def peer_cidr_map(self) -> dict[str, str]:
        """`peer_cidrs` as {domain: cidr} (checked by `problems`)."""
        from cloud_config.model.network_address import parse_peer_cidrs

        return parse_peer_cidrs(self.peer_cidrs)

    def problems(self) -> list[tuple[str, str]]:
        """Every (field, reason) Kubernetes would reject (field names as in `[deployment]`)."""
        out = []
        if not _DNS_SUBDOMAIN.match(self.storage_class):
            out.append(
                ("storage_class", f"must be a storage class name (DNS subdomain), got {self.storage_class!r}")
            )
        if self.access_mode not in ACCESS_MODES:
            out.append(("access_mode", f"must be one of {', '.join(ACCESS_MODES)}, got {self.access_mode!r}"))
        if self.pull_policy not in PULL_POLICIES:
            out.append(
                ("pull_policy", f"must be one of {', '.join(PULL_POLICIES)}, got {self.pull_policy!r}")
            )
        for name in ("storage_capacity", "requests_cpu", "requests_memory", "limits_cpu", "limits_memory"):
            value = getattr(self, name)
            if not _QUANTITY.match(value):
                out.append((name, f"must be a Kubernetes quantity such as 10Gi, 500m or 2, got {value!r}"))
        if not _DNS_SUBDOMAIN.match(self.cluster_domain):
            out.append(
                ("cluster_domain", f"must be a DNS domain such as cluster.local, got {self.cluster_domain!r}")
            )
        from cloud_config.model.network_address import parse_peer_cidrs

        try:
            parse_peer_cidrs(self.peer_cidrs)
        except ValueError as exc:
            out.append(("peer_cidrs", str(exc)))
        if self.monitoring_namespace and dns_label_problem(self.monitoring_namespace):
            out.append(
                ("monitoring_namespace", f"must be a namespace name, got {self.monitoring_namespace!r}")
            )
        if self.engine not in ENGINES:
            out.append(("engine", f"must be one of {', '.join(ENGINES)}, got {self.engine!r}"))
        for name in ("docker_registry", "docker_repo"):
            value = getattr(self, name)
            if not _IMAGE_PART.match(value):
                out.append((name, f"must be an image registry / repository path, got {value!r}"))
        return out + self._pod_problems()

    def _pod_problems(self) -> list[tuple[str, str]]:
        """The settings this project added: time zone, exposure, per-service resources."""
        out = []
        if not _TZ.match(self.timezone):
            zone = self.timezone
            out.append(("timezone", f"must be a time zone name such as UTC or Asia/Shanghai, got {zone!r}"))
        if self.expose not in EXPOSE_TYPES:
            out.append(("expose", f"must be nodeport or loadbalancer, got {self.expose!r}"))
        low, high = NODE_PORT_RANGE
        if self.node_port and not low <= self.node_port <= high:
            out.append(("node_port", f"must be {low}-{high} (the NodePort range), got {self.node_port}"))
        if self.node_port and self.expose != "nodeport":
            out.append(("node_port", "only applies with expose = nodeport"))
        for slot, values in self.resources.items():
            if slot not in SERVICE_SLOTS:
                out.append((f"resources.{slot}", f"must be one of {', '.join(SERVICE_SLOTS)}"))
            for key, value in values.items():
                if key not in RESOURCE_KEYS:
                    out.append((f"resources.{slot}.{key}", f"must be one of {', '.join(RESOURCE_KEYS)}"))
                elif not _QUANTITY.match(value):
                    out.append((f"resources.{slot}.{key}", f"must be a Kubernetes quantity, got {value!r}"))
        return out


@dataclass
class NodeConfig:
    """The whole node_config.toml."""

    account: str
    grpc_ports: dict[str, int] = field(default_factory=lambda: dict(GRPC_DEFAULTS))
    metrics_ports: dict[str, int] = field(default_factory=lambda: dict(METRICS_DEFAULTS))
    log_level: str = "info"
    log_file_path: str | None = None
    jaeger_agent_endpoint: str | None = None
    enable_metrics: bool = True
    is_danger: bool = False
    enable_tx_persistence: bool = False
    cloud_storage: dict[str, str] = field(default_factory=lambda: dict.fromkeys(CLOUD_STORAGE_KEYS, ""))
    exporter_base_path: str = ""
    exporter_chain_name: str = "test-chain"
    deployment: Deployment | None = None
    # `[secrets] recipients`: age recipients every secret file of the node folder is encrypted to.
    recipients: list[str] = field(default_factory=list)

    @classmethod
    def loads(cls, text: str, source: str) -> NodeConfig:
        """Parse a node_config.toml; files of older versions load with today's defaults."""
        data = parse_toml(text, source)
        return cls.from_dict(data, source)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str) -> NodeConfig:
        """Build from parsed TOML, checking every field's type."""
        r = Reader(source)
        grpc = r.table(data, "grpc_ports", "grpc_ports")
        metrics = r.table(data, "metrics_ports", "metrics_ports")
        storage = r.table(data, "cloud_storage", "cloud_storage")
        exporter = r.table(data, "exporter", "exporter")
        node = cls(
            account=r.string(data, "account", "account"),
            grpc_ports={
                k: r.integer(grpc, k, f"grpc_ports.{k}", d, high=65535) for k, d in GRPC_DEFAULTS.items()
            },
            metrics_ports={
                k: r.integer(metrics, k, f"metrics_ports.{k}", d, high=65535)
                for k, d in METRICS_DEFAULTS.items()
            },
            log_level=r.string(data, "log_level", "log_level", "info"),
            log_file_path=_optional(r, data, "log_file_path"),
            jaeger_agent_endpoint=_optional(r, data, "jaeger_agent_endpoint"),
            enable_metrics=r.boolean(data, "enable_metrics", "enable_metrics", True),
            is_danger=r.boolean(data, "is_danger", "is_danger", False),
            enable_tx_persistence=r.boolean(data, "enable_tx_persistence", "enable_tx_persistence", False),
            cloud_storage={k: r.string(storage, k, f"cloud_storage.{k}", "") for k in CLOUD_STORAGE_KEYS},
            exporter_base_path=r.string(exporter, "base_path", "exporter.base_path", ""),
            exporter_chain_name=r.string(exporter, "chain_name", "exporter.chain_name", "test-chain"),
        )
        if "deployment" in data:
            table = r.table(data, "deployment", "deployment")
            values: dict[str, Any] = {}
            for f in fields(Deployment):
                path = f"deployment.{f.name}"
                default = getattr(Deployment(), f.name)
                if isinstance(default, bool):
                    values[f.name] = r.boolean(table, f.name, path, default)
                elif isinstance(default, int):
                    values[f.name] = r.integer(table, f.name, path, default, high=65535)
                elif isinstance(default, dict):
                    values[f.name] = _resources(r, table, path)
                else:
                    values[f.name] = r.string(table, f.name, path, default)
            node.deployment = Deployment(**values)
        if "secrets" in data:
            table = r.table(data, "secrets", "secrets")
            node.recipients = r.strings(table, "recipients", "secrets.recipients")
        return node

    def to_dict(self) -> dict[str, Any]:
        """The data of node_config.toml, keyed as cloud-config writes it (plus `deployment`)."""
        data: dict[str, Any] = {
            "account": self.account,
            "grpc_ports": dict(self.grpc_ports),
            "metrics_ports": dict(self.metrics_ports),
            "log_level": self.log_level,
            "log_file_path": self.log_file_path,
            "jaeger_agent_endpoint": self.jaeger_agent_endpoint,
            "enable_metrics": self.enable_metrics,
            "is_danger": self.is_danger,
            "enable_tx_persistence": self.enable_tx_persistence,
            "cloud_storage": dict(self.cloud_storage),
            "exporter": {"base_path": self.exporter_base_path, "chain_name": self.exporter_chain_name},
        }
        if self.deployment is not None:
            saved = asdict(self.deployment)
            if not saved["resources"]:
                del saved["resources"]  # no empty [deployment.resources] table
            data["deployment"] = saved
        if self.recipients:
            data["secrets"] = {"recipients": list(self.recipients)}
        return data

    def dumps(self, old_text: str | None = None) -> str:
        """The file text: canonical when fresh, or `old_text` edited in place (comments kept)."""
        return toml_edit.update(old_text, self.to_dict())

    def problems(self, consensus: str | None) -> list[tuple[str, str]]:
        """Every (field, reason) the services of a chain with `consensus` would reject (the log
        level is checked only when the consensus is known)."""
        out = []
        level = log_level_problem(self.log_level, consensus) if consensus else None
        if level:
            out.append(("log_level", level))
        ports = {**self.grpc_ports, **self.metrics_ports}
        seen: dict[int, str] = {}
        for name, port in ports.items():
            if port == 0:
                out.append((name, "must be 1-65535, got 0"))
            elif port in seen:
                out.append((name, f"port {port} is also {seen[port]}"))
            seen.setdefault(port, name)
        kinds = ("s3", "oss", "obs", "cos", "azblob")
        if any(self.cloud_storage.values()) and self.cloud_storage["service_type"] not in kinds:
            out.append(
                ("cloud_storage.service_type", f"must be one of {', '.join(kinds)} when cloud storage is set")
            )
        if self.deployment is not None:
            out.extend((f"deployment.{name}", why) for name, why in self.deployment.problems())
            if self.recipients and self.deployment.legacy_configmaps:
                out.append(
                    (
                        "deployment.legacy_configmaps",
                        "cannot be used with [secrets]: keys are encrypted in Secrets",
                    )
                )
        for recipient in self.recipients:
            reason = recipient_problem(recipient)
            if reason:
                out.append(("secrets.recipients", reason))
        if len(set(self.recipients)) != len(self.recipients):
            out.append(("secrets.recipients", "a recipient is listed twice"))
        return out


def recipient_problem(value: str) -> str | None:
    """Why `value` is not an age recipient (public key), or None. Never quotes an identity."""
    if value.upper().startswith("AGE-SECRET-KEY-"):
        return "is an age identity (a private key); give its recipient, age1... (`age-keygen -y`)"
    if not _AGE_RECIPIENT.match(value):
        return f"must be an age recipient (age1 and 58 lowercase bech32 characters), got {value!r}"
    return None


def _resources(r: Reader, table: Mapping[str, Any], path: str) -> dict[str, dict[str, str]]:
    """`[deployment.resources.SLOT]` tables of strings."""
    found = r.table(table, "resources", path)
    return {
        slot: {key: r.string(values, key, f"{path}.{slot}.{key}") for key in values}
        for slot in found
        if (values := r.table(found, slot, f"{path}.{slot}")) is not None
    }


def _optional(r: Reader, data: Mapping[str, Any], key: str) -> str | None:
    if key not in data:
        return None
    return r.string(data, key, key)
