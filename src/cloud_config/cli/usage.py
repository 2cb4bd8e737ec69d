"""Usage errors in at most two lines: `error: <what> (see cloud-config <verb> --help)`, then a
suggestion (`did you mean --admin?`) when a flag, verb or choice is close to a valid one."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterable, Sequence
from typing import NoReturn

EXIT_USAGE = 2
_NUMBER = re.compile(r"^-\d+$|^-\d*\.\d+$")
_CHOICE = re.compile(
    r"^argument (?P<arg>\S+): invalid choice: '(?P<value>.*)' \(choose from (?P<choices>.*)\)$"
)
_REQUIRED = "the following arguments are required: "
_UNRECOGNIZED = "unrecognized arguments: "


def _terminal_columns() -> int:
    """`shutil.get_terminal_size().columns` (COLUMNS, else the terminal of stdout, else 80)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
        columns = columns or 80
    return columns


def closest(word: str, candidates: Iterable[str], n: int = 1) -> list[str]:
    """The valid words closest to a typo (difflib's ratio of at least 0.6), best first."""
    import difflib

    return difflib.get_close_matches(word, list(candidates), n=n, cutoff=0.6)


class CliParser(argparse.ArgumentParser):
    """argparse with short usage errors: unknown flags are named as unknown (before any "required"),
    typos get the closest valid spelling, and the usage block is not printed."""

    verb_prog: str | None = None  # main sets it: extra arguments are reported by the top parser

    def _get_formatter(self) -> argparse.HelpFormatter:
        """argparse's formatter, at the width argparse would use. argparse makes one at every
        add_argument, and its own width lookup imports shutil (with bz2, lzma, ...)."""
        return self.formatter_class(prog=self.prog, width=_terminal_columns() - 2)  # type: ignore[call-arg]

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if args is not None:
            self.check_flags(args)
        return super().parse_known_args(args, namespace)

    def check_flags(self, args: Sequence[str]) -> None:
        """Refuse the first unknown flag among `args` (up to the sub-command, if this parser has some)."""
        has_verbs = self._subparsers is not None
        for token in args:
            if token == "--":
                return
            if not token.startswith("-") or token == "-" or _NUMBER.match(token):
                if has_verbs:
                    return  # the sub-command's own parser checks the rest
                continue
            name = token.split("=", 1)[0]
            if name not in self._option_string_actions:
                self.fail(f"unknown flag {name}", closest(name, self._option_string_actions))

    def fail(self, what: str, suggestions: Sequence[str] = ()) -> NoReturn:
        """Print the (at most) two lines and exit 2."""
        prog = self.verb_prog or self.prog
        print(f"error: {what} (see {prog} --help)", file=sys.stderr)
        if suggestions:
            print(f"did you mean {' or '.join(suggestions)}?", file=sys.stderr)
        sys.exit(EXIT_USAGE)

    def error(self, message: str) -> NoReturn:
        """argparse's messages, reworded to name the flag first."""
        choice = _CHOICE.match(message)
        if choice:
            arg, value = choice["arg"], choice["value"]
            choices = [c.strip().strip("'") for c in choice["choices"].split(",")]
            if arg.startswith("<"):  # a sub-command
                self.fail(f"unknown command {value!r}", closest(value, choices, 3))
            self.fail(
                f"{arg}: invalid choice {value!r} (choose from {', '.join(choices)})", closest(value, choices)
            )
        if message.startswith(_REQUIRED):
            missing = message[len(_REQUIRED) :]
            if missing.startswith("<"):
                self.fail("a command is required")
            verb = "is" if "," not in missing else "are"
            self.fail(f"{missing} {verb} required")
        if message.startswith(_UNRECOGNIZED):
            self.fail(f"unexpected argument(s): {message[len(_UNRECOGNIZED) :]}")
        if message.startswith("argument "):
            arg, _, reason = message[len("argument ") :].partition(": ")
            self.fail(f"{arg.split('/')[0]}: {reason.replace('expected one argument', 'expected a value')}")
        self.fail(message)
