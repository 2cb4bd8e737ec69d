"""`cloud-config verify` on a PR with 10 approvals on a 100-node chain, against a floor.

Run: .venv/bin/python bench/bench_approvals.py [nodes] [runs]   (default 100 nodes, 7 runs)

Builds a real chain repo with the real commands: `nodes` nodes (each with a CSR and a certificate),
an admin and 10 members owning 10 nodes each (m0..m9), every commit SSH-signed. Two bases:
`plain` (no approval policy) and `policy` (plain + `[policy.approvals] node = 11`, every member).
Member m0 moves its node0 on each: on `plain` that PR is the author's one commit (the floor: the
gate as it was); on `policy` the 10 other members each run `cloud-config approve` on it, so the
PR holds 11 signed commits and 11 approvers. Times `python -m cloud_config verify` as a process
(min / median / max of `runs`) for both, and for the approved PR's commits judged from `plain`
(every signature still checked, nothing counted), and prints the ratios of the medians.

Measured on the 2-core project machine under load from other jobs (2026-12-01, load average 9-14):
floor 0.64 / 1.09 / 1.48 s, the 10-approval PR 1.71 / 1.91 / 2.37 s, the same commits uncounted
1.21 / 1.39 / 1.78 s (min / median / max of 7): approvals / floor 1.75, approvals / uncounted
1.37. Most of the difference was ssh-keygen checking each approval's signature: once for the
signature rules and once more for the count. Since the count reads the signature rules' rows (each
signature checked once, issue 19; 2026-12-02, one run each, min / median / max of 7): before
floor 0.58 / 0.74 / 0.96 s, approvals 0.87 / 1.30 / 1.69 s, uncounted 0.78 / 0.79 / 0.91 s
(approvals / uncounted 1.64); after floor 0.50 / 0.52 / 0.55 s, approvals 0.72 / 0.82 / 0.86 s,
uncounted 0.71 / 0.75 / 0.80 s (approvals / uncounted 1.10, approvals / floor 1.57).
"""

from __future__ import annotations

import contextlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
sys.path.insert(0, str(SRC))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_verify import CHAIN, commit, git, keygen, run, run_times  # noqa: E402  (the same real chain builders)

from cloud_config.cli.main import main as cloud_config  # noqa: E402

NODES = int(sys.argv[1]) if len(sys.argv) > 1 else 100
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 7
MEMBERS = 10


def node(i: int, host: str = "example.com") -> str:
    return f"host{i}.{host}:{40000 + i}:node{i}:k8s"


def build(root: Path) -> Path:
    """The chain repo; tags plain, policy, pr-plain (the floor's head), pr-approved (10 approvals)."""
    ws = root / "ws"
    repo = ws / CHAIN
    names = ["admin", *(f"m{j}" for j in range(MEMBERS))]
    keys = {name: keygen(root, name) for name in names}
    per = max(1, NODES // MEMBERS)
    run(ws, "init-chain")
    run(ws, "init-chain-config", "--timestamp", "1709695109593")
    run(ws, "set-admin", "--admin", "ab" * 20)
    run(ws, "set-validators", "--validators", ",".join(f"{i:096x}" for i in range(1, 5)))
    run(ws, "set-stage")
    run(ws, "set-nodelist", "--nodelist", ",".join(node(i) for i in range(NODES)))
    run(ws, "member", "add", "--name", "admin", "--role", "admin", "--ssh-key-file", f"{keys['admin']}.pub")
    for j in range(MEMBERS):
        owned = [f for i in range(j * per, min(NODES, (j + 1) * per)) for f in ("--domain", f"node{i}")]
        run(ws, "member", "add", "--name", f"m{j}", "--ssh-key-file", f"{keys[f'm{j}']}.pub", *owned)
    run(ws, "create-ca")
    for i in range(NODES):
        run(ws, "create-csr", "--domain", f"node{i}")
        run(ws, "sign-csr", "--domain", f"node{i}")
    git(ws / CHAIN, "init", "-q")
    commit(repo, keys["admin"], "chain")
    git(repo, "tag", "plain")
    members = repo / "members.toml"
    members.write_text(members.read_text() + f"\n[policy.approvals]\nnode = {MEMBERS + 1}\n")
    commit(repo, keys["admin"], "approval policy")
    git(repo, "tag", "policy")
    for base, head in (("plain", "pr-plain"), ("policy", "pr-approved")):
        git(repo, "checkout", "-q", "-b", head, base)
        text = (repo / "chain_config.toml").read_text()
        (repo / "chain_config.toml").write_text(
            text.replace('host = "host0.example.com"', 'host = "moved.example"')
        )
        commit(repo, keys["m0"], "m0 moves node0")
    git(repo, "config", "gpg.format", "ssh")
    for name in names:
        if name != "m0":
            git(repo, "config", "user.signingkey", str(keys[name]))
            with contextlib.redirect_stdout(io.StringIO()):
                assert cloud_config(["approve", "--repo", str(repo), "--base", "policy"]) == 0
    git(repo, "tag", "pr-approved-head")
    return repo


def times(argv: list[str], expect: int) -> list[float]:
    return run_times(argv, expect, RUNS)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-approvals-") as tmp:
        start = time.perf_counter()
        repo = build(Path(tmp))
        built = time.perf_counter() - start
        verify = [sys.executable, "-m", "cloud_config", "verify", "--repo", str(repo), "--format", "json"]
        floor = times([*verify, "--base", "plain", "--head", "pr-plain"], 0)
        approved = times([*verify, "--base", "policy", "--head", "pr-approved-head"], 0)
        # The same commits judged from `plain`: no policy in force, so nothing is counted.
        uncounted = times([*verify, "--base", "plain", "--head", "pr-approved-head"], 0)
        commits = len(git(repo, "rev-list", "policy..pr-approved-head").split())
        print(f"chain: {NODES} nodes and certificates, {MEMBERS + 1} members (built in {built:.0f} s)")
        rows = [
            ("floor: the author's commit, no policy", floor),
            (f"PR with {commits - 1} approvals (node = {MEMBERS + 1})", approved),
            ("the same commits, no policy in force", uncounted),
        ]
        for label, values in rows:
            low, mid, high = min(values), statistics.median(values), max(values)
            print(f"{label:<44} min {low:.3f} s  median {mid:.3f} s  max {high:.3f} s  ({RUNS} runs)")
        mid = statistics.median
        print(f"ratio of medians, approvals / floor: {mid(approved) / mid(floor):.2f}")
        print(f"ratio of medians, approvals / same commits uncounted: {mid(approved) / mid(uncounted):.2f}")


if __name__ == "__main__":
    main()
