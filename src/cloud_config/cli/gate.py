"""The PR gate's verbs: verify, diff, and member add|remove|list."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cloud_config.cli.common import Subparsers, add_command, add_dry_run, add_format, add_verb, layout, say

if TYPE_CHECKING:
    from pathlib import Path

    from cloud_config.model.members import Member

FORMATS = ("text", "json", "markdown")


def register(sub: Subparsers) -> None:
    """Add verify, diff and member."""
    p = _revisions(sub, "verify", "check a proposed change of the chain repo (exit 1 on errors)", run_verify)
    p.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    p.add_argument(
        "--require-digests", action="store_true", help="an image tag without @sha256: digest is an error"
    )
    p.add_argument(
        "--require-members",
        action="store_true",
        help="a missing members.toml at the base is an error (default: a members-missing warning)",
    )
    p.add_argument(
        "--members-rev",
        default=None,
        help="the revision whose members.toml judges signatures (default: --base)",
    )
    p = _revisions(sub, "diff", "describe a change of the chain repo in words", run_diff)
    add_format(p, ("text", "json", "markdown"))

    p = add_command(
        sub,
        "merge-driver",
        "git merge driver: merge chain_config.toml / members.toml as data (docs/verify.md)",
        run_merge_driver,
    )
    p.add_argument("ancestor", help="%%O: the common ancestor's version")
    p.add_argument("current", help="%%A: our version; the result is written here")
    p.add_argument("other", help="%%B: the other branch's version")
    p.add_argument("marker_size", nargs="?", type=int, default=7, help="%%L: conflict marker size")
    p.add_argument("path", nargs="?", default="", help="%%P: the file's path in the repo")

    member = add_command(sub, "member", "edit members.toml")
    verbs = member.add_subparsers(dest="member_command", metavar="<add|remove|leave|list>")
    verbs.required = True
    p = add_verb(
        verbs,
        "add",
        "add a member, or give an existing one more keys, nodes or validators",
        run_member_add,
    )
    p.add_argument("--name", required=True, help="the member's name (its signing principal)")
    p.add_argument(
        "--role", choices=("admin", "member"), help="default: member for a new member, unchanged otherwise"
    )
    _member_items(p, "add")
    add_dry_run(p)
    p = add_verb(
        verbs, "remove", "remove a member, or only some of its keys, nodes or validators", run_member_remove
    )
    p.add_argument("--name", required=True, help="the member's name")
    _member_items(p, "remove")
    add_dry_run(p)
    p = add_verb(
        verbs,
        "leave",
        "prepare a member's whole departure as one PR: its nodes, certificates, validators, entry (admin)",
        run_member_leave,
    )
    p.add_argument("--name", required=True, help="the departing member's name")
    add_format(add_verb(verbs, "list", "list the members", run_member_list))


def _member_items(p: argparse.ArgumentParser, verb: str) -> None:
    p.add_argument("--ssh-key", action="append", default=[], help=f"an SSH public key line to {verb}")
    p.add_argument("--ssh-key-file", action="append", default=[], help=f"a .pub file whose key to {verb}")
    p.add_argument("--domain", action="append", default=[], help=f"a node domain to {verb} (repeatable)")
    p.add_argument("--validator", action="append", default=[], help=f"a validator address to {verb}")


def _items(args: argparse.Namespace) -> Member:
    from cloud_config.model.members import Member

    keys = [*args.ssh_key, *(_read_key(path) for path in args.ssh_key_file)]
    return Member(args.name, ssh_keys=keys, domains=list(args.domain), validators=list(args.validator))


def _revisions(sub: Subparsers, name: str, help_text: str, run: object) -> argparse.ArgumentParser:
    parser = add_command(sub, name, help_text, run)
    parser.add_argument("--repo", default=".", help="the chain repo (default: the current folder)")
    parser.add_argument("--base", required=True, help="the revision the change starts from (the PR's target)")
    parser.add_argument("--head", required=True, help="the revision of the proposed change")
    parser.add_argument(
        "--chain-name", default=None, help="the chain's name (default: the repo folder's name)"
    )
    return parser


def _repo_and_chain(args: argparse.Namespace) -> tuple[Path, str]:
    from pathlib import Path

    repo = Path(args.repo).resolve()
    return repo, args.chain_name or repo.name


def run_verify(args: argparse.Namespace) -> int:
    """verify: print the findings; exit 1 when one is an error."""
    from cloud_config.gate.findings import FORMATS as RENDER
    from cloud_config.gate.verify import verify

    repo, chain_name = _repo_and_chain(args)
    report = verify(
        repo,
        args.base,
        args.head,
        chain_name,
        members_rev=args.members_rev,
        require_members=args.require_members,
        require_digests=args.require_digests,
    )
    print(RENDER[args.format](report), end="")
    return 0 if report.passed else 1


def run_merge_driver(args: argparse.Namespace) -> int:
    """merge-driver: exit 0 when merged, 1 (markers left in %A) on a conflict."""
    import sys
    from pathlib import Path

    from cloud_config.gate.merge_driver import merge_files

    conflicts = merge_files(
        Path(args.ancestor), Path(args.current), Path(args.other), args.marker_size, args.path
    )
    for conflict in conflicts:
        print(f"error: {args.path or args.current}: merge conflict: {conflict}", file=sys.stderr)
    return 1 if conflicts else 0


def run_diff(args: argparse.Namespace) -> int:
    """diff: print what the change does."""
    from cloud_config.gate.approvals import for_revisions
    from cloud_config.gate.change_summary import render_markdown, render_text, summarize

    repo, _ = _repo_and_chain(args)
    found = summarize(repo, args.base, args.head)
    if args.format == "json":
        import dataclasses

        from cloud_config.cli.common import print_json

        print_json({"changes": [dataclasses.asdict(c) for c in found]})
        return 0
    text = (render_markdown if args.format == "markdown" else render_text)(found)
    collected = for_revisions(repo, args.base, args.head, everyone=False)
    if collected.tallies:  # the base's policy has a rule for a kind this change touches
        words = collected.collected()
        text += f"**Approvals**: {words}\n" if args.format == "markdown" else f"Approvals:\n  {words}\n"
    print(text, end="")
    return 0


def run_member_add(args: argparse.Namespace) -> int:
    """member add."""
    from cloud_config.model.members import add_member
    from cloud_config.store.members_file import editing_members

    def action() -> None:
        with editing_members(layout(args)) as members:
            add_member(members, _items(args), args.role)

    return _member_edit(args, action)


def _member_edit(args: argparse.Namespace, action: object) -> int:
    """Run a members.toml edit, or show it with --dry-run; one summary line."""
    from collections.abc import Callable
    from typing import cast

    run = cast(Callable[[], None], action)
    if args.dry_run:
        from cloud_config.cli.dry_run import run_dry

        run_dry(layout(args).config_dir, run)
    else:
        run()
    dry = " (dry run, nothing written)" if args.dry_run else ""
    say(args, f"member {args.member_command}{dry}: {args.name}")
    return 0


def _read_key(path: str) -> str:
    from pathlib import Path

    from cloud_config.errors import UsageError

    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UsageError("--ssh-key-file", f"cannot read {path}: {exc.strerror}") from None


def run_member_remove(args: argparse.Namespace) -> int:
    """member remove."""
    from cloud_config.model.members import remove_member
    from cloud_config.store.members_file import editing_members

    items = _items(args)
    some = items.ssh_keys or items.domains or items.validators

    def action() -> None:
        with editing_members(layout(args)) as members:
            remove_member(members, args.name, items if some else None)

    return _member_edit(args, action)


def run_member_leave(args: argparse.Namespace) -> int:
    """member leave."""
    from cloud_config.app.departure import leave
    from cloud_config.cli.flows import _report, _run

    result = _run(args, lambda progress: leave(layout(args), args.name, progress))
    return _report(
        args,
        result,
        f"member leave: {args.name} removed with its nodes and certificates; commit it as one PR",
    )


def run_member_list(args: argparse.Namespace) -> int:
    """member list: one line per member."""
    from cloud_config.model.members import key_fingerprint
    from cloud_config.store.members_file import read_members

    members = read_members(layout(args)).members
    if args.format == "json":
        from cloud_config.cli.common import print_json

        print_json(
            {
                "members": [
                    {
                        "name": m.name,
                        "role": m.role,
                        "domains": list(m.domains),
                        "validators": list(m.validators),
                        "ssh_keys": [{"key": k, "fingerprint": key_fingerprint(k)} for k in m.ssh_keys],
                    }
                    for m in members
                ]
            }
        )
        return 0
    for m in members:
        keys = ", ".join(key_fingerprint(k) for k in m.ssh_keys) or "no keys"
        nodes = ", ".join(m.domains) or "-"
        print(f"{m.name}\t{m.role}\tnodes: {nodes}\tvalidators: {len(m.validators)}\tkeys: {keys}")
    return 0
