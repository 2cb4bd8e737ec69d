"""`cloud-config rehearse` on 5- and 20-node chains (mirrored certificates, real QUIC handshakes on loopback).

Prints the wall time of the whole command as a process, against a floor measured in the same run
(`cloud-config --version`, the interpreter and import cost). Target: 20 nodes under 10 s.
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

TARGET_20 = 10.0


def timed(*args: str) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "cloud_config", *args], capture_output=True, check=False)
    return time.perf_counter() - start, proc.returncode


def main() -> None:
    floor, _ = timed("--version")
    print(f"floor (cloud-config --version): {floor:.2f} s")
    for count in (5, 20):
        with tempfile.TemporaryDirectory() as tmp:
            nodes = ",".join(f"www.node{i}.com:{40000 + i}:node{i}:k8s" for i in range(count))
            make_chain(Path(tmp), nodes)
            seconds, code = timed("rehearse", "--config-dir", tmp)
            links = count * (count - 1)
            ratio = seconds / floor
            print(f"rehearse {count} nodes ({links} links): {seconds:.2f} s, exit {code}, {ratio:.1f}x floor")
            if count == 20:
                verdict = "met" if seconds < TARGET_20 else "NOT met"
                print(f"target 20 nodes < {TARGET_20:g} s: {verdict}")


if __name__ == "__main__":
    main()
