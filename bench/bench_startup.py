"""Startup cost of the command line: `--help`, one chain-level edit, and `update-node` on a 1000-node chain,
each against a bare interpreter (`python -c pass`) measured in the same run.

Run: .venv/bin/python bench/bench_startup.py [runs]
Prints min / median / max wall time of each over RUNS runs (default 15, at least 5) and the ratio of its
median to the median of `python -c pass`. Targets (issue 19): one chain edit <= 4x, update-node on a
1000-node chain <= 8x. Floors beside them: the standard library an edit imports, the same as issue 19
first counted it, and the crypto libraries update-node imports to check the node's TLS files and account.
"""

from __future__ import annotations

import json
import os
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
# The standard-library modules a chain edit imports (flags, TOML, the model's dataclasses, paths,
# the folder lock), with `inspect` stood in for as cloud_config.cli does (dataclasses imports it).
STDLIB_OF_AN_EDIT = "argparse, tomllib, dataclasses, pathlib, fcntl"
NO_INSPECT = "import sys, types; sys.modules['inspect'] = types.ModuleType('inspect'); "
# Issue 19's first floor: tempfile, enum, re and an eager inspect on top (75 ms = 4.7x when filed).
STDLIB_AS_FILED = "argparse, tomllib, dataclasses, pathlib, tempfile, fcntl, enum, re"
# What update-node imports to check the node's TLS material and account: its floor beside the edit's
# (with the real inspect: a dataclass of cryptography's has no docstring, so it is loaded anyway).
CRYPTO_OF_UPDATE_NODE = (
    "cryptography.x509, cryptography.hazmat.primitives.serialization, tongsuopy.crypto.asymciphers.ec, "
    "gmssl_pyx, milagro_bls_binding"
)


def tool() -> list[str]:
    script = Path(sys.executable).parent / "cloud-config"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cloud_config"]


def timed(figures: dict[str, list[list[str]]]) -> dict[str, tuple[list[float], list[float]]]:
    """(wall ms, CPU ms) of RUNS runs of each figure, the figures interleaved (run i of every figure,
    then run i + 1), so a load spike on this shared machine hits every figure alike. A figure with
    several commands cycles through them. CPU is the child's user + system time."""
    times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in figures}
    for i in range(RUNS):
        for name, commands in figures.items():
            cmd = commands[i % len(commands)]
            start = time.perf_counter()
            child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _, status, usage = os.wait4(child.pid, 0)
            times[name][0].append((time.perf_counter() - start) * 1000)
            times[name][1].append((usage.ru_utime + usage.ru_stime) * 1000)
            if status != 0:
                raise SystemExit(f"{' '.join(cmd)} failed (status {status})")
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


def line(name: str, times: tuple[list[float], list[float]], bare: tuple[float, float]) -> str:
    wall, cpu = times
    median, cpu_median = statistics.median(wall), statistics.median(cpu)
    return (
        f"{name:34s} min {min(wall):6.1f}  median {median:6.1f}  max {max(wall):6.1f} ms"
        f"  ({median / bare[0]:5.2f}x bare; CPU {cpu_median:6.1f} ms, {cpu_median / bare[1]:5.2f}x)"
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
        figures = {
            "python -c pass": [[sys.executable, "-c", "pass"]],
            "stdlib an edit imports (floor)": [
                [sys.executable, "-c", f"{NO_INSPECT}import {STDLIB_OF_AN_EDIT}"]
            ],
            "stdlib floor as issue 19 filed it": [[sys.executable, "-c", f"import {STDLIB_AS_FILED}"]],
            "+ update-node's crypto libraries": [
                [sys.executable, "-c", f"import {STDLIB_OF_AN_EDIT}, {CRYPTO_OF_UPDATE_NODE}"]
            ],
            "cloud-config --help": [[*cc, "--help"]],
            "append-node/delete-node (30 nodes)": [
                [*cc, "append-node", "--node", "x.example:39999:extra", *flags],
                [*cc, "delete-node", "--domain", "extra", *flags],
            ],
            f"update-node ({BIG}-node chain)": [[*cc, "update-node", "--domain", "n0", *big]],
        }
        times = timed(figures)
    finally:
        shutil.rmtree(work)
    bare_wall, bare_cpu = times["python -c pass"]
    bare = (statistics.median(bare_wall), statistics.median(bare_cpu))
    targets = {"append-node/delete-node (30 nodes)": 4, f"update-node ({BIG}-node chain)": 8}
    print(f"runs per figure: {RUNS} (interleaved)")
    for name, figure in times.items():
        target = f"  target <= {targets[name]}x" if name in targets else ""
        print(line(name, figure, bare) + target)


if __name__ == "__main__":
    main()
