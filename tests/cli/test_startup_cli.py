"""What a command imports, in a fresh process: a chain edit loads no crypto library and none of the
standard-library modules start-up keeps out (bench/bench_startup.py measures the time)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cloud_config.model.paths import ChainLayout
from tests.support.cli import SRC
from tests.support.render import account, make_chain

CRYPTO = ("cryptography", "tongsuopy", "gmssl_pyx", "milagro_bls_binding", "coincurve", "Crypto")
# Kept out of every chain edit: inspect (dataclasses asks it only for a docstring), tempfile with
# shutil and random (store.atomic makes its own temporary names), PyYAML and subprocess.
NOT_ON_AN_EDIT = (*CRYPTO, "inspect", "ast", "tempfile", "shutil", "random", "yaml", "subprocess", "json")
# `--help` lists the verbs: it reads no file, so it loads none of the model either.
NOT_ON_HELP = (*NOT_ON_AN_EDIT, "pathlib", "dataclasses", "tomllib")
# A plain (not encrypted, no manifests) node's update-node needs the crypto libraries, not these.
NOT_ON_UPDATE_NODE = ("yaml", "subprocess", "concurrent", "tempfile")  # (cryptography loads inspect)


def imported_by(*args: str) -> tuple[int, set[str]]:
    """(exit code, top-level modules loaded) of one `cloud-config ARGS...` in a fresh interpreter
    (cli's stand-in for a module not loaded yet does not count)."""
    code = (
        "import sys\n"
        "from cloud_config.cli.main import main\n"
        "try:\n"
        f"    status = main({list(args)!r})\n"
        "except SystemExit as exc:  # --help\n"
        "    status = exc.code\n"
        "import json\n"  # after the command: the report itself imports json
        "real = {m for m, module in sys.modules.items() if type(module).__name__ != '_OnFirstUse'}\n"
        "print(json.dumps([status, sorted({m.split('.')[0] for m in real})]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env={"PYTHONPATH": str(SRC)}, capture_output=True, text=True, check=True
    )
    status, modules = json.loads(done.stdout.splitlines()[-1])
    return status, set(modules) - {"json"}


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> ChainLayout:
    return make_chain(tmp_path_factory.mktemp("startup"))


@pytest.mark.parametrize(
    "args",
    [
        ("append-node", "--node", "9.9.9.9:40009:node9"),
        ("delete-node", "--domain", "node9"),
        ("--help",),
    ],
)
def test_an_edit_imports_no_crypto_and_no_heavy_stdlib(layout: ChainLayout, args: tuple[str, ...]) -> None:
    helps = args == ("--help",)
    status, modules = imported_by(*args, *(() if helps else ("--config-dir", str(layout.config_dir))))
    assert status == 0
    kept_out = set(NOT_ON_HELP if helps else NOT_ON_AN_EDIT)
    assert modules.isdisjoint(kept_out), sorted(modules & kept_out)


def test_update_node_of_a_plain_node_imports_no_yaml_or_subprocess(cli, layout: ChainLayout) -> None:
    init = ("init-node", "--config-dir", str(layout.config_dir), "--domain", "node0")
    assert cli(*init, "--account", "0x" + account("node0")["node_address"]).code == 0
    status, modules = imported_by("update-node", "--config-dir", str(layout.config_dir), "--domain", "node0")
    assert status == 0
    assert "cryptography" in modules  # the node's TLS material is checked, every time
    assert modules.isdisjoint(NOT_ON_UPDATE_NODE), sorted(modules & set(NOT_ON_UPDATE_NODE))
