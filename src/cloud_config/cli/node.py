"""Node verbs: init-node, update-node, update-yaml (reference §2.10, §2.11, §5, §6)."""

from __future__ import annotations

import argparse
from typing import Any

from cloud_config.cli.common import Subparsers, add_dry_run, add_verb, layout, say, u16, warn
from cloud_config.cli.secrets import add_encrypt_to

PORT_FLAGS = (
    ("network", 50000, 60000),
    ("consensus", 50001, 60001),
    ("executor", 50002, 60002),
    ("storage", 50003, 60003),
    ("controller", 50004, 60004),
)
STORAGE_FLAGS = (
    ("--access-key-id", "access_key_id"),
    ("--secret-access-key", "secret_access_key"),
    ("--s3-endpoint", "endpoint"),
    ("--s3-bucket", "bucket"),
    ("--service-type", "service_type"),
    ("--s3-root", "root"),
    ("--s3-region", "region"),
)
# update-yaml flag -> [deployment] field, with the help; the defaults (used when nothing is saved)
# are model.node.Deployment's.
DEPLOYMENT_FLAGS = (
    ("--pull-policy", "pull_policy", "Always, IfNotPresent or Never"),
    ("--docker-registry", "docker_registry", "image registry"),
    ("--docker-repo", "docker_repo", "image repository in the registry"),
    ("--storage-class", "storage_class", "storage class of the data volume"),
    ("--access-mode", "access_mode", "access mode of the data volume"),
    ("--storage-capacity", "storage_capacity", "size of the data volume"),
    ("--requests-cpu", "requests_cpu", "CPU request of each service"),
    ("--requests-memory", "requests_memory", "memory request of each service"),
    ("--limits-cpu", "limits_cpu", "CPU limit of each service"),
    ("--limits-memory", "limits_memory", "memory limit of each service"),
    ("--cluster-domain", "cluster_domain", "the cluster's DNS domain"),
    ("--timezone", "timezone", "the services' TZ"),
    ("--engine", "engine", "argocd or flux: which delivery engine applies the node repo"),
    (
        "--monitoring-namespace",
        "monitoring_namespace",
        "the namespace that may reach the gRPC and metrics ports",
    ),
    (
        "--expose",
        "expose",
        "nodeport, loadbalancer or none: NODE-nodeport, a Service of the p2p port for other clusters",
    ),
)
DEPLOYMENT_NUMBERS = (
    ("--node-port", "node_port", "pin the NodePort (must be the node's port in the node list)"),
    (
        "--pdb-max-unavailable",
        "pdb_max_unavailable",
        "the PodDisruptionBudget's maxUnavailable; 0 blocks every voluntary eviction (drains too)",
    ),
)
DEPLOYMENT_SWITCHES = (
    ("--enable-debug", "enable_debug", "add the debug container"),
    ("--disable-health-check", "disable_health_check", "omit the probes"),
    (
        "--legacy-configmaps",
        "legacy_configmaps",
        "keep key and config.toml in ConfigMaps (cloud-config's form)",
    ),
    ("--pdb", "pdb", "render the node's PodDisruptionBudget (--no-pdb to skip)"),
    ("--read-only-root-fs", "read_only_root_fs", "run the services with a read-only root file system"),
)


