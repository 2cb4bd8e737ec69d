"""`cloud-config serve` as a child process on a free loopback port (the demo, tests and benchmarks)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def start_serve_process(
    config: Path, env: Mapping[str, str], stderr: Any
) -> tuple[subprocess.Popen[str], str | None]:
    """Start `cloud-config serve --config CONFIG` on an ephemeral loopback port as a child process.

    Returns the process and its base URL, or None as the URL when it did not start (then its stderr
    says why). `env` must carry a PYTHONPATH that finds this same code.
    """
    argv = [sys.executable, "-m", "cloud_config", "serve", "--config", str(config), "--listen", "127.0.0.1:0"]
    proc = subprocess.Popen(argv, env=dict(env), stdout=subprocess.PIPE, stderr=stderr, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    return proc, line.split()[-1] if line.startswith("listening on ") else None
