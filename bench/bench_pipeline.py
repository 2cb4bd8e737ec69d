"""Latency from a chain-repo push to the node commit(s) pushed: one node, and 10 subscribed nodes.

Run: PYTHONPATH=src python bench/bench_pipeline.py [runs] [sizes]   (default 10 runs, sizes 4,100,300)
     PYTHONPATH=src python bench/bench_pipeline.py --many [runs] [sizes]   (only the 10-node case;
     default 5 runs, sizes 100,300)

The 10-node case (issue 19), per size: one member's 10 node repos (node0..node9, each made with
init-node/update-node/update-yaml) on the forge and one `serve` with the 10 nodes in its pipeline;
then, alternating per run, the same push measured with a `serve` of node0 alone. Timed: chain push
-> every subscribed node repo's head moved. Prints min / median / max and the ratio of the medians
(target: 10 nodes <= 3x one node, on 100 and 300-node chains).
Measured 2026-12-02 on main (3008ab5, before any pipeline change; load average ~14): 3.42x on 100
nodes, 3.33x on 300 nodes. Nodes 1-9 then lacked a Chain-Commit trailer, which the receipt check
(issue 11) refuses: the case timed out on main since; with the trailers, main at 71e95dd/cc2a414
(per-node chain clones) gave 3.85x/3.77x and 4.48x/4.31x (load average 4-9), and the shared chain
(pipeline/chain_source.py) gives the figures in docs/pipeline.md.

Setup per size (not timed): a chain of N nodes built with the real verbs, node0's repo made with
init-node/update-node/update-yaml, both pushed to a local forge (`git http-backend` on loopback),
and node0's pipeline: a `cloud-config serve` process hooked to the chain repo.

Timed, per run: push a chain change (node1's port) -> post-receive webhook -> serve -> reconcile
(fetch both, render, commit, push) -> node0's repo head moves. Baseline, per run: plain
`git clone` of node0's repo + write the same rendered files + `git commit` + `git push`.
Prints the medians.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cloud_config import git
from cloud_config.demo.world import CHAIN, World, push_new_repo, quick_chain
from cloud_config.model.paths import node_name

MANY = len(sys.argv) > 1 and sys.argv[1] == "--many"
_ARGS = sys.argv[2:] if MANY else sys.argv[1:]
RUNS = max(5, int(_ARGS[0])) if _ARGS else (5 if MANY else 10)
SIZES = [int(n) for n in _ARGS[1].split(",")] if len(_ARGS) > 1 else ([100, 300] if MANY else [4, 100, 300])
SUBSCRIBED = 10
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


def build_many(world: World, size: int) -> tuple[Path, list[str]]:
    """Chain + node0..node9 repos on the forge; (chain clone, the 10 node repo URLs)."""
    me, url = quick_chain(world, [node_entry(i, 40000 + i) for i in range(size)])
    urls = [url]
    for i in range(1, SUBSCRIBED):
        domain = f"node{i}"
        account = me.cc("new-account").split()
        me.cc("create-csr", "--domain", domain)
        me.cc("sign-csr", "--domain", domain)
        git.commit_all(me.chain_dir, f"certificate of {domain}")
        git.run(me.chain_dir, "push", "-q", "origin", "master")
        me.cc("init-node", "--domain", domain, "--account", account[1])
        me.cc("update-node", "--domain", domain)
        me.cc("update-yaml", "--domain", domain, "--storage-class", "nfs-client")
        urls.append(world.forge.create(node_name(CHAIN, domain)))
        # The trailer is the receipt check's starting point (as quick_chain gives node0's repo).
        applied = git.rev_parse(me.chain_dir, "HEAD")
        push_new_repo(
            me.home / node_name(CHAIN, domain), urls[-1], f"init {domain}\n\nChain-Commit: {applied}"
        )
    return me.chain_dir, urls


def serve_config(world: World, folder: Path, domains: list[str]) -> Path:
    """A serve.toml subscribing `domains` (their node repos on the forge) in one pipeline."""
    folder.mkdir(parents=True, exist_ok=True)
    nodes = "".join(
        f'[[pipeline.node]]\ndomain = "{d}"\nrepo = "{world.forge.url(node_name(CHAIN, d))}"\n\n'
        for d in domains
    )
    config = folder / "serve.toml"
    config.write_text(
        f'workdir = "work"\n\n[[pipeline]]\nname = "{CHAIN}"\nchain_repo = "{world.forge.url(CHAIN)}"\n'
        f'branch = "master"\nsecret_file = "{world.secret_file}"\n\n{nodes}'
    )
    return config


def many_run(world: World, chain_dir: Path, size: int, run: int, domains: list[str]) -> float:
    """Move node11+run's port, push the chain, wait for every node repo of `domains` to move; seconds."""
    bares = [world.forge.path(node_name(CHAIN, d)) for d in domains]
    before = [git.rev_parse(b, "master") for b in bares]
    moved = SUBSCRIBED + 1
    nodes = [node_entry(i, 40000 + i + (1000 * (run + 1) if i == moved else 0)) for i in range(size)]
    world.person("operator").cc("set-nodelist", "--nodelist", ",".join(nodes))
    git.commit_all(chain_dir, f"move node{moved}, run {run}")
    started = time.perf_counter()
    git.run(chain_dir, "push", "-q", "origin", "master")
    deadline = started + 300
    while any(git.rev_parse(b, "master") == h for b, h in zip(bares, before, strict=True)):
        if time.perf_counter() > deadline:
            logs = "".join(p.read_text()[-2000:] for p in world.root.glob("serve-*/serve.log"))
            raise SystemExit(f"a node repo did not move within 300s; serve logs:\n{logs}")
        time.sleep(0.005)
    return time.perf_counter() - started


