"""One-shot verbs: create, append, delete (reference §7)."""

from __future__ import annotations

import argparse
from typing import Any

from cloud_config.cli.chain import add_genesis_flags, genesis_options
from cloud_config.cli.common import Subparsers, add_verb, layout, warn
from cloud_config.cli.node import add_node_flags, node_config


def register(sub: Subparsers) -> None:
    """Add the one-shot verbs."""
    p = add_verb(sub, "create", "create config in one cmd", run_create)
    add_genesis_flags(p)
    p.add_argument("--admin", required=True, help="the admin's address (40 hex, 0x optional)")
    p.add_argument("--nodelist", required=True, help="host:port:domain[:cluster[:namespace]],...")
    add_node_flags(p, ports=False)

    p = add_verb(sub, "append", "append node in one cmd", run_append)
    p.add_argument("--node", required=True, help="host:port:domain[:cluster[:namespace]]")
    add_node_flags(p, ports=False)

    p = add_verb(sub, "delete", "delete node in one cmd", run_delete)
    p.add_argument("--domain", required=True, help="the domain of the node to delete")


def _settings(args: argparse.Namespace) -> Any:
    return lambda account, offset: node_config(args, account, offset)


def _report(result: Any) -> int:
    for account in result.accounts:
        print(f"node_address: {account.node_address} validator_address: {account.validator_address}")
    for message in result.warnings:
        warn(message)
    return 0


def run_create(args: argparse.Namespace) -> int:
    """create."""
    import time

    from cloud_config.app import flows

    opts = genesis_options(args)
    now_ms = int(time.time() * 1000)
    return _report(flows.create(layout(args), opts, args.admin, args.nodelist, _settings(args), now_ms))


def run_append(args: argparse.Namespace) -> int:
    """append."""
    from cloud_config.app import flows

    return _report(flows.append(layout(args), args.node, _settings(args)))


def run_delete(args: argparse.Namespace) -> int:
    """delete."""
    from cloud_config.app import flows

    return _report(flows.delete(layout(args), args.domain))
