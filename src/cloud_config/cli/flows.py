"""One-shot verbs: create, append, delete (reference §7)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cloud_config.cli.chain import add_genesis_flags, genesis_options
from cloud_config.cli.common import (
    Subparsers,
    add_format,
    add_verb,
    layout,
    print_json,
    say,
    warn,
    warn_outside_k8s,
)
from cloud_config.cli.node import add_node_flags, node_config


def register(sub: Subparsers) -> None:
    """Add the one-shot verbs."""
    p = add_verb(sub, "create", "create config in one cmd", run_create)
    add_genesis_flags(p)
    p.add_argument("--admin", required=True, help="the admin's address (40 hex, 0x optional)")
    p.add_argument("--nodelist", required=True, help="host:port:domain[:cluster[:namespace]],...")
    add_node_flags(p, ports=False)
    add_format(p)

    p = add_verb(sub, "append", "append node in one cmd", run_append)
    p.add_argument("--node", required=True, help="host:port:domain[:cluster[:namespace]]")
    add_node_flags(p, ports=False)
    add_format(p)

    p = add_verb(sub, "delete", "delete node in one cmd", run_delete)
    p.add_argument("--domain", required=True, help="the domain of the node to delete")


def _settings(args: argparse.Namespace) -> Any:
    return lambda account, offset: node_config(args, account, offset)


def _run(args: argparse.Namespace, flow: Any) -> Any:
    """Run a flow with a progress line (a terminal only), cleared before anything is printed."""
    from cloud_config.cli.progress import ProgressLine

    progress = ProgressLine(args.command, quiet=args.quiet)
    try:
        return flow(progress)
    finally:
        progress.close()


def _report(args: argparse.Namespace, result: Any, summary: str) -> int:
    """Per-node lines (named by the node) or one JSON document, then warnings, next steps, summary."""
    if getattr(args, "format", "text") == "json":
        print_json(
            {
                "nodes": [
                    {
                        "domain": domain,
                        "node_address": account.node_address,
                        "validator_address": account.validator_address,
                    }
                    for domain, account in result.accounts
                ],
                "warnings": list(result.warnings),
                "next_steps": list(result.next_steps),
            }
        )
    else:
        for domain, account in result.accounts:
            addresses = f"node_address: {account.node_address} validator_address: {account.validator_address}"
            print(f"{domain}: {addresses}")
    for message in result.warnings:
        warn(message)
    for step in result.next_steps:
        print(f"next: {step}", file=sys.stderr)
    say(args, summary)
    return 0


def run_create(args: argparse.Namespace) -> int:
    """create."""
    import time

    from cloud_config.app import flows

    opts = genesis_options(args)
    now_ms = int(time.time() * 1000)
    where = layout(args)
    result = _run(
        args,
        lambda progress: flows.create(
            where, opts, args.admin, args.nodelist, _settings(args), now_ms, progress
        ),
    )
    count = len(result.accounts)
    return _report(
        args,
        result,
        f"create: chain {where.chain_name} at Finalize with {count} node(s), every one a validator",
    )


def run_append(args: argparse.Namespace) -> int:
    """append."""
    from cloud_config.app import flows

    where = layout(args)
    result = _run(args, lambda progress: flows.append(where, args.node, _settings(args), progress))
    domain = result.accounts[0][0]
    if not result.node_is_k8s:
        warn_outside_k8s(args.node, domain)
    return _report(args, result, f"append: node {domain} added; the other nodes re-rendered")


def run_delete(args: argparse.Namespace) -> int:
    """delete."""
    from cloud_config.app import flows

    result = _run(args, lambda progress: flows.delete(layout(args), args.domain, progress))
    return _report(args, result, f"delete: node {args.domain} removed; the other nodes re-rendered")
