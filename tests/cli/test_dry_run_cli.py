"""--dry-run on every chain-level edit and on update-node/update-yaml: the diff, and not a byte written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.render import snapshot

CHAIN = "test-chain"
ADMIN = "ab" * 20


@pytest.fixture(scope="module")
def public_chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A chain at Public with one node (a), built once; the tests copy it."""
    from cloud_config.cli.main import main

    root = tmp_path_factory.mktemp("public")
    for args in (
        ("init-chain",),
        ("init-chain-config",),
        ("set-admin", "--admin", ADMIN),
        ("append-node", "--node", "1.1.1.1:40000:a:k8s"),
        ("member", "add", "--name", "alice", "--domain", "a"),
    ):
        assert main([*args, "--config-dir", str(root), "-q"]) == 0
    return root


def _copy(src: Path, dest: Path) -> Path:
    import shutil

    shutil.copytree(src, dest / "w", symlinks=True)
    return dest / "w"


EDITS = [
    (("set-validators", "--validators", "cd" * 48), '+validators = ["' + "cd" * 48 + '"]'),
    (("append-validator", "--validator", "cd" * 48), '+validators = ["' + "cd" * 48 + '"]'),
    (("set-nodelist", "--nodelist", "2.2.2.2:40000:b:k8s"), '-domain = "a"'),
    (("append-node", "--node", "3.3.3.3:40000:c:k8s"), '+domain = "c"'),
    (("delete-node", "--domain", "a"), '-domain = "a"'),
    (("set-stage",), '+stage = "Finalize"'),
    (("member", "add", "--name", "bob"), '+name = "bob"'),
    (("member", "remove", "--name", "alice"), '-name = "alice"'),
]


@pytest.mark.parametrize(("args", "line"), EDITS, ids=[" ".join(e[0][:2]) for e in EDITS])
def test_dry_run_prints_the_diff_and_writes_nothing(
    cli, public_chain: Path, tmp_path: Path, args, line
) -> None:
    work = _copy(public_chain, tmp_path)
    before = snapshot(work)
    result = cli(*args, "--config-dir", str(work), "--dry-run")
    assert result.code == 0, result.err
    assert snapshot(work) == before
    assert result.out.startswith(f"--- a/{CHAIN}/") and line in result.out.splitlines(), result.out
    assert "(dry run, nothing written)" in result.err
    # ... and the same edit for real writes exactly what the diff said.
    real = cli(*args, "--config-dir", str(work))
    assert real.code == 0 and snapshot(work) != before


def test_set_admin_dry_run_then_its_summary(cli, tmp_path: Path) -> None:
    for args in (("init-chain",), ("init-chain-config",)):
        assert cli(*args, "--config-dir", str(tmp_path), "-q").code == 0
    before = snapshot(tmp_path)
    result = cli("set-admin", "--config-dir", str(tmp_path), "--admin", ADMIN, "--dry-run")
    assert result.code == 0 and snapshot(tmp_path) == before
    assert '-stage = "Init"' in result.out and '+stage = "Public"' in result.out
    assert result.err == f"set-admin (dry run, nothing written): admin = {ADMIN}; stage Init -> Public\n"
    again = cli("init-chain-config", "--config-dir", str(tmp_path), "--block_interval", "6", "--dry-run")
    assert again.code == 0 and "+block_interval = 6" in again.out.splitlines()
    assert snapshot(tmp_path) == before
    done = cli("set-admin", "--config-dir", str(tmp_path), "--admin", ADMIN)
    assert (done.out, done.err) == ("", f"set-admin: admin = {ADMIN}; stage Init -> Public\n")
    assert cli("set-stage", "--config-dir", str(tmp_path), "-q").err == ""


@pytest.fixture(scope="module")
def created(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cloud_config.cli.main import main

    root = tmp_path_factory.mktemp("created")
    nodes = "1.1.1.1:40000:a:k8s,2.2.2.2:40000:b:k8s"
    assert main(["create", "--config-dir", str(root), "--admin", ADMIN, "--nodelist", nodes, "-q"]) == 0
    return root


def test_update_yaml_dry_run_hides_secret_files(cli, created: Path, tmp_path: Path) -> None:
    work = _copy(created, tmp_path)
    before = snapshot(work)
    result = cli(
        "update-yaml", "--config-dir", str(work), "--domain", "a", "--storage-class", "nfs", "--dry-run"
    )
    assert result.code == 0, result.err
    assert snapshot(work) == before
    out = result.out.splitlines()
    assert f"{CHAIN}-a/yamls/secret-config.yaml: secret content added" in out
    assert f"{CHAIN}-a/yamls/secret-account.yaml: secret content added" in out
    assert "+++ b/test-chain-a/yamls/statefulset.yaml" in out
    assert '+  storage_class = "nfs"' not in out and '+storage_class = "nfs"' in out
    for key_file in (work / f"{CHAIN}-a").rglob("private_key"):
        assert key_file.read_text() not in result.out
    assert "update-yaml (dry run, nothing written):" in result.err


def test_update_node_dry_run_after_a_chain_change(cli, created: Path, tmp_path: Path) -> None:
    work = _copy(created, tmp_path)
    assert cli("append-node", "--config-dir", str(work), "--node", "3.3.3.3:40000:c:k8s", "-q").code == 0
    before = snapshot(work)
    result = cli("update-node", "--config-dir", str(work), "--domain", "a", "--dry-run")
    assert result.code == 0 and snapshot(work) == before
    # The chain_config.toml copy is shown; config.toml is on the secret list: never shown.
    assert result.out.startswith(
        "--- a/test-chain-a/chain_config.toml\n+++ b/test-chain-a/chain_config.toml\n"
    )
    assert '+domain = "c"' in result.out.splitlines()
    assert f"{CHAIN}-a/config.toml: secret content changed" in result.out.splitlines()
    nothing = cli("update-node", "--config-dir", str(created), "--domain", "a", "--dry-run")
    assert nothing.out == "" and "0 file(s) would change" in nothing.err
