"""Reconcile time with and without encryption at rest, on a 100-node chain.

Run: PYTHONPATH=src python bench/bench_secrets.py [runs] [nodes]   (default 5 runs, 100 nodes)

Setup per variant (not timed): a chain of N nodes built with the real verbs on a local forge
(`git http-backend` on loopback) and node0's repo made by init-node/update-node/update-yaml; the
encrypted variant with `init-node --encrypt-to` (two age recipients, identities made by pyrage).

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


def variant(root: Path, encrypt: bool) -> dict[str, list[float]]:
    world = World.create(root)
    try:
        encrypt_to: tuple[str, ...] = ()
        identity = None
        if encrypt:
            operator = world.person("operator")
            operator.age_key, mine = operator.age_recipient(root / "age-operator")
            identity, pipeline = operator.age_recipient(root / "age-pipeline")
            encrypt_to = (mine, pipeline)
            os.environ["SOPS_AGE_KEY_FILE"] = str(operator.age_key)
        me, url = quick_chain(world, [node_entry(i, 40000 + i) for i in range(NODES)], encrypt_to=encrypt_to)
        chain_url = world.forge.url("gitops-test-chain")
        target = Target(chain_repo=chain_url, node_repo=url, domain="node0", age_identity_file=identity)
        work = root / "work"
        reconcile(target, work)  # the first clone is not timed
        times: dict[str, list[float]] = {"change": [], "no change": []}
        for run in range(RUNS):
            nodes = [node_entry(i, 40000 + i + (1000 * (run + 1) if i == 1 else 0)) for i in range(NODES)]
            me.cc("set-nodelist", "--nodelist", ",".join(nodes))
            git.commit_all(me.chain_dir, f"move node1, run {run}")
            git.run(me.chain_dir, "push", "-q", "origin", "master")
            started = time.perf_counter()
            outcome = reconcile(target, work)
            times["change"].append(time.perf_counter() - started)
            assert outcome.committed, outcome
            started = time.perf_counter()
            outcome = reconcile(target, work)
            times["no change"].append(time.perf_counter() - started)
            assert not outcome.committed, outcome
        return times
    finally:
        os.environ.pop("SOPS_AGE_KEY_FILE", None)
        world.close()


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-secrets-"))
    try:
        plain = variant(root / "plain", encrypt=False)
        sealed = variant(root / "encrypted", encrypt=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
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
