"""The command line as tests run it: as a real process, and what one run did."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
DATA = ROOT / "tests" / "data"


@dataclass
class Result:
    """What one command did."""

    code: int
    out: str
    err: str


def run_process(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, input: str | None = None
) -> Result:
    """Run `cloud-config ARGS...` as a real process (python -m cloud_config); `input` is its stdin."""
    full_env = {**os.environ, "PYTHONPATH": str(SRC), **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "cloud_config", *args],
        cwd=cwd,
        env=full_env,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)
