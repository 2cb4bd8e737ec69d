"""Flags every verb shares, and small helpers for the verb modules."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from cloud_config.model.paths import ChainLayout

Subparsers = Any  # argparse's _SubParsersAction is private


def add_command(sub: Subparsers, name: str, help_text: str, run: Any = None) -> argparse.ArgumentParser:
    """A sub-command with no flags yet; `run(args)` is what it runs (None for a group of verbs)."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=help_text, description=help_text, allow_abbrev=False
    )
    if run is not None:
        parser.set_defaults(run=run)
    return parser


def add_verb(sub: Subparsers, name: str, help_text: str, run: Any) -> argparse.ArgumentParser:
    """A sub-command with cloud-config's common flags `--chain-name` and `--config-dir`, and `--quiet`."""
    parser = add_command(sub, name, help_text, run)
    parser.add_argument("--chain-name", default="test-chain", help="set chain name (default: %(default)s)")
    complete_dirs(
        parser.add_argument(
            "--config-dir", default=".", help="set config file directory (default: %(default)s)"
        )
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print no summary line and no progress (errors still)"
    )
    return parser


def complete_dirs(action: argparse.Action) -> argparse.Action:
    """Mark a flag's value as a folder for shell completion (`cloud-config completion`)."""
    action.complete_kind = "dir"  # type: ignore[attr-defined]
    return action


def complete_files(action: argparse.Action) -> argparse.Action:
    """Mark a flag's value as a file for shell completion."""
    action.complete_kind = "file"  # type: ignore[attr-defined]
    return action


def add_dry_run(parser: argparse.ArgumentParser) -> None:
    """`--dry-run`: print the unified diff of what the edit would write, write nothing, exit 0."""
    parser.add_argument(
        "--dry-run", action="store_true", help="print the diff of what would be written; write nothing"
    )


def add_format(parser: argparse.ArgumentParser, formats: tuple[str, ...] = ("text", "json")) -> None:
    """`--format`: text for people (the default), json for scripts (docs/cli.md)."""
    parser.add_argument(
        "--format", choices=formats, default=formats[0], help=f"output format (default: {formats[0]})"
    )


def say(args: argparse.Namespace, line: str) -> None:
    """The one summary line of a command, on stderr (stdout is kept for data: addresses, JSON,
    diffs, as cloud-config 6.7.4 prints them), unless `--quiet`."""
    if not getattr(args, "quiet", False):
        print(line, file=sys.stderr)


JSON_VERSION = 1  # of every `--format json` document (docs/cli.md); verify's has its own


def print_json(data: dict[str, object]) -> None:
    """One JSON document on stdout: `version` first, then the keys in the order given (docs/cli.md)."""
    import json

    print(json.dumps({"version": JSON_VERSION, **data}, indent=2, ensure_ascii=False))


def layout(args: argparse.Namespace) -> ChainLayout:
    """The chain's paths from `--config-dir` and `--chain-name`."""
    from pathlib import Path

    from cloud_config.model.paths import ChainLayout

    return ChainLayout(Path(args.config_dir), args.chain_name)


def warn(message: str) -> None:
    """One warning line on stderr."""
    print(f"warning: {message}", file=sys.stderr)


def warn_outside_k8s(node_text: str, domain: str) -> None:
    """append-node / append of a node without a cluster: say how it is treated."""
    warn(
        f"--node {node_text}: no cluster given, so node {domain} is treated as outside Kubernetes "
        "(host:port:domain:cluster[:namespace] places it in a cluster)"
    )


def path_arg(text: str) -> Path:
    """argparse type: a filesystem path (pathlib is imported only when a verb needs it)."""
    from pathlib import Path

    return Path(text)


def u16(text: str) -> int:
    """argparse type: a port-sized number."""
    return _ranged(text, 0, 65535)


def u32(text: str) -> int:
    """argparse type: an unsigned 32-bit number."""
    return _ranged(text, 0, 2**32 - 1)


def u64(text: str) -> int:
    """argparse type: an unsigned 64-bit number (TOML stops at 2^63-1)."""
    return _ranged(text, 0, 2**63 - 1)


def _ranged(text: str, low: int, high: int) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"expected {low}-{high}, got {value}")
    return value
