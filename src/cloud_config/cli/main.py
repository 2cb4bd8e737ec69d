"""The `cloud-config` command: builds the parser, dispatches, and maps errors to one line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from cloud_config import __version__
from cloud_config.cli import account, chain, flows, gate, node, pipeline, pki

# Each group module registers its verbs with `register(subparsers)`; the order is the help order.
GROUPS = (chain, account, pki, node, flows, pipeline, gate)

EXIT_BUG = 3
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    parser = argparse.ArgumentParser(
        prog="cloud-config",
        description=f"cloud-config {__version__}: CITA-Cloud chain configuration, run through Git",
        allow_abbrev=False,
    )
    parser.add_argument("-V", "--version", action="version", version=f"cloud-config {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    sub.required = True
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    if debug:
        args_list.remove("--debug")
    args = build_parser().parse_args(args_list)
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
