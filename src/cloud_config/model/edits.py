"""The chain-level edits behind the commands, with their stage rules (reference §2.2-§2.9, §2.15)."""

from __future__ import annotations

from dataclasses import dataclass

from cloud_config.errors import ConflictError, NotFoundError, UsageError
from cloud_config.model import network_address
from cloud_config.model.chain import (
    ADDRESS_LEN,
    DEFAULT_PREVHASH,
    DEFAULT_QUOTA_LIMIT,
    ChainConfig,
    GenesisBlock,
    MicroService,
    SystemConfig,
)
from cloud_config.model.names import hex_problem, strip_0x
from cloud_config.model.network_address import NodeNetworkAddress
from cloud_config.model.stage import Stage, check_move, require


@dataclass
class GenesisOptions:
    """The flags of init-chain-config (and create), with cloud-config's defaults."""

    timestamp: int = 0
    prevhash: str = DEFAULT_PREVHASH
    version: int = 0
    chain_id: str = ""
    block_interval: int = 3
    block_limit: int = 100
    quota_limit: int = DEFAULT_QUOTA_LIMIT
    network_image: str = "network_zenoh"
    network_tag: str = "latest"
    consensus_image: str = "consensus_overlord"
    consensus_tag: str = "latest"
    executor_image: str = "executor_evm"
    executor_tag: str = "latest"
    storage_image: str = "storage_opendal"
    storage_tag: str = "latest"
    controller_image: str = "controller_hsm"
    controller_tag: str = "latest"


def new_chain_config(opts: GenesisOptions, now_ms: int, default_chain_id: str) -> ChainConfig:
    """A fresh configuration at stage Init (init-chain-config); `default_chain_id` serves when
    `--chain_id` is not given (cloud-config's is the SM3 of the chain name: `app.chain`)."""
    chain_id = strip_0x(opts.chain_id) if opts.chain_id else default_chain_id
    reason = hex_problem(chain_id, (64,))
    if reason:
        raise UsageError("--chain_id", reason)
    services = [
        MicroService(opts.network_image, opts.network_tag),
        MicroService(opts.consensus_image, opts.consensus_tag),
        MicroService(opts.executor_image, opts.executor_tag),
        MicroService(opts.storage_image, opts.storage_tag),
        MicroService(opts.controller_image, opts.controller_tag),
    ]
    system = SystemConfig(
        version=opts.version,
        chain_id=chain_id.lower() if opts.chain_id else chain_id,
        block_interval=opts.block_interval,
        block_limit=opts.block_limit,
        quota_limit=opts.quota_limit,
    )
    genesis = GenesisBlock(timestamp=opts.timestamp or now_ms, prevhash=opts.prevhash)
    return ChainConfig(system, genesis, [], services, Stage.INIT)


def check_reinit(old: ChainConfig, force: bool) -> None:
    """init-chain-config over an existing file: only at Init, and never wiping members unforced."""
    require(old.stage, {Stage.INIT}, "init-chain-config")
    sc = old.system_config
    kept = [
        what
        for what, present in (
            ("the admin", bool(sc.admin)),
            (f"{len(sc.validators)} validator(s)", bool(sc.validators)),
            (f"{len(old.node_network_address_list)} node(s)", bool(old.node_network_address_list)),
        )
        if present
    ]
    if kept and not force:
        raise ConflictError(
            f"chain_config.toml already holds {', '.join(kept)}; init-chain-config would wipe them "
            "(pass --force to start over)"
        )


def normalize_address(value: str, flag: str, length: int) -> str:
    """An address from a flag: `0x`/`0X` stripped, hex of `length` characters, lowercase."""
    bare = strip_0x(value.strip())
    reason = hex_problem(bare, (length,))
    if reason:
        raise UsageError(flag, reason)
    return bare.lower()


def set_admin(config: ChainConfig, admin: str) -> None:
    """set-admin: needs Init, moves the chain to Public."""
    require(config.stage, {Stage.INIT}, "set-admin")
    config.system_config.admin = normalize_address(admin, "--admin", ADDRESS_LEN)
    config.stage = Stage.PUBLIC


def _validator(config: ChainConfig, value: str, flag: str) -> str:
    try:
        return normalize_address(value, flag, config.validator_length)
    except UsageError as exc:
        raise UsageError(flag, f"{str(exc).split(': ', 1)[1]} for a {config.consensus} chain") from None


def set_validators(config: ChainConfig, text: str) -> None:
    """set-validators: replaces the list with the comma-separated `text`; needs Public."""
    require(config.stage, {Stage.PUBLIC}, "set-validators")
    config.system_config.validators = [_validator(config, v, "--validators") for v in text.split(",")]


def append_validator(config: ChainConfig, value: str) -> None:
    """append-validator: needs Public; a validator already listed is refused."""
    require(config.stage, {Stage.PUBLIC}, "append-validator")
    validator = _validator(config, value, "--validator")
    if validator in (v.lower() for v in config.system_config.validators):
        raise ConflictError(f"--validator: {validator} is already a validator")
    config.system_config.validators.append(validator)


def delete_validator(config: ChainConfig, value: str) -> None:
    """delete-validator: needs Public; the address may carry 0x and any case."""
    require(config.stage, {Stage.PUBLIC}, "delete-validator")
    wanted = strip_0x(value.strip()).lower()
    for i, existing in enumerate(config.system_config.validators):
        if existing.lower() == wanted:
            del config.system_config.validators[i]
            return
    raise NotFoundError(f"--validator: {wanted} is not a validator of this chain")


_NODE_STAGES = {Stage.PUBLIC, Stage.FINALIZE}


def _parse_node(text: str, flag: str) -> NodeNetworkAddress:
    try:
        return network_address.parse(text)
    except ValueError as exc:
        raise UsageError(flag, str(exc)) from None


def set_nodelist(config: ChainConfig, text: str) -> None:
    """set-nodelist: replaces the node list; needs Public or Finalize."""
    require(config.stage, _NODE_STAGES, "set-nodelist")
    config.node_network_address_list = [_parse_node(t, "--nodelist") for t in text.split(",")]


def append_node(config: ChainConfig, text: str) -> NodeNetworkAddress:
    """append-node: needs Public or Finalize; the domain and host:port must be new."""
    require(config.stage, _NODE_STAGES, "append-node")
    node = _parse_node(text, "--node")
    existing = config.node(node.domain)
    if existing is not None:
        raise ConflictError(f"--node: domain {node.domain!r} is already listed as {existing}")
    for other in config.node_network_address_list:
        if (other.host.lower(), other.port) == (node.host.lower(), node.port):
            raise ConflictError(f"--node: {node.host}:{node.port} is already used by {other}")
    config.node_network_address_list.append(node)
    return node


def delete_node(config: ChainConfig, domain: str) -> NodeNetworkAddress:
    """delete-node: needs Public or Finalize; the domain must be listed."""
    require(config.stage, _NODE_STAGES, "delete-node")
    node = config.node(domain)
    if node is None:
        listed = ", ".join(n.domain for n in config.node_network_address_list) or "none"
        raise NotFoundError(f"--domain: {domain!r} is not in the node list (listed: {listed})")
    config.node_network_address_list.remove(node)
    return node


def set_stage(config: ChainConfig, stage_flag: str, force: bool) -> None:
    """set-stage: forward only, unless forced."""
    target = Stage.from_flag(stage_flag)
    check_move(config.stage, target, force)
    config.stage = target
