"""Render every node of a 100-node and a 1000-node chain (all k8s, mixed clusters and namespaces).

Run: PYTHONPATH=src .venv/bin/python bench/bench_render.py [sizes...]   (default: 100 1000)
Each size runs in a fresh process, so peak memory (max RSS) is that size's own. Per size it prints
the wall time of rendering every node's tree in memory, the files and bytes produced, the time of
writing every node folder with sync_tree (first write, then a no-change second pass; sizes up to
SYNC_LIMIT), and the peak RSS.
"""

from __future__ import annotations

import resource
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
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
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


def main() -> None:
    """Run each size in its own process so peak RSS is per size."""
    if len(sys.argv) > 2 and sys.argv[1] == "--one":
        run(int(sys.argv[2]))
        return
    sizes = [int(a) for a in sys.argv[1:]] or [100, 1000]
    print(f"python {sys.version.split()[0]}; {CLUSTERS} clusters x 2 namespaces; every node k8s")
    for size in sizes:
        subprocess.run([sys.executable, __file__, "--one", str(size)], check=True)


if __name__ == "__main__":
    main()
