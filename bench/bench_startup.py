"""Startup cost of the command line: `--help`, one chain-level edit, and `update-node` on a 1000-node chain,
each against a bare interpreter (`python -c pass`) measured in the same run.

Run: .venv/bin/python bench/bench_startup.py [runs]
Prints min / median / max wall time of each over RUNS runs (default 15, at least 5) and the ratio of its
median to the median of `python -c pass`. Targets (issue 19): one chain edit <= 4x, update-node on a
1000-node chain <= 8x.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = max(5, int(sys.argv[1]) if len(sys.argv) > 1 else 15)
ADMIN = "097913007f2c8d9ac87f89664fc70977fee6bf9a"
BIG = 1000
# The standard-library modules any chain edit needs (flags, TOML, the model's dataclasses, files).
STDLIB_OF_AN_EDIT = "argparse, tomllib, dataclasses, pathlib, tempfile, fcntl, enum, re"


def tool() -> list[str]:
    script = Path(sys.executable).parent / "cloud-config"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cloud_config"]


def timed(commands: list[list[str]]) -> list[float]:
    """Wall times in ms of RUNS runs, cycling through `commands`."""
    times = []
    for i in range(RUNS):
        cmd = commands[i % len(commands)]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append((time.perf_counter() - start) * 1000)
    return times


def big_chain(cc: list[str], work: Path) -> list[str]:
    """A 1000-node chain at Finalize with node0's folder; the flags naming it."""
    flags = ["--config-dir", str(work), "--chain-name", "big"]
    run = lambda *args: subprocess.run([*cc, *args, *flags], check=True, capture_output=True, text=True)  # noqa: E731
    run("init-chain")
    run("init-chain-config", "--timestamp", "1709695109593")
    run("set-admin", "--admin", ADMIN)
    account = json.loads(run("new-account", "--format", "json").stdout)
    validators = [account["validator_address"], *(f"{i:096x}" for i in range(1, BIG))]
    run("set-validators", "--validators", ",".join(validators))
    run(
        "set-nodelist",
        "--nodelist",
        ",".join(f"10.0.{i // 250}.{i % 250}:{40000 + i}:n{i}:k8s" for i in range(BIG)),
    )
    run("set-stage")
    run("create-ca")
    run("create-csr", "--domain", "n0")
    run("sign-csr", "--domain", "n0")
    run("init-node", "--domain", "n0", "--account", account["node_address"])
    run("update-node", "--domain", "n0")
    return flags


def line(name: str, times: list[float], bare: float) -> str:
    median = statistics.median(times)
    return (
        f"{name:34s} min {min(times):6.1f}  median {median:6.1f}  max {max(times):6.1f} ms"
        f"  ({median / bare:5.2f}x bare)"
    )


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
        big = big_chain(cc, work)
        bare_t = timed([[sys.executable, "-c", "pass"]])
        floor_t = timed([[sys.executable, "-c", f"import {STDLIB_OF_AN_EDIT}"]])
        help_t = timed([[*cc, "--help"]])
        edit_t = timed(
            [
                [*cc, "append-node", "--node", "x.example:39999:extra", *flags],
                [*cc, "delete-node", "--domain", "extra", *flags],
            ]
        )
        update_t = timed([[*cc, "update-node", "--domain", "n0", *big]])
    finally:
        shutil.rmtree(work)
    bare = statistics.median(bare_t)
    print(f"runs per figure: {RUNS}")
    print(line("python -c pass", bare_t, bare))
    print(line(f"import {STDLIB_OF_AN_EDIT.split(',')[0]}, ... (floor)", floor_t, bare))
    print(line("cloud-config --help", help_t, bare))
    print(line("append-node/delete-node (30 nodes)", edit_t, bare) + "  target <= 4x")
    print(line(f"update-node ({BIG}-node chain)", update_t, bare) + "  target <= 8x")


if __name__ == "__main__":
    main()
