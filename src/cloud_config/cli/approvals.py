"""Approval verbs: approve (a signed approval commit), approvals (who has approved), audit."""

from __future__ import annotations

import argparse

from cloud_config.cli.common import Subparsers, add_command


def register(sub: Subparsers) -> None:
    """Add approve, approvals and audit."""
    p = add_command(
        sub, "approve", "approve the PR branch checked out: a signed empty commit on HEAD", run_approve
    )
    _repo(p)
    p.add_argument("--base", default="origin/master", help="the PR's target (default: %(default)s)")
    p.add_argument("--message", default=None, help="the approval commit's subject (default: Approve <head>)")

    p = add_command(
        sub, "approvals", "what a PR branch needs approved and who has (exit 1 while waiting)", run_approvals
    )
    _repo(p)
    p.add_argument("--base", default="origin/master", help="the PR's target (default: %(default)s)")
    p.add_argument("--head", default="HEAD", help="the PR's head (default: %(default)s)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")

    p = add_command(
        sub, "audit", "every step of the chain branch: kinds, signer, approvers, verdict", run_audit
    )
    _repo(p)
    p.add_argument("--since", default=None, help="list only the steps after this revision")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    p.add_argument("--chain-name", default=None, help="the chain's name (default: the repo folder's name)")


def _repo(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo", default=".", help="the chain repo (default: the current folder)")


def run_approve(args: argparse.Namespace) -> int:
    """approve: make the approval commit and say what it approved (on stderr: a summary line)."""
    import sys
    from pathlib import Path

    from cloud_config.gate.approvals import approve

    print(approve(Path(args.repo).resolve(), args.base, args.message).line(), file=sys.stderr)
    return 0


def run_approvals(args: argparse.Namespace) -> int:
    """approvals: the table (or JSON); exit 1 while a kind is still waiting."""
    import json
    from pathlib import Path

    from cloud_config.gate.approvals import for_revisions

    found = for_revisions(Path(args.repo).resolve(), args.base, args.head)
    if args.format == "json":
        doc = {
            "head": found.head,
            "tree": found.tree,
            "approvers": found.approvers,
            "approvals": found.to_dict(),
        }
        print(json.dumps(doc, indent=2))
    else:
        print(found.table(), end="")
    return 0 if found.met else 1


def run_audit(args: argparse.Namespace) -> int:
    """audit: every first-parent step; exit 1 when the gate fails one of them."""
    from pathlib import Path

    from cloud_config.gate.audit import audit, render_json, render_text

    repo = Path(args.repo).resolve()
    steps = audit(repo, args.since, args.chain_name or repo.name)
    print((render_json if args.format == "json" else render_text)(steps), end="")
    return 1 if any(s.verdict == "failed" for s in steps) else 0
