"""`create` of 10/100/300 nodes against a write floor and a crypto floor, then rendering every node of
a 100-node and a 1000-node chain in memory (all k8s, mixed clusters and namespaces).

Run: PYTHONPATH=src .venv/bin/python bench/bench_render.py [sizes...]   (default: 100 1000)
     PYTHONPATH=src .venv/bin/python bench/bench_render.py --create [runs] [sizes]   (only create;
     sizes comma-separated, default 10,100,300)

`create` (issue 19): per size, RUNS (default 5) runs of `cloud-config create` as a process, wall and
CPU time (min / median / max) and its peak RSS, against two floors measured in the same run: the same
files (every file create wrote) written again with an fsync each (and without), and the crypto alone
(per node an account, a CSR and its signature, plus the CA). CPU is fitted a + b N + c N^2 over the
sizes. Target: `create` 300 nodes <= 1.5x the fsync-each write floor.
Measured 2026-12-02 on the 2-core machine under a load average of ~14 (other sessions' suites),
main (aa25398; manifests merged mid-run) then this branch, one run of `--create 5` each: create 300
CPU median 32.2 s -> 10.3 s, fitted N^2 term 1.98e-04 -> none (-5.2e-05); wall / fsync-each floor
5.30x -> 4.26x (disk-bound, contended).

Render:
Each size runs in a fresh process, so peak memory (max RSS) is that size's own. Per size it prints
the wall time of rendering every node's tree in memory, the files and bytes produced, the time of
writing every node folder with sync_tree (first write, then a no-change second pass; sizes up to
SYNC_LIMIT), and the peak RSS.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cloud_config.app.chain import fresh_chain_config
from cloud_config.model import edits
from cloud_config.model.network_address import NodeNetworkAddress
from cloud_config.model.node import Deployment, NodeConfig
from cloud_config.model.stage import Stage
from cloud_config.render.inputs import NodeInputs
from cloud_config.render.node import render_node
from cloud_config.store.sync import sync_tree

CHAIN = "bench-chain"
CLUSTERS = 4
# Writing every folder of a 1000-node chain means ~1.3 million files; measured up to this size.
SYNC_LIMIT = 200
PEM = "-----BEGIN CERTIFICATE-----\n" + "A" * 64 + "\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN PRIVATE KEY-----\n" + "B" * 64 + "\n-----END PRIVATE KEY-----\n"


def chain_inputs(size: int) -> list[NodeInputs]:
    """NodeInputs of every node of a chain of `size` k8s nodes spread over clusters and namespaces.

    A third of the hosts are names (ExternalName Services), the rest IPs (Service + EndpointSlice).
    """
    config = fresh_chain_config(CHAIN, edits.GenesisOptions(timestamp=1), 0)
    config.system_config.admin = "ab" * 20
    config.stage = Stage.FINALIZE
    nodes = []
    for i in range(size):
        host = f"node{i}.example.com" if i % 3 == 0 else f"10.{i // 250}.{i % 250}.1"
        nodes.append(NodeNetworkAddress(host, 40000 + i % 1000, f"n{i}", f"c{i % CLUSTERS}", f"ns{i % 2}"))
    config.node_network_address_list = nodes
    config.system_config.validators = [f"{i:096x}" for i in range(size)]
    text = config.dumps()
    out = []
    for i, node in enumerate(nodes):
        account = f"{i:040x}"
        settings = NodeConfig(account=account, exporter_chain_name=CHAIN)
        settings.deployment = Deployment(storage_class="nfs-client")
        out.append(
            NodeInputs(
                chain_name=CHAIN,
                domain=node.domain,
                chain=config,
                node=settings,
                chain_text=text,
                ca_cert=PEM,
                cert=PEM,
                node_address=account,
                validator_address=f"{i:096x}",
                private_key=f"{i:064x}",
                key=KEY,
            )
        )
    return out


def run(size: int) -> None:
    """Measure one chain size and print one line."""
    inputs = chain_inputs(size)
    start = time.perf_counter()
    files = total = 0
    for item in inputs:
        tree = render_node(item)
        files += len(tree)
        total += sum(len(b) for b in tree.values())
    render_s = time.perf_counter() - start
    sync = ""
    if size <= SYNC_LIMIT:
        sync = _sync(inputs)
    peak_mb = _own_peak_mb()
    print(
        f"{size:5d} nodes: render all {render_s:7.2f} s ({render_s / size * 1000:6.1f} ms/node), "
        f"{files} files, {total / 1e6:7.1f} MB;{sync} peak RSS {peak_mb:6.0f} MB"
    )


def _sync(inputs: list[NodeInputs]) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        for item in inputs:
            sync_tree(_folder(Path(tmp), item.domain), render_node(item))
        write_s = time.perf_counter() - start
        start = time.perf_counter()
        for item in inputs:
            assert not sync_tree(Path(tmp) / item.domain, render_node(item)).changed
        again_s = time.perf_counter() - start
    return f" sync to disk {write_s:.2f} s, no-change re-sync {again_s:.2f} s;"


def _folder(root: Path, domain: str) -> Path:
    folder = root / domain
    folder.mkdir()
    return folder


CREATE_SIZES = (10, 100, 300)
ADMIN = "ab" * 20


def _create_args(root: Path, size: int) -> list[str]:
    nodes = ",".join(f"10.1.{i // 250}.{i % 250}:{40000 + i}:n{i}:k8s{i % CLUSTERS}" for i in range(size))
    return [
        "create",
        "--config-dir",
        str(root),
        "--chain-name",
        CHAIN,
        "-q",
        "--admin",
        ADMIN,
        "--nodelist",
        nodes,
        "--timestamp",
        "1709695109593",
    ]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _own_peak_mb() -> float:
    """This process's peak RSS: VmHWM of its own address space.

    Not ru_maxrss: subprocess starts children with vfork, and the kernel carries the parent's
    high-water mark over the exec, so a child's ru_maxrss is at least the bench's own peak
    (a `true` started from a process holding 200 MB reports 213 MB).
    """
    with open("/proc/self/status", encoding="ascii") as status:
        line = next(row for row in status if row.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


# Runs `cloud-config` in this interpreter, then prints its own VmHWM line on stderr.
_MEASURED = (
    "import runpy, sys\n"
    "sys.argv = ['cloud-config', *sys.argv[1:]]\n"
    "try:\n"
    "    runpy.run_module('cloud_config', run_name='__main__')\n"
    "finally:\n"
    "    sys.stderr.write(next(r for r in open('/proc/self/status') if r.startswith('VmHWM:')))\n"
)


def _run_measured(args: list[str]) -> float:
    """Run `cloud-config args` as its own process; its peak RSS in MB."""
    argv = [sys.executable, "-c", _MEASURED, *args]
    done = subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    line = next(r for r in done.stderr.splitlines() if r.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def _files_of(root: Path) -> dict[Path, bytes]:
    return {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _write_floor(files: dict[Path, bytes], root: Path, fsync: bool) -> float:
    """Seconds to write `files` under `root` (folders made as needed), each fsynced when `fsync`."""
    start = time.perf_counter()
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
    return time.perf_counter() - start


def _crypto_floor(size: int) -> float:
    """Seconds of the crypto of a `create` of `size` nodes: the CA, per node account + CSR + signature."""
    from cloud_config.crypto import pki
    from cloud_config.crypto.accounts import generate_account

    start = time.perf_counter()
    ca_cert, ca_key = pki.create_ca()
    for i in range(size):
        generate_account("overlord")
        csr, _ = pki.create_csr(f"{CHAIN}-n{i}")
        pki.sign_csr(ca_cert, ca_key, csr, f"{CHAIN}-n{i}")
    return time.perf_counter() - start


def _stats(values: list[float]) -> str:
    return f"min {min(values):6.2f} median {statistics.median(values):6.2f} max {max(values):6.2f}"


def _fit(points: list[tuple[int, float]]) -> str:
    """CPU = a + b N + c N^2 through three (size, median CPU) points (Lagrange: exact)."""
    (x0, y0), (x1, y1), (x2, y2) = points
    d0, d1, d2 = y0 / ((x0 - x1) * (x0 - x2)), y1 / ((x1 - x0) * (x1 - x2)), y2 / ((x2 - x0) * (x2 - x1))
    c = d0 + d1 + d2
    b = -(d0 * (x1 + x2) + d1 * (x0 + x2) + d2 * (x0 + x1))
    a = d0 * x1 * x2 + d1 * x0 * x2 + d2 * x0 * x1
    return f"fitted CPU {a:.3f} + {b:.5f} N + {c:.2e} N^2 s"


def create_bench(runs: int, sizes: tuple[int, ...] = CREATE_SIZES) -> None:
    """`create` per size against its write and crypto floors, RUNS runs each, in this one process."""
    print(f"create: {runs} runs per size; ratios of medians to floors measured in this run")
    cpu_points = []
    for size in sizes:
        walls, cpus, fsynced, plain, crypto, peaks = [], [], [], [], [], []
        for _ in range(runs):
            with tempfile.TemporaryDirectory(prefix="bench-create-") as tmp:
                root = Path(tmp)
                cpu0 = _children_cpu()
                start = time.perf_counter()
                peaks.append(_run_measured(_create_args(root / "out", size)))
                walls.append(time.perf_counter() - start)
                cpus.append(_children_cpu() - cpu0)
                files = _files_of(root / "out")
                fsynced.append(_write_floor(files, root / "fsync", True))
                plain.append(_write_floor(files, root / "plain", False))
                crypto.append(_crypto_floor(size))
                shutil.rmtree(root / "out")
        wall, cpu = statistics.median(walls), statistics.median(cpus)
        cpu_points.append((size, cpu))
        print(
            f"  create {size:3d} nodes ({len(files)} files, {sum(map(len, files.values())) / 1e6:.1f} MB): "
            f"wall {_stats(walls)} s, CPU {_stats(cpus)} s"
        )
        print(
            f"    floors: fsync-each write {_stats(fsynced)} s, plain write {_stats(plain)} s, "
            f"crypto {_stats(crypto)} s"
        )
        print(
            f"    ratios: {wall / statistics.median(fsynced):.2f}x fsync-each write "
            f"(target at 300: <= 1.5x), {wall / statistics.median(plain):.2f}x plain write, "
            f"{wall / statistics.median(crypto):.1f}x crypto; peak RSS of create {_stats(peaks)} MB"
        )
    if len(cpu_points) == 3:
        print(f"  {_fit(cpu_points)}")


def main() -> None:
    """Run each size in its own process so peak RSS is per size."""
    if len(sys.argv) > 2 and sys.argv[1] == "--one":
        run(int(sys.argv[2]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--create":
        sizes = tuple(int(n) for n in sys.argv[3].split(",")) if len(sys.argv) > 3 else CREATE_SIZES
        create_bench(max(5, int(sys.argv[2]) if len(sys.argv) > 2 else 5), sizes)
        return
    create_bench(5)
    sizes = [int(a) for a in sys.argv[1:]] or [100, 1000]
    print(f"python {sys.version.split()[0]}; {CLUSTERS} clusters x 2 namespaces; every node k8s")
    for size in sizes:
        subprocess.run([sys.executable, __file__, "--one", str(size)], check=True)


if __name__ == "__main__":
    main()
