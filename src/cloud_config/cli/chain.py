"""Chain-level verbs: init-chain, init-chain-config, admin, validators, node list, stage, delete-chain."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cloud_config.cli.common import (
    Subparsers,
    add_dry_run,
    add_verb,
    layout,
    say,
    u32,
    u64,
    warn,
    warn_outside_k8s,
)

if TYPE_CHECKING:
    from cloud_config.model.edits import GenesisOptions

_OBSOLETE_FLAGS = ("--kms_image", "--kms_tag")


NODE_FORMAT = "host:port:domain[:cluster[:namespace]]"
# verb, its help, its one flag, the flag's help; model.edits has the edit named like the verb.
_EDITS = (
    ("set-admin", "set admin of chain", "--admin", "the admin's address (40 hex, 0x optional)"),
    ("set-validators", "set validators of chain", "--validators", "comma-separated addresses"),
    ("append-validator", "append a validator into chain", "--validator", "the validator address"),
    ("delete-validator", "delete a validator from chain", "--validator", "the address (0x optional)"),
    ("set-nodelist", "set node list", "--nodelist", f"{NODE_FORMAT},..."),
    ("append-node", "append a node into chain", "--node", NODE_FORMAT),
    ("delete-node", "delete a node from chain", "--domain", "the domain of the node to delete"),
)


def register(sub: Subparsers) -> None:
    """Add the chain-level verbs."""
    add_verb(sub, "init-chain", "init a chain", run_init_chain)

    p = add_verb(sub, "init-chain-config", "init chain config", run_init_chain_config)
    add_genesis_flags(p)
    add_dry_run(p)
    p.add_argument(
        "--force", action="store_true", help="start over even if admin, validators or nodes are set"
    )

    for verb, help_text, flag, flag_help in _EDITS:
        p = add_verb(sub, verb, help_text, run_edit)
        p.add_argument(flag, dest="value", metavar=flag.lstrip("-").upper(), required=True, help=flag_help)
        p.set_defaults(edit=verb.replace("-", "_"))
        add_dry_run(p)
        if verb == "delete-node":
            p.add_argument("--config-name", default="config.toml", help="accepted for compatibility; unused")

    p = add_verb(sub, "set-stage", "set stage", run_set_stage)
    p.add_argument("--stage", default="finalize", help="init, public or finalize (default: finalize)")
    p.add_argument("--force", action="store_true", help="allow moving the stage backwards")
    add_dry_run(p)

    add_verb(sub, "delete-chain", "delete a chain", run_delete_chain)


def add_genesis_flags(p: argparse.ArgumentParser) -> None:
    """init-chain-config's flags, spelled as cloud-config spells them (shared with `create`)."""
    p.add_argument("--timestamp", type=u64, default=0, help="genesis timestamp in ms (0: now)")
    p.add_argument("--prevhash", default="0x" + "0" * 64, help="genesis prevhash")
    p.add_argument("--version", type=u32, default=0, help="system config version")
    p.add_argument("--chain_id", default="", help="chain id (default: sm3 of the chain name)")
    p.add_argument("--block_interval", type=u32, default=3, help="block interval in seconds")
    p.add_argument("--block_limit", type=u64, default=100, help="block limit")
    p.add_argument("--quota-limit", type=u64, default=1073741824, help="quota limit")
    for slot, image in (
        ("network", "network_zenoh"),
        ("consensus", "consensus_overlord"),
        ("executor", "executor_evm"),
        ("storage", "storage_opendal"),
        ("controller", "controller_hsm"),
    ):
        p.add_argument(f"--{slot}_image", default=image, help=f"{slot} image (default: %(default)s)")
        pinned = "TAG or TAG@sha256:DIGEST (default: latest)"
        p.add_argument(f"--{slot}_tag", default="latest", help=f"{slot} image tag: {pinned}")
    for flag in _OBSOLETE_FLAGS:
        p.add_argument(flag, default=None, help=argparse.SUPPRESS)


def genesis_options(args: argparse.Namespace) -> GenesisOptions:
    """GenesisOptions from the parsed flags; warns about the 6.4-era kms flags."""
    from cloud_config.model.edits import GenesisOptions

    for flag in _OBSOLETE_FLAGS:
        if getattr(args, flag.lstrip("-")) is not None:
            warn(f"{flag} is obsolete since cloud-config 6.5 (no kms service); ignored")
    return GenesisOptions(
        timestamp=args.timestamp,
        prevhash=args.prevhash,
        version=args.version,
        chain_id=args.chain_id,
        block_interval=args.block_interval,
        block_limit=args.block_limit,
        quota_limit=args.quota_limit,
        **{
            f"{slot}_{part}": getattr(args, f"{slot}_{part}")
            for slot in ("network", "consensus", "executor", "storage", "controller")
            for part in ("image", "tag")
        },
    )


def run_init_chain(args: argparse.Namespace) -> int:
    """init-chain."""
    from cloud_config.store.chain_dirs import init_chain

    where = layout(args)
    init_chain(where)
    say(args, f"init-chain: created {where.chain_dir} (accounts/, ca_cert/, certs/, .gitignore)")
    return 0


def run_init_chain_config(args: argparse.Namespace) -> int:
    """init-chain-config."""
    import time

    from cloud_config.app.chain import init_chain_config

    where = layout(args)

    def action() -> None:
        init_chain_config(where, genesis_options(args), int(time.time() * 1000), args.force)

    _dry(args, action) if args.dry_run else action()
    say(args, f"init-chain-config{_DRY if args.dry_run else ''}: {where.chain_config} at stage Init")
    return 0


_DRY = " (dry run, nothing written)"


def _dry(args: argparse.Namespace, action: Callable[[], object]) -> object:
    from cloud_config.cli.dry_run import run_dry

    return run_dry(layout(args).config_dir, action)[0]


def _edit(args: argparse.Namespace, change: Callable[..., object], *values: object) -> object:
    """Run one edit of chain_config.toml (or, with --dry-run, show it) and print what changed."""
    from cloud_config.cli.summary import chain_words
    from cloud_config.store import chain_files

    where = layout(args)
    seen: list[Any] = []

    def action() -> object:
        with chain_files.editing(where) as config:
            seen.append(config.copy())
            result = change(config, *values)
            seen.append(config)
        return result

    result = _dry(args, action) if args.dry_run else action()
    say(args, f"{args.command}{_DRY if args.dry_run else ''}: {chain_words(seen[0], seen[1])}")
    return result


def run_edit(args: argparse.Namespace) -> int:
    """The one-flag edits: set-admin, set-validators, append-/delete-validator, set-nodelist, ..."""
    from cloud_config.model import edits

    result = _edit(args, getattr(edits, args.edit), args.value)
    if args.edit == "append_node" and not getattr(result, "is_k8s", True):
        warn_outside_k8s(args.value, getattr(result, "domain", "?"))
    return 0


def run_set_stage(args: argparse.Namespace) -> int:
    """set-stage."""
    from cloud_config.model import edits

    _edit(args, edits.set_stage, args.stage, args.force)
    return 0


def run_delete_chain(args: argparse.Namespace) -> int:
    """delete-chain."""
    from cloud_config.store.chain_dirs import delete_chain

    removed = delete_chain(layout(args))
    say(args, f"delete-chain: removed {', '.join(str(p) for p in removed)}")
    return 0
