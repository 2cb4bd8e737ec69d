"""A progress line for multi-node work: on a terminal only (stderr), redrawn in place, off with --quiet."""

from __future__ import annotations

import sys
from typing import TextIO


class ProgressLine:
    """Call with (done, total, node); `close()` clears the line. Silent unless stderr is a TTY."""

    def __init__(self, label: str, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.label = label
        self.on = not quiet and self.stream.isatty()
        self.width = 0

    def __call__(self, done: int, total: int, node: str) -> None:
        if not self.on:
            return
        text = f"{self.label}: [{done + 1}/{total}] {node}"
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = len(text)

    def close(self) -> None:
        """Erase the line, so what follows starts on a clean one."""
        if self.on and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
        self.width = 0
