"""Reconcile time with and without encryption at rest, on a 100-node chain.

Run: PYTHONPATH=src python bench/bench_secrets.py [runs] [nodes]   (default 5 runs, 100 nodes)

Setup per variant (not timed): a chain of N nodes built with the real verbs on a local forge
(`git http-backend` on loopback) and node0's repo made by init-node/update-node/update-yaml; the
encrypted variant with `init-node --encrypt-to` (two age recipients, identities made by pyrage).
The two variants' runs are interleaved, so both see the same machine load.

Timed, per run and variant: `reconcile` (fetch both repos, decrypt the node's keys, render, compare,
encrypt what changed, commit, push) after a chain change (node1's port), and a no-change reconcile
right after. The floor is the plaintext variant measured in the same run. Prints min / median / max
and the ratio encrypted / plaintext of the medians.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cloud_config import git
from cloud_config.demo.world import World, quick_chain
from cloud_config.pipeline.reconcile import Target, reconcile

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
NODES = int(sys.argv[2]) if len(sys.argv) > 2 else 100


def node_entry(i: int, port: int) -> str:
    return f"www.node{i}.com:{port}:node{i}:k8s{i % 3}"


class Variant:
    """One chain on its own forge, node0's repo plaintext or encrypted, and its reconcile target."""

    def __init__(self, root: Path, encrypt: bool) -> None:
        self.world = World.create(root)
        self.env: dict[str, str] = {}
        identity = None
        encrypt_to: tuple[str, ...] = ()
        if encrypt:
            operator = self.world.person("operator")
            operator.age_key, mine = operator.age_recipient(root / "age-operator")
            identity, pipeline = operator.age_recipient(root / "age-pipeline")
            encrypt_to = (mine, pipeline)
            self.env = {"SOPS_AGE_KEY_FILE": str(operator.age_key)}
        with _env(self.env):
            nodes = [node_entry(i, 40000 + i) for i in range(NODES)]
            self.me, url = quick_chain(self.world, nodes, encrypt_to=encrypt_to)
        chain_url = self.world.forge.url("gitops-test-chain")
        self.target = Target(chain_repo=chain_url, node_repo=url, domain="node0", age_identity_file=identity)
        self.work = root / "work"
        reconcile(self.target, self.work)  # the first clone is not timed

    def run(self, run: int) -> tuple[float, float]:
        """A chain change, then (reconcile after it, a no-change reconcile) in seconds."""
        nodes = [node_entry(i, 40000 + i + (1000 * (run + 1) if i == 1 else 0)) for i in range(NODES)]
        self.me.cc("set-nodelist", "--nodelist", ",".join(nodes))
        git.commit_all(self.me.chain_dir, f"move node1, run {run}")
        git.run(self.me.chain_dir, "push", "-q", "origin", "master")
        started = time.perf_counter()
        outcome = reconcile(self.target, self.work)
        changed = time.perf_counter() - started
        assert outcome.committed, outcome
        started = time.perf_counter()
        outcome = reconcile(self.target, self.work)
        assert not outcome.committed, outcome
        return changed, time.perf_counter() - started


class _env:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def __enter__(self) -> None:
        os.environ.update(self.values)

    def __exit__(self, *_: object) -> None:
        for key in self.values:
            os.environ.pop(key, None)


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-secrets-"))
    variants: dict[str, Variant] = {}
    times: dict[str, dict[str, list[float]]] = {}
    try:
        for name, encrypt in (("plaintext", False), ("encrypted", True)):
            variants[name] = Variant(root / name, encrypt)
            times[name] = {"change": [], "no change": []}
        for run in range(RUNS):  # interleaved, so both variants see the same machine load
            for name, one in variants.items():
                with _env(one.env):
                    changed, unchanged = one.run(run)
                times[name]["change"].append(changed)
                times[name]["no change"].append(unchanged)
    finally:
        for one in variants.values():
            one.world.close()
        shutil.rmtree(root, ignore_errors=True)
    plain, sealed = times["plaintext"], times["encrypted"]
    print(f"reconcile of node0 on a {NODES}-node chain, {RUNS} runs (seconds: min / median / max)")
    for case in ("change", "no change"):
        rows = {"plaintext": plain[case], "encrypted": sealed[case]}
        for name, values in rows.items():
            print(
                f"  {case:<9}  {name:<9}  {min(values):.3f} / {statistics.median(values):.3f} / "
                f"{max(values):.3f}"
            )
        ratio = statistics.median(sealed[case]) / statistics.median(plain[case])
        print(f"  {case:<9}  ratio encrypted / plaintext (medians): {ratio:.2f}x")


if __name__ == "__main__":
    main()
