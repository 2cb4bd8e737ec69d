"""The 6.7.4 regressions, on chain and node folders written the way cloud-config 6.7.4 writes them."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from cloud_config.crypto.accounts import BLS_ORDER, SM2_ORDER, derive_account
from tests.support.render import snapshot

CHAIN = "test-chain"
ADMIN = "ab" * 20
# node_config.toml exactly as cloud-config 6.7.4 renders it (reference §1.2), with `warn`.
NODE_CONFIG_674 = """account = "{account}"
enable_metrics = true
enable_tx_persistence = false
is_danger = false
log_level = "{level}"

[cloud_storage]
access_key_id = ""
bucket = ""
endpoint = ""
region = ""
root = ""
secret_access_key = ""
service_type = ""

[exporter]
base_path = ""
chain_name = "test-chain"

[grpc_ports]
consensus_port = 50001
controller_port = 50004
executor_port = 50002
network_port = 50000
storage_port = 50003

[metrics_ports]
consensus_metrics_port = 60001
controller_metrics_port = 60004
executor_metrics_port = 60002
network_metrics_port = 60000
storage_metrics_port = 60003

"""


# Chains made by `create` once per test process (keyed by their extra flags); each test copies one.
_BUILT: dict[tuple[str, ...], Path] = {}


def _create(cli, tmp_path: Path, *flags: str) -> None:
    import shutil

    cache = _BUILT.get(flags)
    if cache is None or not cache.exists():
        cache = tmp_path.parent / f"built-{len(_BUILT)}-{tmp_path.name}"
        nodes = "1.1.1.1:40000:a:k8s,2.2.2.2:40000:b:k8s"
        args = ("create", "--config-dir", str(cache), "--admin", ADMIN, "--nodelist", nodes, "-q", *flags)
        result = cli(*args)
        assert result.code == 0, result.err
        _BUILT[flags] = cache
    shutil.copytree(cache, tmp_path, symlinks=True, dirs_exist_ok=True)


def _as_674(tmp_path: Path, level: str) -> Path:
    """Rewrite node a's node_config.toml as 6.7.4 writes it, with `level`."""
    path = tmp_path / f"{CHAIN}-a" / "node_config.toml"
    account = tomllib.loads(path.read_text())["account"]
    path.write_text(NODE_CONFIG_674.format(account=account, level=level))
    return path


@pytest.mark.parametrize("level", ["warn", "WARN", "Debug", "3", "+05", "error"])
def test_a_674_node_folder_with_a_tracing_level_renders_on_overlord(cli, tmp_path: Path, level: str) -> None:
    _create(cli, tmp_path)
    _as_674(tmp_path, level)
    result = cli("update-node", "--config-dir", str(tmp_path), "--domain", "a")
    assert result.code == 0, result.err
    config = tomllib.loads((tmp_path / f"{CHAIN}-a" / "config.toml").read_text())
    assert config["network_zenoh"]["log_config"]["max_level"] == level
    assert config["consensus_overlord"]["log_config"]["max_level"] == level


@pytest.mark.parametrize("level", ["warning", "critical", "6", "0", "verbose"])
def test_levels_no_tracing_service_parses_are_refused_on_overlord(cli, tmp_path: Path, level: str) -> None:
    _create(cli, tmp_path)
    _as_674(tmp_path, level)
    before = snapshot(tmp_path)
    result = cli("update-node", "--config-dir", str(tmp_path), "--domain", "a")
    assert result.code == 1 and len(result.err.splitlines()) == 1
    assert "node_config.toml: log_level: must be one of error, warn, info, debug, trace" in result.err
    assert snapshot(tmp_path) == before


def test_raft_wants_a_level_both_parsers_accept(cli, tmp_path: Path) -> None:
    _create(cli, tmp_path, "--consensus_image", "consensus_raft")
    for level, ok in (("warn", False), ("warning", False), ("WARN", False), ("3", False), ("info", True)):
        _as_674(tmp_path, level)
        result = cli("update-node", "--config-dir", str(tmp_path), "--domain", "a", "-q")
        assert (result.code == 0) is ok, (level, result.err)
        if not ok:
            assert "must be one of trace, debug, info, error on a consensus_raft chain" in result.err
    _as_674(tmp_path, "warn")
    warn = cli("update-node", "--config-dir", str(tmp_path), "--domain", "a")
    assert "(consensus_raft wants 'warning', the other services 'warn')" in warn.err


def test_log_level_warn_flag_on_overlord_and_on_raft(cli, tmp_path: Path) -> None:
    _create(cli, tmp_path / "o", "--log-level", "warn")
    assert (
        tomllib.loads((tmp_path / "o" / f"{CHAIN}-a" / "node_config.toml").read_text())["log_level"] == "warn"
    )
    result = cli(
        "create", "--config-dir", str(tmp_path / "r"), "--admin", ADMIN, "--nodelist", "1.1.1.1:40000:a:k8s",
        "--consensus_image", "consensus_raft", "--log-level", "warn",
    )  # fmt: skip
    assert result.code == 2 and result.err.startswith("error: --log-level: must be one of trace, debug")
    assert not (tmp_path / "r").exists()


def _chain_674(cli, tmp_path: Path, consensus: str) -> None:
    assert cli("init-chain", "--config-dir", str(tmp_path), "-q").code == 0
    assert (
        cli("init-chain-config", "--config-dir", str(tmp_path), "--consensus_image", consensus, "-q").code
        == 0
    )


def test_import_account_on_raft_takes_keys_above_the_bls_order(cli, tmp_path: Path) -> None:
    _chain_674(cli, tmp_path, "consensus_raft")
    key = (BLS_ORDER + 5).to_bytes(32, "big").hex()
    result = cli("import-account", "--config-dir", str(tmp_path), "--privkey", key)
    assert result.code == 0, result.err
    node = derive_account(bytes.fromhex(key), "consensus_raft").node_address
    assert result.out == f"node_address: {node} validator_address: {node}\n"
    assert (tmp_path / CHAIN / "accounts" / node / "private_key").read_text() == key
    # ... but not a key outside SM2's own range.
    before = snapshot(tmp_path)
    too_big = cli(
        "import-account", "--config-dir", str(tmp_path), "--privkey", SM2_ORDER.to_bytes(32, "big").hex()
    )
    assert too_big.code == 2 and "below the SM2 group order" in too_big.err
    assert snapshot(tmp_path) == before


def test_import_account_on_overlord_still_needs_a_bls_key(cli, tmp_path: Path) -> None:
    _chain_674(cli, tmp_path, "consensus_overlord")
    before = snapshot(tmp_path)
    result = cli(
        "import-account",
        "--config-dir",
        str(tmp_path),
        "--privkey",
        (BLS_ORDER + 5).to_bytes(32, "big").hex(),
    )
    assert result.code == 2 and "below the BLS12-381 group order" in result.err
    assert len(result.err.splitlines()) == 1
    assert snapshot(tmp_path) == before
