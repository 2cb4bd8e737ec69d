"""Summary lines, hints with the flags in use, not-found errors naming where they looked, progress."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import SRC, run_process

ADMIN = "ab" * 20


def test_hints_carry_the_chain_name_and_config_dir_in_use(cli, tmp_path: Path) -> None:
    cfg = str(tmp_path / "cfg")
    assert cli("init-chain", "--chain-name", "c1", "--config-dir", cfg, "-q").code == 0
    result = cli("set-admin", "--chain-name", "c1", "--config-dir", cfg, "--admin", ADMIN)
    assert result.code == 1
    assert f"run `cloud-config init-chain-config --chain-name c1 --config-dir {cfg}` first" in result.err
    other = cli("create-csr", "--chain-name", "c2", "--config-dir", cfg, "--domain", "a")
    assert f"run `cloud-config init-chain --chain-name c2 --config-dir {cfg}` first" in other.err


def test_not_found_inside_the_chain_folder_suggests_the_parent(tmp_path: Path) -> None:
    assert (
        run_process("create", "--admin", ADMIN, "--nodelist", "1.1.1.1:40000:a:k8s", "-q", cwd=tmp_path).code
        == 0
    )
    inside = tmp_path / "test-chain"
    result = run_process("update-node", "--domain", "a", cwd=inside)
    assert result.code == 1 and len(result.err.splitlines()) == 1
    assert result.err.startswith("error: node folder test-chain-a does not exist; ")
    assert f"({inside} looks like a chain folder: did you mean --config-dir ..?)" in result.err
    node = run_process("set-stage", cwd=tmp_path / "test-chain-a")
    assert node.err.startswith("error: chain folder test-chain does not exist; ")
    assert (
        f"({tmp_path / 'test-chain-a'} looks like a node folder: did you mean --config-dir ..?)" in node.err
    )


def test_every_edit_says_what_it_did_and_quiet_silences_it(cli, tmp_path: Path) -> None:
    cfg = ("--config-dir", str(tmp_path))
    lines = {
        ("init-chain",): "init-chain: created",
        ("init-chain-config",): "init-chain-config: ",
        ("set-admin", "--admin", ADMIN): f"set-admin: admin = {ADMIN}; stage Init -> Public",
        ("append-node", "--node", "1.1.1.1:40000:a:k8s"): "append-node: node + 1.1.1.1:40000:a:k8s",
        ("new-account",): None,
        ("set-stage",): "set-stage: stage Public -> Finalize",
        ("create-ca",): "create-ca: ",
        ("create-csr", "--domain", "a"): "create-csr: ",
        ("sign-csr", "--domain", "a"): "sign-csr: ",
    }
    for args, start in lines.items():
        result = cli(*args, *cfg)
        assert result.code == 0, result.err
        if start is not None:
            assert result.err.startswith(start) and len(result.err.splitlines()) == 1, result.err
    quiet = cli("sign-csr", "--domain", "a", *cfg, "--quiet")
    assert (quiet.code, quiet.out, quiet.err) == (0, "", "")
    gone = cli("delete-chain", *cfg)
    assert gone.code == 0 and gone.err.startswith("delete-chain: removed ")


def test_append_node_without_a_cluster_warns(cli, tmp_path: Path) -> None:
    for args in (("init-chain",), ("init-chain-config",), ("set-admin", "--admin", ADMIN)):
        assert cli(*args, "--config-dir", str(tmp_path), "-q").code == 0
    result = cli("append-node", "--config-dir", str(tmp_path), "--node", "h.example:40000:n0")
    assert result.code == 0
    assert (
        "warning: --node h.example:40000:n0: no cluster given, so node n0 is treated as outside Kubernetes"
        in (result.err)
    )
    k8s = cli("append-node", "--config-dir", str(tmp_path), "--node", "h.example:40001:n1:k8s")
    assert "warning" not in k8s.err


def _on_a_tty(args: list[str], cwd: Path) -> str:
    """Run cloud-config with stderr on a pseudo-terminal; what the terminal showed."""
    main, child = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cloud_config", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=child,
    )
    os.close(child)
    seen = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    proc.wait()
    os.close(main)
    assert proc.returncode == 0, seen
    return seen.decode()


@pytest.mark.slow
def test_progress_line_only_on_a_terminal(tmp_path: Path) -> None:
    nodes = ",".join(f"10.0.0.{i}:40000:n{i}:k8s" for i in range(3))
    shown = _on_a_tty(["create", "--admin", ADMIN, "--nodelist", nodes, "--config-dir", "a"], tmp_path)
    assert "\rcreate: [1/3] n0" in shown and "\rcreate: [3/3] n2" in shown
    assert shown.rstrip().endswith("every one a validator")
    quiet = _on_a_tty(["create", "--admin", ADMIN, "--nodelist", nodes, "--config-dir", "b", "-q"], tmp_path)
    assert quiet == ""
    piped = run_process("create", "--admin", ADMIN, "--nodelist", nodes, "--config-dir", "c", cwd=tmp_path)
    assert "[1/3]" not in piped.err and "\r" not in piped.err
