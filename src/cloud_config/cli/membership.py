"""Membership verbs: rehearse (the mesh on loopback) and rotate-ca (the CA in three phases)."""

from __future__ import annotations

import argparse

from cloud_config.cli.common import Subparsers, add_verb, layout


def register(sub: Subparsers) -> None:
    """Add rehearse and rotate-ca."""
    p = add_verb(
        sub,
        "rehearse",
        "start every node's link on loopback and dial every peer (exit 1 on a failure)",
        run_rehearse,
    )
    p.add_argument(
        "--base", help="a revision of the chain folder's git repo: nodes there but not at --head are departed"
    )
    p.add_argument("--head", help="the revision to rehearse (default: the chain folder as it is)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")


def run_rehearse(args: argparse.Namespace) -> int:
    """rehearse."""
    from cloud_config.errors import UsageError
    from cloud_config.rehearse.run import rehearse, render_json, render_text

    if (args.base is None) != (args.head is None):
        raise UsageError("--base" if args.base is None else "--head", "--base and --head go together")
    report = rehearse(layout(args), args.base, args.head)
    print((render_json if args.format == "json" else render_text)(report), end="")
    return 0 if report.passed else 1