def register(sub: Subparsers) -> None:
    """Add the node verbs."""
    p = add_verb(sub, "init-node", "init node", run_init_node)
    p.add_argument("--domain", required=True, help="the node's domain in the node list")
    p.add_argument("--account", required=True, help="the node's account (node address, 0x optional)")
    add_node_flags(p, ports=True)
    add_encrypt_to(p, required=False)

    p = add_verb(sub, "update-node", "update node", run_update_node)
    p.add_argument("--domain", required=True, help="the node's domain")
    p.add_argument("--config-name", default="config.toml", help="accepted for compatibility")
    add_dry_run(p)

    p = add_verb(sub, "update-yaml", "update k8s yaml", run_update_yaml)
    p.add_argument("--domain", required=True, help="the node's domain")
    p.add_argument("--config-name", default="config.toml", help="accepted for compatibility")
    defaults = _deployment_defaults(p)
    numbers = {name for _, name, _ in DEPLOYMENT_NUMBERS}
    for flag, name, text in (*DEPLOYMENT_FLAGS, *DEPLOYMENT_NUMBERS):
        default = defaults.get(name)
        shown = "required until saved" if name == "storage_class" else f"saved value, else {default}"
        p.add_argument(flag, type=u16 if name in numbers else str, default=None, help=f"{text} ({shown})")
    for flag, _, text in DEPLOYMENT_SWITCHES:
        p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=f"{text} (saved)")
    p.add_argument(
        "--peer-cidr",
        action="append",
        default=[],
        metavar="DOMAIN=CIDR",
        help="the source addresses of a peer outside the cluster, for the NetworkPolicy (repeatable, "
        "saved; DOMAIN= drops one)",
    )
    p.add_argument(
        "--resources",
        action="append",
        default=[],
        metavar="SERVICE:KEY=VALUE[,KEY=VALUE]",
        help="one service's requests_cpu/requests_memory/limits_cpu/limits_memory (saved; repeatable)",
    )
    p.add_argument(
        "--enable-kustomize", action="store_true", help="accepted; kustomization.yaml is always written"
    )
    add_dry_run(p)


def _deployment_defaults(p: object) -> dict[str, object]:
    """Deployment's defaults for the help, read only when update-yaml's parser is really built
    (listing the verbs must not import the model)."""
    if not isinstance(p, argparse.ArgumentParser):
        return {}
    from dataclasses import asdict

    from cloud_config.model.node import Deployment

    values = asdict(Deployment())
    values["expose"] = values["expose"] or "none"
    values["node_port"] = values["node_port"] or "the node's listed port"
    return values


def add_node_flags(p: argparse.ArgumentParser, ports: bool) -> None:
    """init-node's settings flags, shared with create and append (no port flags there)."""
    p.add_argument(
        "--log-level",
        default="info",
        help="trace, debug, info, warn or error; on a raft chain trace, debug, info or error (default: info)",
    )
    p.add_argument("--log-file-path", default=None, help="log to files under this path")
    p.add_argument("--jaeger-agent-endpoint", default=None, help="jaeger agent host:port")
    p.add_argument("--disable-metrics", action="store_true", help="turn the metrics exporters off")
    p.add_argument("--is-danger", action="store_true", help="controller is_danger")
    p.add_argument("--enable-tx-persistence", action="store_true", help="controller tx_persistence")
    for flag, _ in STORAGE_FLAGS:
        p.add_argument(flag, default="", help="cloud storage setting")
    p.add_argument("--exporter-path", default="", help="exporter base path")
    if ports:
        for slot, grpc, metrics in PORT_FLAGS:
            p.add_argument(f"--{slot}-port", type=u16, default=grpc, help=f"(default: {grpc})")
            p.add_argument(f"--{slot}-metrics-port", type=u16, default=metrics, help=f"(default: {metrics})")


def node_config(args: argparse.Namespace, account: str, offset: int = 0) -> Any:
    """A NodeConfig from the settings flags; ports from the port flags or the defaults + `offset`."""
    from cloud_config.model.node import NodeConfig

    grpc = {f"{s}_port": getattr(args, f"{s}_port", g + offset) for s, g, _ in PORT_FLAGS}
    metrics = {f"{s}_metrics_port": getattr(args, f"{s}_metrics_port", m + offset) for s, _, m in PORT_FLAGS}
    return NodeConfig(
        account=account,
        grpc_ports=grpc,
        metrics_ports=metrics,
        log_level=args.log_level,
        log_file_path=args.log_file_path,
        jaeger_agent_endpoint=args.jaeger_agent_endpoint,
        enable_metrics=not args.disable_metrics,
        is_danger=args.is_danger,
        enable_tx_persistence=args.enable_tx_persistence,
        cloud_storage={key: getattr(args, flag[2:].replace("-", "_")) for flag, key in STORAGE_FLAGS},
        exporter_base_path=args.exporter_path,
        exporter_chain_name=args.chain_name,
    )


