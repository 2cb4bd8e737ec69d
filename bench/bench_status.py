"""Time `cloud-config status` on a chain of N nodes (default 100), each with a signed status
record on its `status/<domain>` branch, against the floor of starting the tool (`--version`).

Run: PYTHONPATH=src python bench/bench_status.py [--nodes N] [--runs R]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cloud_config import git
from cloud_config.demo.world import Person
from cloud_config.model.chain import ChainConfig
from cloud_config.model.members import Member, Members
from cloud_config.model.network_address import NodeNetworkAddress
from cloud_config.model.status_record import RECORD_FILE, StatusRecord

MEMBERS = 10


def tool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    return subprocess.run([sys.executable, "-m", "cloud_config", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, check=False)  # fmt: skip


def build(root: Path, nodes: int) -> Path:
    """A chain repo (bare) listing `nodes` nodes, MEMBERS members, a signed record per node."""
    chain = "bench-chain"
    for args in (("init-chain",), ("init-chain-config",)):
        assert tool(*args, "--chain-name", chain, "--config-dir", str(root)).returncode == 0
    path = root / chain / "chain_config.toml"
    config = ChainConfig.loads(path.read_text(), str(path))
    config.node_network_address_list = [NodeNetworkAddress(f"n{i}.example.com", 40000 + i, f"node{i}")
                                        for i in range(nodes)]  # fmt: skip
    path.write_text(config.dumps())
    people = [Person(f"m{j}", root / "keys" / f"m{j}") for j in range(MEMBERS)]
    members = Members(
        [Member(p.name, ssh_keys=[p.public], domains=[f"node{i}" for i in range(j, nodes, MEMBERS)])
         for j, p in enumerate(people)]
    )  # fmt: skip
    work = root / chain
    (work / "members.toml").write_text(members.dumps())
    git.init(work)
    head = git.commit_all(work, "chain")
    assert head is not None
    bare = root / "chain.git"
    git.run(None, "clone", "-q", "--bare", str(work), str(bare))
    for i in range(nodes):
        record = StatusRecord(
            f"node{i}", f"m{i % MEMBERS}", "up-to-date", head, "b" * 40, "sha256:" + "a" * 64,
            "6.7.4", "2026-12-01T22:00:00Z", "2026-12-01T22:00:01Z", "2036-01-01T00:00:00Z",
        )  # fmt: skip
        sha = git.commit_files_signed(bare, {RECORD_FILE: record.dumps().encode()}, None, "status",
                                      people[i % MEMBERS].key)  # fmt: skip
        git.run(bare, "update-ref", f"refs/heads/status/node{i}", sha)
    return bare


def median_seconds(runs: int, *args: str) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        r = tool(*args)
        times.append(time.perf_counter() - start)
        assert r.returncode in (0, 1), r.stderr
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bare = build(Path(tmp), args.nodes)
        r = tool("status", "--repo", str(bare), "--format", "json")
        assert r.returncode == 0 and r.stdout.count('"record": true') == args.nodes, (
            r.stdout[-500:] + r.stderr
        )
        floor = median_seconds(args.runs, "--version")
        took = median_seconds(args.runs, "status", "--repo", str(bare))
    print(f"status, {args.nodes} nodes with signed records: median {took:.3f} s over {args.runs} runs")
    print(f"floor (cloud-config --version):          median {floor:.3f} s")
    per_node = 1000 * (took - floor) / args.nodes
    print(f"ratio to the floor: {took / floor:.1f}x; per node above the floor {per_node:.2f} ms")


if __name__ == "__main__":
    main()
