"""The `cloud-config` command: builds the parser, dispatches, and maps errors to one line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from cloud_config import COMPATIBLE_WITH, __version__
from cloud_config.cli import (
    account,
    approvals,
    chain,
    flows,
    gate,
    membership,
    node,
    pipeline,
    pki,
    secrets,
    status,
)
from cloud_config.cli.common import Subparsers, add_command
from cloud_config.cli.usage import CliParser, closest

VERSION_LINE = (
    f"cloud-config {__version__} (cita-cloud-gitops; compatible with cloud-config {COMPATIBLE_WITH})"
)

# Each group module registers its verbs with `register(subparsers)`; the order is the help order.
SHELLS = ("bash", "zsh", "fish")


class _Shell:
    """The `completion` verb: registered here, since it needs the whole parser this module builds."""

    @staticmethod
    def register(sub: Subparsers) -> None:
        help_text = "print a shell completion script (bash, zsh or fish)"
        p = add_command(sub, "completion", help_text, run_completion)
        p.add_argument("shell", choices=SHELLS, help="the shell: bash, zsh or fish")


def run_completion(args: Any) -> int:
    """completion: print the script (bash: `source <(cloud-config completion bash)`)."""
    from cloud_config.cli.shell import completion_script

    print(completion_script(build_parser(every=True)[0], args.shell), end="")
    return 0


GROUPS = (chain, account, pki, node, secrets, flows, pipeline, gate, approvals, membership, status, _Shell)

EXIT_BUG = 3
EXIT_INTERRUPTED = 130


class _Ignored:
    """Stands in for the parsers of the verbs not being run: every call is accepted and ignored."""

    def __getattr__(self, name: str) -> Callable[..., _Ignored]:
        return lambda *_args, **_kwargs: self


class _Verbs:
    """Collects every verb's name and help, building a real parser only for the verb being run.

    Building the ~35 verb parsers costs more than the rest of a command's start-up, so only the
    chosen one is built; `--help` lists the others from their names and help texts.
    """

    def __init__(self, real: Any, chosen: str | None, every: bool = False) -> None:
        self.every = every
        self.real = real
        self.chosen = chosen
        self.listed: list[tuple[str, str]] = []

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        self.listed.append((name, kwargs.get("help", "")))
        if self.every or name == self.chosen:
            return self.real.add_parser(name, **kwargs)
        return _Ignored()


def _chosen_verb(argv: Sequence[str]) -> str | None:
    for token in argv:
        if not token.startswith("-"):
            return token
        if token in ("-h", "--help", "-V", "--version"):
            return None
    return None


def build_parser(argv: Sequence[str] = (), every: bool = False) -> tuple[CliParser, list[tuple[str, str]]]:
    """The command tree, with full flags only for the verb named in `argv` (for every verb with
    `every`: completion and the man page); and every (verb, help)."""
    parser = CliParser(
        prog="cloud-config",
        description=f"{VERSION_LINE}: CITA-Cloud chain configuration, run through Git",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument(
        "-V",
        "--version",
        action="version",
        version=VERSION_LINE,
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    sub.required = True
    verbs = _Verbs(sub, _chosen_verb(argv), every)
    for group in GROUPS:
        group.register(verbs)
    width = max(len(name) for name, _ in verbs.listed) + 2
    parser.epilog = "commands:\n" + "\n".join(f"  {n:<{width}}{h}" for n, h in verbs.listed)
    parser.epilog += "\n\nRun `cloud-config <command> --help` for a command's flags."
    return parser, verbs.listed


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    if debug:
        args_list.remove("--debug")
    parser, listed = build_parser(args_list)
    parser.check_flags(args_list)
    chosen = _chosen_verb(args_list)
    names = [name for name, _ in listed]
    if chosen is not None and chosen not in names:
        parser.fail(f"unknown command {chosen!r}", closest(chosen, names, 3))
    if chosen is not None:
        parser.verb_prog = f"cloud-config {chosen}"
    args = parser.parse_args(args_list)
    run: Callable[[Any], int | None] = args.run
    from cloud_config.errors import CloudConfigError

    try:
        return run(args) or 0
    except CloudConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        if debug:
            raise
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except Exception as exc:
        if debug:
            raise
        print(
            f"error: unexpected {type(exc).__name__}: {exc} (a bug; rerun with --debug for details)",
            file=sys.stderr,
        )
        return EXIT_BUG


def entry() -> None:
    """Console-script entry point."""
    raise SystemExit(main())
