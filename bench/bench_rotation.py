"""`cloud-config rotate-ca --reissue` on a 100-node chain, as a process.

Prints its wall time against a floor measured in the same run: `sign-csr` of one node that is
already signed (the same start-up, chain load and certificate checks, no new signature), so the
ratio shows what re-signing a hundred CSRs adds.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.support.render import make_chain  # noqa: E402

NODES = 100


def timed(config_dir: str, *args: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "cloud_config", *args, "--config-dir", config_dir],
        capture_output=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr
    return seconds


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        nodes = ",".join(f"www.node{i}.com:{40000 + i}:node{i}:k8s" for i in range(NODES))
        make_chain(Path(tmp), nodes)
        timed(tmp, "rotate-ca", "--begin")
        floor = timed(tmp, "sign-csr", "--domain", "node0")  # trusted by the bundle: checked, not re-signed
        seconds = timed(tmp, "rotate-ca", "--reissue")
        print(f"floor (sign-csr of a signed node): {floor:.2f} s")
        print(f"rotate-ca --reissue, {NODES} nodes: {seconds:.2f} s ({seconds / floor:.1f}x floor)")


if __name__ == "__main__":
    main()
