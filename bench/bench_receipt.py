"""The receipt check's added cost: a one-node reconcile of a one-PR step on a 100-node chain.

Run: PYTHONPATH=src python bench/bench_receipt.py [runs]   (default 7)

Setup (not timed): a 100-node chain built with the real verbs (a CSR and a certificate for every
node), `members.toml` with an admin and participant p1 (owner of node1), every commit SSH-signed;
node0's repo made with init-node/update-node/update-yaml; bare repos on disk.

Timed, per run: p1 opens a PR moving node1's port (one signed commit), it is merged (`--no-ff`)
into master, then `reconcile` (in-process) for node0: fetch both, the receipt check of that one
step (the gate's rules: signatures against members.toml, lanes, schema, secrets, 100
certificates), render, commit, push. The check's own time is measured inside the same run (a
timing ReceiptCache, plus finding the starting point); "without the check" is the same run minus
it. As in `serve`, one process runs every reconcile, so verdicts on unchanged certificates and
CSRs (cached by content in crypto.pki) are reused from the previous runs. Prints min/median/max and
the ratio of the medians.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cloud_config import git
from cloud_config.cli.main import main as cli
from cloud_config.demo.world import CHAIN, TAGS, Person
from cloud_config.model.paths import node_name
from cloud_config.pipeline import receipt as receipt_module
from cloud_config.pipeline import reconcile as reconcile_module
from cloud_config.pipeline.receipt import Policy, Receipt, ReceiptCache, Refusal
from cloud_config.pipeline.reconcile import Target, reconcile

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 7
SIZE = 100


def node_entry(i: int, port: int) -> str:
    return f"www.node{i}.com:{port}:node{i}:k8s{i % 3}"


class TimedReceipts(ReceiptCache):
    """A ReceiptCache that adds up how long the receipt work of a run takes: finding the starting
    point (wrapped below) and the check itself."""

    seconds = 0.0

    def check(self, chain_dir: Path, start: str, head: str, policy: Policy) -> Receipt:
        started = time.perf_counter()
        try:
            return super().check(chain_dir, start, head, policy)
        finally:
            self.seconds += time.perf_counter() - started


RECEIPTS = TimedReceipts()
_starting_point = receipt_module.starting_point


def _timed_starting_point(
    chain_dir: Path, node_dir: Path, trust_root: str | None
) -> tuple[str, Refusal | None]:
    started = time.perf_counter()
    try:
        return _starting_point(chain_dir, node_dir, trust_root)
    finally:
        RECEIPTS.seconds += time.perf_counter() - started


reconcile_module.__dict__["starting_point"] = _timed_starting_point  # what reconcile() calls


def run(ws: Path, *args: str) -> None:
    code = cli([*args, "--chain-name", CHAIN, "--config-dir", str(ws)])
    assert code == 0, args


def build(root: Path) -> tuple[Path, Path, Path, Person, Person]:
    """(workspace, chain bare repo, node0 bare repo, admin, p1)."""
    admin, p1 = Person("admin", root / "keys" / "admin"), Person("p1", root / "keys" / "p1")
    ws = root / "ws"
    run(ws, "init-chain")
    run(ws, "init-chain-config", *[a for t in TAGS for a in (f"--{t}_tag", "v6.7.4")])
    run(ws, "member", "add", "--name", "admin", "--role", "admin", "--ssh-key", admin.public)
    run(ws, "member", "add", "--name", "p1", "--ssh-key", p1.public, "--domain", "node1")
    cli_out = ws / CHAIN
    git.init(cli_out)
    admin.commit(cli_out, "init")
    run(ws, "set-admin", "--admin", "0x" + "11" * 20)
    run(ws, "append-validator", "--validator", "0x" + "22" * 48)
    run(ws, "set-nodelist", "--nodelist", ",".join(node_entry(i, 40000 + i) for i in range(SIZE)))
    run(ws, "set-stage")
    run(ws, "create-ca")
    for i in range(SIZE):
        run(ws, "create-csr", "--domain", f"node{i}")
        run(ws, "sign-csr", "--domain", f"node{i}")
    admin.commit(cli_out, "the chain, 100 nodes, certificates")
    forge = root / "forge"
    forge.mkdir()
    chain_bare = forge / "chain.git"
    git.run(None, "clone", "-q", "--bare", str(cli_out), str(chain_bare))
    git.run(cli_out, "remote", "add", "origin", str(chain_bare))
    addr = _account(ws)
    run(ws, "init-node", "--domain", "node0", "--account", addr)
    run(ws, "update-node", "--domain", "node0")
    run(ws, "update-yaml", "--domain", "node0", "--storage-class", "nfs-client")
    node_dir = ws / node_name(CHAIN, "node0")
    git.init(node_dir)
    git.commit_all(node_dir, f"init node0\n\nChain-Commit: {git.rev_parse(cli_out, 'HEAD')}")
    node_bare = forge / "node0.git"
    git.run(None, "clone", "-q", "--bare", str(node_dir), str(node_bare))
    return ws, chain_bare, node_bare, admin, p1


def _account(ws: Path) -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        run(ws, "new-account")
    return out.getvalue().split()[1]


def pr_step(ws: Path, p1: Person, admin: Person, n: int) -> str:
    """p1's PR moving node1's port, merged --no-ff into master and pushed; the merge sha."""
    repo = ws / CHAIN
    git.run(repo, "checkout", "-q", "-b", f"pr-{n}", "master")
    nodes = [node_entry(i, 40000 + i + (1000 * (n + 1) if i == 1 else 0)) for i in range(SIZE)]
    run(ws, "set-nodelist", "--nodelist", ",".join(nodes))
    assert p1.commit(repo, f"move node1, run {n}") is not None
    git.run(repo, "checkout", "-q", "master")
    git.run(
        repo, *git.ssh_signing(admin.key), "merge", "-q", "-S", "--no-ff", "-m", f"Merge PR {n}", f"pr-{n}"
    )
    git.run(repo, "push", "-q", "origin", "master")
    return git.rev_parse(repo, "HEAD")


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-receipt-"))
    try:
        ws, chain_bare, node_bare, admin, p1 = build(root)
        target = Target(chain_repo=str(chain_bare), node_repo=str(node_bare), domain="node0")
        receipts = RECEIPTS
        totals, checks = [], []
        for n in range(RUNS + 1):
            sha = pr_step(ws, p1, admin, n)
            receipts.seconds = 0.0
            started = time.perf_counter()
            outcome = reconcile(target, root / "work", receipts=receipts)
            total = time.perf_counter() - started
            assert outcome.committed and outcome.chain_sha == sha and outcome.steps_checked == 1, outcome
            if n:  # the first run clones: not a steady-state reconcile
                totals.append(total)
                checks.append(receipts.seconds)
        without = [t - c for t, c in zip(totals, checks, strict=True)]
        ratios = [c / w for c, w in zip(checks, without, strict=True)]

        def ms(xs: list[float]) -> str:
            low, mid, high = (v * 1000 for v in (min(xs), statistics.median(xs), max(xs)))
            return f"min {low:.0f} / median {mid:.0f} / max {high:.0f} ms"

        print(
            f"{RUNS} runs; one-node reconcile of a one-PR step on a {SIZE}-node chain (signed, members.toml)"
        )
        print(f"  reconcile with the receipt check:    {ms(totals)}")
        print(f"  of which the receipt check:          {ms(checks)}")
        print(f"  the same reconcile without it:       {ms(without)}")
        print(
            f"  added: median {statistics.median(checks) / statistics.median(without) * 100:.0f} % "
            f"(per run min {min(ratios) * 100:.0f} % / median {statistics.median(ratios) * 100:.0f} % / "
            f"max {max(ratios) * 100:.0f} %; target <= 25 %)"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
