"""`cloud-config verify` on 100- and 1000-node chains: PRs of 1, 10 and 100 commits, each moving one node.

Run: .venv/bin/python bench/bench_verify.py [sizes] [runs]   (default sizes 100,1000; 5 runs, at least 5)
     CLOUD_CONFIG_SRC=/other/checkout/src ... times another checkout's code with this same script.

Builds, per size, a real chain repo with the real commands (init-chain, init-chain-config, set-admin,
set-validators, set-nodelist, member add, create-ca, create-csr, sign-csr): one CSR + signed
certificate per node, members owning 100 nodes each, every commit SSH-signed. Then times, as a process
run by a user (`python -m cloud_config verify ...`), min / median / max of RUNS runs:
  PR1 / PR10 / PR100: member m0's PR of 1, 10, 100 commits, commit k moving node k (its port + 1);
  the ratios PR10 / PR1 and PR100 / PR1 (issue 19 target on 1000 nodes: PR100 <= 3x PR1);
  B: a member's PR adding one node and its CSR to the full chain (the everyday case);
  D: m0's PR of 100 commits each adding a file `notes/<k>.txt` (the node list untouched; each is an
     admin-only finding, exit 1), and its cost per commit: the same on 100 and 1000 nodes;
and on the largest size only: A, the admin's PR issuing every certificate, and C, `diff` of PR A;
and S, the signatures of PR100 checked three ways: `git log` with no signature (the floor), `git
log %G?` against the allowed-signers file (what verify runs: git starts ssh-keygen for each commit),
and in-process (the SSHSIG of each commit, read with one `git cat-file --batch`, verified with the
`cryptography` package), each verdict compared with git's.
"""

from __future__ import annotations

import base64
import hashlib
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

SIZES = [int(n) for n in sys.argv[1].split(",")] if len(sys.argv) > 1 else [100, 1000]
RUNS = max(5, int(sys.argv[2]) if len(sys.argv) > 2 else 5)
PR_COMMITS = 100
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


