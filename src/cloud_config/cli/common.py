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
    """A sub-command with cloud-config's common flags `--chain-name` and `--config-dir`."""
    parser = add_command(sub, name, help_text, run)
    parser.add_argument("--chain-name", default="test-chain", help="set chain name (default: %(default)s)")
    parser.add_argument("--config-dir", default=".", help="set config file directory (default: %(default)s)")
    return parser


def layout(args: argparse.Namespace) -> ChainLayout:
    """The chain's paths from `--config-dir` and `--chain-name`."""
    from pathlib import Path

    from cloud_config.model.paths import ChainLayout

    return ChainLayout(Path(args.config_dir), args.chain_name)


def warn(message: str) -> None:
    """One warning line on stderr."""
    print(f"warning: {message}", file=sys.stderr)


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