def _only_webhook(world: World, url: str) -> None:
    """Make chain pushes reach `url` alone (the forge keeps its hooks in a JSON list)."""
    world.forge.add_webhook(CHAIN, url, world.secret_file)
    config = next((world.forge.path(CHAIN) / "hooks").glob("*.json"))
    hooks = json.loads(config.read_text())
    config.write_text(json.dumps([h for h in hooks if h["url"] == url]))


def _peak_mb(pid: int) -> float:
    """A running process's peak RSS (VmHWM of its own address space), in MB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        line = next(row for row in status if row.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def measure_many(size: int) -> tuple[list[float], list[float], float]:
    """(one node's latencies, 10 nodes' latencies, the 10-node serve's peak RSS in MB), the two
    serves' runs alternating."""
    from cloud_config.demo.serve_process import start_serve_process
    from cloud_config.demo.world import tool_env

    root = Path(tempfile.mkdtemp(prefix=f"bench-pipeline-many-{size}-"))
    world = World.create(root)
    try:
        chain_dir, _ = build_many(world, size)
        domains = [f"node{i}" for i in range(SUBSCRIBED)]
        serves, pids = {}, {}
        for key, subscribed in (("one", domains[:1]), ("many", domains)):
            config = serve_config(world, root / f"serve-{key}", subscribed)
            with (config.parent / "serve.log").open("w") as log:
                proc, url = start_serve_process(config, tool_env(), log)
            world.pipelines.append(proc)
            assert url is not None, f"serve did not start; see {config.parent / 'serve.log'}"
            serves[key] = (url, subscribed)
            pids[key] = proc.pid
        one: list[float] = []
        many: list[float] = []
        run = 0
        for _ in range(RUNS):
            for key, out in (("one", one), ("many", many)):
                url, subscribed = serves[key]
                _only_webhook(world, f"{url}/hooks/{CHAIN}")
                out.append(many_run(world, chain_dir, size, run, subscribed))
                run += 1
        return one, many, _peak_mb(pids["many"])
    finally:
        world.close()
        shutil.rmtree(root, ignore_errors=True)


def _stats(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"min {min(ms):5.0f} median {statistics.median(ms):5.0f} max {max(ms):5.0f} ms"


def main_many() -> None:
    print(f"{RUNS} runs per figure; chain push -> every subscribed node's commit pushed")
    for size in SIZES:
        one, many, peak = measure_many(size)
        ratio = statistics.median(many) / statistics.median(one)
        print(
            f"{size:>3}-node chain: one node {_stats(one)}; {SUBSCRIBED} nodes {_stats(many)} "
            f"({ratio:.2f}x one; target <= 3x); {SUBSCRIBED}-node serve peak RSS {peak:.0f} MB"
        )


def main() -> None:
    if MANY:
        main_many()
        return
    print(f"median of {RUNS} runs; chain push -> node commit pushed (webhook, serve, reconcile)")
    for size in SIZES:
        total, push, baseline, files = measure(size)
        print(
            f"{size:>3}-node chain ({files} files in node0's repo): pipeline {total * 1000:.0f} ms "
            f"(chain push incl. webhook delivery {push * 1000:.0f} ms); "
            f"baseline clone+commit+push {baseline * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
