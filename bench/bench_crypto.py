"""Time the crypto paths: 100 accounts and 100 CSR + signature, in-process and through the files.

Run: PYTHONPATH=src python bench/bench_crypto.py [--count N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cloud_config.crypto import accounts, pki
from cloud_config.model.paths import ChainLayout
from cloud_config.store.account_files import write_account


def timed(label: str, count: int, work: Callable[[int], object]) -> None:
    """Run `work(i)` for i in range(count) and print the total and per-call times."""
    work(0)  # warm the lazy imports
    start = time.perf_counter()
    for i in range(count):
        work(i)
    total = time.perf_counter() - start
    print(f"{label:<48} {count:>4} x  total {total:7.3f} s   per call {1000 * total / count:7.2f} ms")


def csr_and_sign(ca: tuple[str, str], i: int) -> str:
    """One node's CSR, checked and signed by the CA."""
    name = f"bench-chain-node{i}"
    csr, _key = pki.create_csr(name)
    return pki.sign_csr(ca[0], ca[1], csr, name)


def process_times(runs: int) -> None:
    """Wall time of `cloud-config new-account` as a fresh process (imports included)."""
    src = Path(__file__).resolve().parents[1] / "src"
    env = {**os.environ, "PYTHONPATH": str(src)}
    with tempfile.TemporaryDirectory() as tmp:
        cc = [sys.executable, "-m", "cloud_config"]
        subprocess.run([*cc, "init-chain", "--config-dir", tmp], env=env, check=True)
        subprocess.run([*cc, "init-chain-config", "--config-dir", tmp], env=env, check=True)
        for argv in (["--help"], ["new-account", "--config-dir", tmp]):
            start = time.perf_counter()
            for _ in range(runs):
                subprocess.run([*cc, *argv], env=env, check=True, capture_output=True)
            per = 1000 * (time.perf_counter() - start) / runs
            print(f"{'process: cloud-config ' + argv[0]:<48} {runs:>4} x  per run {per:7.1f} ms")


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--process-runs", type=int, default=5)
    options = parser.parse_args()
    n = options.count
    timed(
        "account sm + BLS (overlord), derive only", n, lambda _i: accounts.generate_account(accounts.OVERLORD)
    )
    timed("account sm (raft), derive only", n, lambda _i: accounts.generate_account("consensus_raft"))
    timed("account eth (raft), derive only", n, lambda _i: accounts.generate_account("consensus_raft", "eth"))
    with tempfile.TemporaryDirectory() as tmp:
        where = ChainLayout(Path(tmp), "bench-chain")
        where.accounts_dir.mkdir(parents=True)
        timed(
            "account sm + BLS, derive + write 3 files",
            n,
            lambda _i: write_account(where, accounts.generate_account(accounts.OVERLORD)),
        )
    ca = pki.create_ca()
    timed("create-ca (P-256 key + self-signed cert)", 10, lambda _i: pki.create_ca())
    timed("CSR (new P-256 key) + check + signature", n, lambda i: csr_and_sign(ca, i))
    process_times(options.process_runs)


if __name__ == "__main__":
    main()
