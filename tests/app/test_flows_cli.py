"""create, append, delete and delete-chain through the `cloud-config` command, with real keys and certs."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import yaml

from tests.support.render import FIVE_NODES, snapshot

CHAIN = "test-chain"
ADMIN = "0x" + "ab" * 20


def _chain(tmp_path: Path) -> dict[str, Any]:
    return tomllib.loads((tmp_path / CHAIN / "chain_config.toml").read_text())


def _config(tmp_path: Path, domain: str) -> dict[str, Any]:
    return tomllib.loads((tmp_path / f"{CHAIN}-{domain}" / "config.toml").read_text())


def _create(cli, tmp_path: Path, nodelist: str = FIVE_NODES, *extra: str):
    return cli("create", "--config-dir", str(tmp_path), "--admin", ADMIN, "--nodelist", nodelist, *extra)


def test_create_five_node_example(cli, tmp_path: Path) -> None:
    result = _create(cli, tmp_path)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    # One line per node, named by the node; the summary goes to stderr (no progress: not a TTY).
    assert [line.split(": ")[0] for line in lines] == [f"node{i}" for i in range(5)]
    assert all(": node_address: " in line for line in lines)
    assert result.err == "create: chain test-chain at Finalize with 5 node(s), every one a validator\n"
    chain = _chain(tmp_path)
    assert chain["stage"] == "Finalize" and len(chain["system_config"]["validators"]) == 5
    assert chain["system_config"]["validators"][0] == lines[0].split("validator_address: ")[1]
    node0 = _config(tmp_path, "node0")["network_zenoh"]
    assert [(p["domain"], p["port"]) for p in node0["peers"]] == [
        (f"{CHAIN}-node1", 40000),
        (f"{CHAIN}-node2", 40000),
        (f"{CHAIN}-node3", 40003),
        (f"{CHAIN}-node4", 40000),
    ]
    node3 = _config(tmp_path, "node3")["network_zenoh"]
    assert (node3["port"], node3["grpc_port"]) == (40003, 50300)
    assert [p["domain"] for p in node3["peers"]] == ["8.8.8.8", "8.8.8.8", "8.8.8.8", "9.9.9.9"]
    assert not (tmp_path / f"{CHAIN}-node0" / "ca_cert" / "key.pem").exists()
    # Then update-yaml on node0 gives the §6.4 external resources.
    upd = cli(
        "update-yaml", "--config-dir", str(tmp_path), "--domain", "node0", "--storage-class", "nfs-client"
    )
    assert upd.code == 0, upd.err
    yamls = tmp_path / f"{CHAIN}-node0" / "yamls"
    external = sorted(p.name for p in yamls.glob("*-external-*"))
    assert external == [
        "node2-external-svc.yaml",
        "node3-external-svc.yaml",
        "node4-external-endpointslice.yaml",
        "node4-external-svc.yaml",
    ]
    assert yaml.safe_load((yamls / "node2-external-svc.yaml").read_text())["spec"]["externalName"] == (
        f"{CHAIN}-node2.cita.svc.cluster.local"
    )
    assert (
        yaml.safe_load((yamls / "node3-external-svc.yaml").read_text())["spec"]["externalName"]
        == "rivtower.com"
    )


def test_create_refuses_bad_port_offsets_and_writes_nothing(cli, tmp_path: Path) -> None:
    for nodelist, needle in [
        ("1.1.1.1:40100:a", "node a (port 40100, not k8s) would get service ports"),
        ("h:40050:c,h:39950:d", "node d would use port 55000 on h, as c does"),
        ("1.1.1.1:40000:a:k8s,bad", "--nodelist"),
    ]:
        result = _create(cli, tmp_path, nodelist)
        assert result.code == 2 and result.err.startswith("error: --nodelist: ") and needle in result.err, (
            result.err
        )
        assert snapshot(tmp_path) == {} and not list(tmp_path.iterdir())
    result = _create(cli, tmp_path, "1.1.1.1:40000:a:k8s", "--log-level", "warning")
    assert result.code == 2 and result.err.startswith("error: --log-level: ")
    assert not list(tmp_path.iterdir())


def test_append_at_finalize_refreshes_old_nodes(cli, tmp_path: Path) -> None:
    assert _create(cli, tmp_path, "1.1.1.1:40000:a:k8s,2.2.2.2:40000:b:k8s").code == 0
    result = cli("append", "--config-dir", str(tmp_path), "--node", "3.3.3.3:40000:c:other")
    assert result.code == 0, result.err
    assert result.out.startswith("c: node_address: ")
    assert "c is not a validator" in result.err
    assert "no cluster" not in result.err  # c is in cluster `other`
    assert result.err.endswith("append: node c added; the other nodes re-rendered\n")
    chain = _chain(tmp_path)
    assert [n["domain"] for n in chain["node_network_address_list"]] == ["a", "b", "c"]
    assert len(chain["system_config"]["validators"]) == 2
    assert _config(tmp_path, "a")["network_zenoh"]["peers"][-1]["domain"] == f"{CHAIN}-c"
    assert len(_config(tmp_path, "c")["network_zenoh"]["peers"]) == 2


def test_append_while_public_makes_a_validator(cli, tmp_path: Path) -> None:
    assert _create(cli, tmp_path, "1.1.1.1:40000:a:k8s").code == 0
    assert cli("set-stage", "--config-dir", str(tmp_path), "--stage", "public", "--force").code == 0
    result = cli("append", "--config-dir", str(tmp_path), "--node", "2.2.2.2:40000:b:k8s")
    assert result.code == 0, result.err
    validator = result.out.split("validator_address: ")[1].strip()
    assert _chain(tmp_path)["system_config"]["validators"][-1] == validator


def test_append_refuses_a_colliding_offset_and_writes_nothing(cli, tmp_path: Path) -> None:
    assert _create(cli, tmp_path, "h:40050:a").code == 0
    before = snapshot(tmp_path)
    result = cli("append", "--config-dir", str(tmp_path), "--node", "h:39950:b")
    assert result.code == 2 and "--node: node b would use port 55000 on h, as a does" in result.err
    assert snapshot(tmp_path) == before


def test_delete_after_finalize_keeps_validators_and_names_the_on_chain_step(cli, tmp_path: Path) -> None:
    result = _create(cli, tmp_path, "1.1.1.1:40000:a:k8s,2.2.2.2:40000:b:k8s,3.3.3.3:40000:c:k8s")
    assert result.code == 0
    _, _, address_b, _, validator_b = result.out.splitlines()[1].split()
    validators = _chain(tmp_path)["system_config"]["validators"]
    deleted = cli("delete", "--config-dir", str(tmp_path), "--domain", "b")
    assert deleted.code == 0, deleted.err
    # As cloud-config 6.7.4: the genesis validators stay; the admin changes them on chain.
    rest = " ".join(v for v in validators if v != validator_b)
    assert "next: b's validator stays in system_config.validators" in deleted.err
    assert f"cldi admin update-validators {rest}\n" in deleted.err
    chain = _chain(tmp_path)
    assert [n["domain"] for n in chain["node_network_address_list"]] == ["a", "c"]
    assert chain["system_config"]["validators"] == validators
    assert not (tmp_path / f"{CHAIN}-b").exists()
    assert not (tmp_path / CHAIN / "accounts" / address_b).exists()
    assert not (tmp_path / CHAIN / "certs" / "b").exists()
    assert [p["domain"] for p in _config(tmp_path, "a")["network_zenoh"]["peers"]] == [f"{CHAIN}-c"]
    before = snapshot(tmp_path)
    again = cli("delete", "--config-dir", str(tmp_path), "--domain", "b")
    assert again.code == 1 and again.err.startswith("error: --domain: 'b' is not in the node list")
    assert snapshot(tmp_path) == before


def test_delete_while_public_drops_the_validator(cli, tmp_path: Path) -> None:
    assert _create(cli, tmp_path, "1.1.1.1:40000:a:k8s,2.2.2.2:40000:b:k8s").code == 0
    assert cli("set-stage", "--config-dir", str(tmp_path), "--stage", "public", "--force").code == 0
    validator_b = _chain(tmp_path)["system_config"]["validators"][1]
    deleted = cli("delete", "--config-dir", str(tmp_path), "--domain", "b")
    assert deleted.code == 0 and "next:" not in deleted.err
    assert validator_b not in _chain(tmp_path)["system_config"]["validators"]


def test_delete_chain_removes_every_node_folder(cli, tmp_path: Path) -> None:
    assert _create(cli, tmp_path, "1.1.1.1:40000:a:k8s,rivtower.com:40003:b").code == 0
    (tmp_path / f"{CHAIN}-b").rename(tmp_path / "moved")
    assert cli("delete-chain", "--config-dir", str(tmp_path)).code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["moved"]


def _everything(root: Path) -> dict[str, tuple[bytes | None, int]]:
    """Every file and folder under `root` (hidden ones too) with its bytes and mode."""
    return {
        p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None, p.stat().st_mode)
        for p in sorted(root.rglob("*"))
    }


def _append(cli, tmp_path: Path, node: str = "3.3.3.3:40000:c:k8s"):
    return cli("append", "--config-dir", str(tmp_path), "--node", node)


def test_append_without_the_ca_key_changes_nothing(cli, tmp_path: Path) -> None:
    assert _create(cli, tmp_path, "1.1.1.1:40000:a:k8s").code == 0
    (tmp_path / CHAIN / "ca_cert" / "key.pem").unlink()
    before = _everything(tmp_path)
    result = _append(cli, tmp_path)
    assert result.code == 1 and result.err.count("\n") == 1
    assert result.err.startswith("error: ") and "key.pem does not exist" in result.err
    assert _everything(tmp_path) == before


def test_append_with_a_ca_key_of_another_ca_changes_nothing(cli, tmp_path: Path) -> None:
    from cloud_config.crypto import pki

    assert _create(cli, tmp_path, "1.1.1.1:40000:a:k8s").code == 0
    (tmp_path / CHAIN / "ca_cert" / "key.pem").write_text(pki.create_ca()[1])
    before = _everything(tmp_path)
    result = _append(cli, tmp_path)
    assert result.code == 1 and result.err.count("\n") == 1
    assert result.err.startswith(f"error: {tmp_path / CHAIN / 'ca_cert'}: ")
    assert _everything(tmp_path) == before


def test_append_at_init_or_onto_a_left_cert_folder_changes_nothing(cli, tmp_path: Path) -> None:
    assert _create(cli, tmp_path, "1.1.1.1:40000:a:k8s").code == 0
    (tmp_path / CHAIN / "certs" / "c").mkdir()
    before = _everything(tmp_path)
    result = _append(cli, tmp_path)
    assert result.code == 1 and result.err.count("\n") == 1
    assert (
        result.err
        == f"error: {tmp_path / CHAIN / 'certs' / 'c'} already exists; remove it first to append node c\n"
    )
    assert _everything(tmp_path) == before
    assert cli("set-stage", "--config-dir", str(tmp_path), "--stage", "init", "--force").code == 0
    before = _everything(tmp_path)
    result = _append(cli, tmp_path, "3.3.3.3:40000:d:k8s")
    assert (
        result.code == 1
        and result.err == "error: append-node needs stage Public or Finalize, but the chain is at Init\n"
    )
    assert _everything(tmp_path) == before


def test_append_undoes_its_writes_when_a_later_step_fails(cli, tmp_path: Path) -> None:
    """The account and the chain edit are written, then the CSR cannot be: certs/ is not a folder."""
    assert _create(cli, tmp_path, "1.1.1.1:40000:a:k8s").code == 0
    certs = tmp_path / CHAIN / "certs"
    certs.rename(tmp_path / "certs-aside")
    certs.write_text("not a folder\n")
    before = _everything(tmp_path)
    result = _append(cli, tmp_path)
    assert result.code == 1 and result.err.count("\n") == 1 and result.err.startswith("error: ")
    assert result.out == ""
    assert _everything(tmp_path) == before  # no account, no chain edit, no node folder, no leftovers
    certs.unlink()
    (tmp_path / "certs-aside").rename(certs)
    assert _append(cli, tmp_path).code == 0  # and the same append works once the folder is back