def build(root: Path, nodes: int) -> tuple[Path, dict[str, Path]]:
    """The chain repo, tagged `csrs` (all CSRs), `certs` (all certificates), `one-more` (PR B),
    `pr1`, `pr10`, `pr100` (m0's branch off `certs`: commit k moves node k)."""
    ws = root / "ws"
    repo = ws / CHAIN
    names = ["admin", *(f"m{j}" for j in range(nodes // PER_MEMBER + 1))]
    keys = {name: keygen(root, name) for name in names}
    run(ws, "init-chain")
    run(ws, "init-chain-config", "--timestamp", "1709695109593")
    run(ws, "set-admin", "--admin", "ab" * 20)
    run(ws, "set-validators", "--validators", ",".join(f"{i:096x}" for i in range(1, nodes + 1)))
    run(ws, "set-stage")
    run(ws, "set-nodelist", "--nodelist", ",".join(node(i) for i in range(nodes)))
    run(ws, "member", "add", "--name", "admin", "--role", "admin", "--ssh-key-file", f"{keys['admin']}.pub")
    for j in range(nodes // PER_MEMBER + 1):
        owned = [f for i in range(j * PER_MEMBER, (j + 1) * PER_MEMBER) for f in ("--domain", f"node{i}")]
        run(ws, "member", "add", "--name", f"m{j}", "--ssh-key-file", f"{keys[f'm{j}']}.pub", *owned)
    run(ws, "create-ca")
    for i in range(nodes):
        run(ws, "create-csr", "--domain", f"node{i}")
    git(ws / CHAIN, "init", "-q")
    commit(repo, keys["admin"], "chain with CSRs")
    git(repo, "tag", "csrs")
    for i in range(nodes):
        run(ws, "sign-csr", "--domain", f"node{i}")
    commit(repo, keys["admin"], "sign every CSR")
    git(repo, "tag", "certs")
    run(ws, "append-node", "--node", node(nodes))
    run(ws, "create-csr", "--domain", f"node{nodes}")
    commit(repo, keys[f"m{nodes // PER_MEMBER}"], "one more node")
    git(repo, "tag", "one-more")
    git(repo, "checkout", "-q", "-b", "moves", "certs")
    ports = {i: 40000 + i % 20000 for i in range(nodes)}
    for k in range(PR_COMMITS):
        ports[k] += 1
        listed = ",".join(f"host{i}.example.com:{ports[i]}:node{i}:k8s" for i in range(nodes))
        run(ws, "set-nodelist", "--nodelist", listed)
        commit(repo, keys["m0"], f"move node{k}")
        if k + 1 in (1, 10, PR_COMMITS):
            git(repo, "tag", f"pr{k + 1}")
    git(repo, "checkout", "-q", "-b", "notes", "certs")
    for k in range(PR_COMMITS):
        (repo / "notes").mkdir(exist_ok=True)
        (repo / "notes" / f"{k}.txt").write_text(f"note {k}\n")
        commit(repo, keys["m0"], f"note {k}")
    git(repo, "tag", "notes100")
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


def text(times: list[float]) -> str:
    return f"min {min(times):5.2f} s, median {statistics.median(times):5.2f} s, max {max(times):5.2f} s"


def measure(nodes: int, last: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
        start = time.perf_counter()
        repo, keys = build(Path(tmp), nodes)
        built = time.perf_counter() - start
        tool = [sys.executable, "-m", "cloud_config"]
        verify = [*tool, "verify", "--repo", str(repo), "--format", "json"]
        prs = {k: run_times([*verify, "--base", "certs", "--head", f"pr{k}"], 0) for k in (1, 10, PR_COMMITS)}
        b = run_times([*verify, "--base", "certs", "--head", "one-more"], 0)
        d = run_times([*verify, "--base", "certs", "--head", "notes100"], 1)
        files = len(git(repo, "ls-tree", "-r", "--name-only", "certs").splitlines())
        print(f"chain: {nodes} nodes, {nodes} certificates, {files} files (built in {built:.0f} s)")
        one = statistics.median(prs[1])
        for k, times in prs.items():
            ratio = statistics.median(times) / one
            target = "  target <= 3x on 1000 nodes" if k == PR_COMMITS else ""
            print(f"  PR{k:<3d} verify, {k:3d} commits: {text(times)} ({ratio:5.2f}x PR1){target}")
        print(f"  B     verify, PR adding 1 node + CSR:            {text(b)}")
        per = (statistics.median(d) - one) / (PR_COMMITS - 1) * 1000
        ratio = statistics.median(d) / one
        print(f"  D     verify, {PR_COMMITS} commits adding notes/k.txt:  {text(d)} ({ratio:5.2f}x PR1; "
              f"{per:.1f} ms a commit that leaves the node list alone)")  # fmt: skip
        if last:
            a = run_times([*verify, "--base", "csrs", "--head", "certs"], 0)
            c = run_times([*tool, "diff", "--repo", str(repo), "--base", "csrs", "--head", "certs"], 0)
            print(f"  A     verify, PR issuing {nodes} certificates:     {text(a)}")
            print(f"  C     diff of PR A:                              {text(c)}")
            signature_figures(repo, keys)


def _string(blob: bytes, pos: int) -> tuple[bytes, int]:
    """One SSH wire-format string of `blob` at `pos`, and the position after it."""
    size = int.from_bytes(blob[pos : pos + 4], "big")
    return blob[pos + 4 : pos + 4 + size], pos + 4 + size


def sshsig_verdicts(repo: Path, revs: list[str], keys: dict[str, bytes]) -> list[str]:
    """G (an Ed25519 key of `keys`, fingerprint -> public key blob, signed the commit in namespace
    git), B (the signature does not verify), U (a key not in `keys`) or N (no signature) per commit,
    in process: the measurement behind the choice of ssh-keygen (see the report in measure)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    request = "".join(f"{r}\n" for r in revs).encode()
    argv = ["git", "-C", str(repo), "cat-file", "--batch"]
    out = subprocess.run(argv, input=request, capture_output=True, check=True).stdout
    verdicts, pos = [], 0
    for _ in revs:
        end = out.index(b"\n", pos)
        size = int(out[pos:end].split()[2])
        raw, pos = out[end + 1 : end + 1 + size], end + 2 + size
        head, _, message = raw.partition(b"\n\n")
        lines, armor, inside = [], [], False
        for line in head.split(b"\n"):
            if line.startswith(b"gpgsig "):
                inside, armor = True, [line[7:]]
            elif inside and line.startswith(b" "):
                armor.append(line[1:])
            else:
                inside = False
                lines.append(line)
        if not armor:
            verdicts.append("N")
            continue
        blob = base64.b64decode(b"".join(armor[1:-1]))
        public, at = _string(blob, 10)  # after "SSHSIG" and the version
        namespace, at = _string(blob, at)
        reserved, at = _string(blob, at)
        algorithm, at = _string(blob, at)
        signature, _ = _string(blob, at)
        fingerprint = "SHA256:" + base64.b64encode(hashlib.sha256(public).digest()).decode().rstrip("=")
        if fingerprint not in keys or namespace != b"git":
            verdicts.append("U")
            continue
        payload = b"\n".join(lines) + b"\n\n" + message
        digest = hashlib.new(algorithm.decode(), payload).digest()
        signed = b"SSHSIG" + b"".join(
            len(f).to_bytes(4, "big") + f for f in (namespace, reserved, algorithm, digest)
        )
        key = Ed25519PublicKey.from_public_bytes(_string(public, _string(public, 0)[1])[0])
        try:
            key.verify(_string(signature, _string(signature, 0)[1])[0], signed)
            verdicts.append("G")
        except InvalidSignature:
            verdicts.append("B")
    return verdicts


def signature_figures(repo: Path, keys: dict[str, Path]) -> None:
    """Figure S: PR100's signatures checked by git + ssh-keygen, and in process."""
    revs = git(repo, "rev-list", "certs..pr100").split()
    blobs, lines = {}, []
    for name, key in keys.items():
        kind, encoded = Path(f"{key}.pub").read_text().split()[:2]
        public = base64.b64decode(encoded)
        blobs["SHA256:" + base64.b64encode(hashlib.sha256(public).digest()).decode().rstrip("=")] = public
        lines.append(f'{name} namespaces="git" {kind} {encoded}\n')
    allowed = repo.parent / "allowed_signers"
    allowed.write_text("".join(lines))
    log = [
        "git",
        "-C",
        str(repo),
        "-c",
        "gpg.format=ssh",
        "-c",
        f"gpg.ssh.allowedSignersFile={allowed}",
        "log",
    ]
    floor = run_times([*log, "--format=%H", "certs..pr100"], 0)
    checked = run_times([*log, "--format=%G?", "certs..pr100"], 0)
    inproc = []
    for _ in range(RUNS):
        start = time.perf_counter()
        verdicts = sshsig_verdicts(repo, revs, blobs)
        inproc.append(time.perf_counter() - start)
    expected = git(repo, *log[3:-1], "log", "--format=%G?", "certs..pr100").split()
    assert verdicts == expected, (verdicts, expected)
    n, mid = len(revs), statistics.median
    print(f"  S     {n} signatures, git log without checking:   {text(floor)}")
    print(f"        git log %G? (ssh-keygen per commit):       {text(checked)}"
          f" ({(mid(checked) - mid(floor)) / n * 1000:.1f} ms a signature)")  # fmt: skip
    print(f"        in process (cryptography Ed25519):          {text(inproc)}"
          f" ({mid(inproc) / n * 1000:.2f} ms a signature; verdicts equal git's)")  # fmt: skip


def main() -> None:
    print(f"{RUNS} runs per figure")
    for size in SIZES:
        measure(size, size == SIZES[-1])


if __name__ == "__main__":
    main()
