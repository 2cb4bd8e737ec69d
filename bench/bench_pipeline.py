"""Latency from a chain-repo push to the node commit pushed, for a 4-node and a 100-node chain.

Run: PYTHONPATH=src python bench/bench_pipeline.py [runs]   (default 10 runs per size)

Setup per size (not timed): a chain of N nodes built with the real verbs, node0's repo made with
init-node/update-node/update-yaml, both pushed to a local forge (`git http-backend` on loopback),
and node0's pipeline: a `cloud-config serve` process hooked to the chain repo.

Timed, per run: push a chain change (node1's port) -> post-receive webhook -> serve -> reconcile
(fetch both, render, commit, push) -> node0's repo head moves. Baseline, per run: plain
`git clone` of node0's repo + write the same rendered files + `git commit` + `git push`.
Prints the medians.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cloud_config import git
from cloud_config.demo.world import CHAIN, World, quick_chain

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 10
TAGS = [
    a for t in ("consensus", "controller", "executor", "network", "storage") for a in (f"--{t}_tag", "v6.7.4")
]


def node_entry(i: int, port: int) -> str:
    return f"www.node{i}.com:{port}:node{i}:k8s{i % 3}"


def build(world: World, size: int) -> tuple[str, Path]:
    """Chain + node0 repos on the forge, node0's pipeline running; (node0 url, chain clone)."""
    me, url = quick_chain(world, [node_entry(i, 40000 + i) for i in range(size)])
    world.start_pipeline(me, "node0", url, git.rev_parse(me.chain_dir, "HEAD"))
    return url, me.chain_dir


def pipeline_run(world: World, chain_dir: Path, size: int, run: int) -> tuple[float, float]:
    """Change node1's port, push the chain, wait for node0's repo to move; (total, chain push) seconds."""
    bare = world.forge.path(f"{CHAIN}-node0")
    before = git.rev_parse(bare, "master")
    nodes = [node_entry(i, 40000 + i + (1000 * (run + 1) if i == 1 else 0)) for i in range(size)]
    world.person("operator").cc("set-nodelist", "--nodelist", ",".join(nodes))
    git.commit_all(chain_dir, f"move node1, run {run}")
    started = time.perf_counter()
    git.run(chain_dir, "push", "-q", "origin", "master")
    pushed = time.perf_counter() - started
    deadline = started + 120
    while git.rev_parse(bare, "master") == before:
        if time.perf_counter() > deadline:
            raise SystemExit("node0's repo did not move within 120s")
        time.sleep(0.005)
    return time.perf_counter() - started, pushed


def baseline_run(url: str, scratch: Path, run: int) -> float:
    """Clone node0's repo, write the same files again (one changed), commit, push; seconds."""
    source = scratch / "source"
    if not source.exists():
        git.clone(url, source)
    git.reset_to_remote(source, "master")
    files = {p: (source / p).read_bytes() for p in git.ls_tree(source, "HEAD")}
    started = time.perf_counter()
    clone = scratch / f"clone-{run}"
    git.clone(url, clone)
    for path, data in files.items():
        (clone / path).write_bytes(data)
    (clone / "config.toml").write_bytes(files["config.toml"] + f"# run {run}\n".encode())
    git.commit_all(clone, f"baseline run {run}")
    assert git.push(clone, "origin", "HEAD:refs/heads/master")
    return time.perf_counter() - started


def measure(size: int) -> tuple[float, float, float, int]:
    root = Path(tempfile.mkdtemp(prefix=f"bench-pipeline-{size}-"))
    world = World.create(root)
    try:
        url, chain_dir = build(world, size)
        files = len(git.ls_tree(world.forge.path(f"{CHAIN}-node0"), "master"))
        runs = [pipeline_run(world, chain_dir, size, i) for i in range(RUNS)]
        baseline = [baseline_run(url, root / "baseline", i) for i in range(RUNS)]
        total = statistics.median(r[0] for r in runs)
        push = statistics.median(r[1] for r in runs)
        return total, push, statistics.median(baseline), files
    finally:
        world.close()
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    print(f"median of {RUNS} runs; chain push -> node commit pushed (webhook, serve, reconcile)")
    for size in (4, 100):
        total, push, baseline, files = measure(size)
        print(
            f"{size:>3}-node chain ({files} files in node0's repo): pipeline {total * 1000:.0f} ms "
            f"(chain push incl. webhook delivery {push * 1000:.0f} ms); "
            f"baseline clone+commit+push {baseline * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
