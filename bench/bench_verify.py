"""`cloud-config verify` and `diff` on a 1000-node chain with 1000 certificates.

Run: .venv/bin/python bench/bench_verify.py [nodes] [runs]   (default 1000 nodes, 3 runs)
     CLOUD_CONFIG_SRC=/other/checkout/src ... times another checkout's code with this same script.

Builds a real chain repo with the real commands (init-chain, init-chain-config, set-admin,
set-validators, set-nodelist, member add, create-ca, create-csr, sign-csr): one CSR + signed
certificate per node, 10 members owning 100 nodes each, every commit SSH-signed. Then times, as a process
run by a user (`python -m cloud_config verify ...`):
  A. the admin's PR issuing all the certificates (every certificate is new: the worst case),
  B. a member's PR adding node 1001 and its CSR to the full chain (the everyday case),
  C. `diff` of PR A.
Prints the median wall time of each.

Measured on the 2-core project machine (2026-11-29): A 1.0-2.1 s, B 0.8-1.5 s, C 0.2-0.4 s
(the spread is between runs on a shared machine); about half of verify is the certificate checks
(crypto.pki), a quarter reading the two chain_config.toml files.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(os.environ.get("CLOUD_CONFIG_SRC") or Path(__file__).resolve().parents[1] / "src")
sys.path.insert(0, str(SRC))

from cloud_config.cli.main import main as cloud_config  # noqa: E402

NODES = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
CHAIN = "bench-chain"
PER_MEMBER = 100


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def run(workspace: Path, *args: str) -> None:
    assert cloud_config([*args, "--chain-name", CHAIN, "--config-dir", str(workspace)]) == 0, args


def commit(repo: Path, key: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "-c", "gpg.format=ssh", "-c", f"user.signingkey={key}", "commit", "-q", "-S", "-m", message)


def keygen(folder: Path, name: str) -> Path:
    key = folder / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True)
    return key


def node(i: int) -> str:
    return f"host{i}.example.com:{40000 + i % 20000}:node{i}:k8s"


def build(root: Path) -> tuple[Path, dict[str, Path]]:
    """The chain repo, tagged `csrs` (all CSRs), `certs` (all certificates), `one-more` (PR B)."""
    ws = root / "ws"
    repo = ws / CHAIN
    names = ["admin", *(f"m{j}" for j in range(NODES // PER_MEMBER + 1))]
    keys = {name: keygen(root, name) for name in names}
    run(ws, "init-chain")
    run(ws, "init-chain-config", "--timestamp", "1709695109593")
    run(ws, "set-admin", "--admin", "ab" * 20)
    run(ws, "set-validators", "--validators", ",".join(f"{i:096x}" for i in range(1, NODES + 1)))
    run(ws, "set-stage")
    run(ws, "set-nodelist", "--nodelist", ",".join(node(i) for i in range(NODES)))
    run(ws, "member", "add", "--name", "admin", "--role", "admin", "--ssh-key-file", f"{keys['admin']}.pub")
    for j in range(NODES // PER_MEMBER + 1):
        owned = [f for i in range(j * PER_MEMBER, (j + 1) * PER_MEMBER) for f in ("--domain", f"node{i}")]
        run(ws, "member", "add", "--name", f"m{j}", "--ssh-key-file", f"{keys[f'm{j}']}.pub", *owned)
    run(ws, "create-ca")
    for i in range(NODES):
        run(ws, "create-csr", "--domain", f"node{i}")
    git(ws / CHAIN, "init", "-q")
    commit(repo, keys["admin"], "chain with CSRs")
    git(repo, "tag", "csrs")
    for i in range(NODES):
        run(ws, "sign-csr", "--domain", f"node{i}")
    commit(repo, keys["admin"], "sign every CSR")
    git(repo, "tag", "certs")
    run(ws, "append-node", "--node", node(NODES))
    run(ws, "create-csr", "--domain", f"node{NODES}")
    commit(repo, keys[f"m{NODES // PER_MEMBER}"], "one more node")
    git(repo, "tag", "one-more")
    return repo, keys


def run_times(argv: list[str], expect: int, runs: int = RUNS) -> list[float]:
    """The wall time of each of `runs` runs of `argv` (each must exit `expect`)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(
            argv, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(SRC)}
        )
        times.append(time.perf_counter() - start)
        assert proc.returncode == expect, (argv, proc.stdout[-2000:], proc.stderr[-2000:])
    return times


def timed(argv: list[str], expect: int) -> str:
    """min / median / max wall time of RUNS runs, as text."""
    times = run_times(argv, expect)
    median = statistics.median(times)
    return f"min {min(times):.2f} s, median {median:.2f} s, max {max(times):.2f} s ({RUNS} runs)"


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
        start = time.perf_counter()
        repo, _ = build(Path(tmp))
        built = time.perf_counter() - start
        tool = [sys.executable, "-m", "cloud_config"]
        verify = [*tool, "verify", "--repo", str(repo), "--format", "json"]
        a = timed([*verify, "--base", "csrs", "--head", "certs"], 0)
        b = timed([*verify, "--base", "certs", "--head", "one-more"], 0)
        c = timed([*tool, "diff", "--repo", str(repo), "--base", "csrs", "--head", "certs"], 0)
        files = len(git(repo, "ls-files").splitlines())
        print(f"chain: {NODES} nodes, {NODES} validators, {NODES} certificates, {files} files")
        print(f"(built in {built:.0f} s)")
        print(f"A verify, PR issuing {NODES} certificates:  {a}")
        print(f"B verify, PR adding 1 node + CSR:          {b}")
        print(f"C diff of PR A:                            {c}")


if __name__ == "__main__":
    main()
