"""Startup cost of the command line: `--help` and one chain-level edit, against a bare interpreter.

Run: .venv/bin/python bench/bench_startup.py [runs]
Prints the median wall time of each over RUNS runs (default 20) and its ratio to `python -c pass`.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 20
ADMIN = "097913007f2c8d9ac87f89664fc70977fee6bf9a"
# The standard-library modules any chain edit needs (flags, TOML, the model's dataclasses, files).
STDLIB_OF_AN_EDIT = "argparse, tomllib, dataclasses, pathlib, tempfile, fcntl, enum, re"


def tool() -> list[str]:
    script = Path(sys.executable).parent / "cloud-config"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cloud_config"]


def median_ms(commands: list[list[str]]) -> float:
    times = []
    for i in range(RUNS):
        cmd = commands[i % len(commands)]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    # This machine sets PYTHONDONTWRITEBYTECODE; an installed package has its bytecode compiled
    # (pip does it at install time), so compile ours first to measure what users get.
    src = Path(__file__).resolve().parents[1] / "src"
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(src)], check=True)
    cc = tool()
    work = Path(tempfile.mkdtemp())
    try:
        flags = ["--config-dir", str(work)]
        for args in (["init-chain"], ["init-chain-config"], ["set-admin", "--admin", ADMIN]):
            subprocess.run([*cc, *args, *flags], check=True)
        for i in range(30):
            subprocess.run(
                [*cc, "append-node", "--node", f"h{i}.example:4{i:04d}:n{i}:k8s", *flags], check=True
            )
        bare = median_ms([[sys.executable, "-c", "pass"]])
        floor = median_ms([[sys.executable, "-c", f"import {STDLIB_OF_AN_EDIT}"]])
        helped = median_ms([[*cc, "--help"]])
        edit = median_ms(
            [
                [*cc, "append-node", "--node", "x.example:39999:extra", *flags],
                [*cc, "delete-node", "--domain", "extra", *flags],
            ]
        )
    finally:
        shutil.rmtree(work)
    print(f"runs per figure: {RUNS}")
    print(f"python -c pass               {bare:7.1f} ms")
    print(f"cloud-config --help          {helped:7.1f} ms  ({helped / bare:.2f}x bare)")
    print(f"append-node/delete-node edit {edit:7.1f} ms  ({edit / bare:.2f}x bare; 30-node chain)")
    print(f"  floor: importing {STDLIB_OF_AN_EDIT} alone {floor:.1f} ms ({floor / bare:.2f}x bare)")


if __name__ == "__main__":
    main()