def run_init_node(args: argparse.Namespace) -> int:
    """init-node."""
    from cloud_config.app.node import init_node
    from cloud_config.app.secrets import checked_recipients
    from cloud_config.model.edits import normalize_address

    account = normalize_address(args.account, "--account", 40)
    node = node_config(args, account)
    node.recipients = checked_recipients("--encrypt-to", args.encrypt_to)
    folder = init_node(layout(args), args.domain, node)
    say(args, f"init-node: {folder} holds node {args.domain}'s settings, account {account} and TLS files")
    return 0


def _config_name(args: argparse.Namespace) -> None:
    if args.config_name != "config.toml":
        warn(f"--config-name {args.config_name}: the services' file is always config.toml; ignored")


def _render(args: argparse.Namespace, action: Any) -> int:
    """Run a node render (or, with --dry-run, show its diff) and say what it changed."""
    if args.dry_run:
        from cloud_config.cli.dry_run import run_dry

        _, files = run_dry(layout(args).config_dir, action)
        say(args, f"{args.command} (dry run, nothing written): {files} file(s) would change")
        return 0
    changes = action()
    done = f"{len(changes.written)} file(s) written, {len(changes.removed)} removed"
    say(args, f"{args.command}: node {args.domain}: {done if changes.changed else 'up to date'}")
    return 0


def run_update_node(args: argparse.Namespace) -> int:
    """update-node: render config.toml and the key-file copies from the chain folder's current config."""
    from cloud_config.app.node import refresh_node

    _config_name(args)
    where = layout(args)
    return _render(
        args, lambda: refresh_node(where.chain_dir, where.node_dir(args.domain), args.chain_name, args.domain)
    )


def run_update_yaml(args: argparse.Namespace) -> int:
    """update-yaml: save the deployment settings given, then render everything (manifests included)."""
    from cloud_config.app.node import update_deployment

    _config_name(args)
    where = layout(args)
    every = (*DEPLOYMENT_FLAGS, *DEPLOYMENT_NUMBERS, *DEPLOYMENT_SWITCHES)
    given = {field: getattr(args, flag[2:].replace("-", "_")) for flag, field, _ in every}
    changes: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    if changes.get("expose") == "none":
        changes["expose"] = ""
    if args.resources:
        changes["resources"] = _resources(args.resources)
    flags = {name: flag for flag, name, _ in every}
    flags["resources"] = "--resources"
    if args.peer_cidr:
        changes["peer_cidrs"] = list(args.peer_cidr)  # merged over the saved ones
    flags["peer_cidrs"] = "--peer-cidr"
    code = _render(
        args,
        lambda: update_deployment(
            where.chain_dir, where.node_dir(args.domain), args.chain_name, args.domain, changes, flags
        ),
    )
    if not args.dry_run:
        from cloud_config.app.allowlist import peers

        for message in peers(where, args.domain).warnings:  # how the NetworkPolicy admits each peer
            warn(message)
    return code


def _resources(values: list[str]) -> dict[str, dict[str, str]]:
    """`--resources controller:limits_memory=2Gi,requests_memory=1Gi` flags as {slot: {key: value}}
    (checked with the other settings)."""
    from cloud_config.errors import UsageError

    out: dict[str, dict[str, str]] = {}
    for value in values:
        slot, sep, pairs = value.partition(":")
        items = [pair.partition("=") for pair in pairs.split(",")]
        if not sep or any(not eq or not key or not v for key, eq, v in items):
            raise UsageError("--resources", f"must be SERVICE:KEY=VALUE[,KEY=VALUE], got {value!r}")
        out.setdefault(slot, {}).update({key: v for key, _, v in items})
    return out
