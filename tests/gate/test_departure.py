"""member leave through the real CLI, judged by the real gate (`departure-incomplete`, `departed-cert`)."""

from __future__ import annotations

import tomllib

from cloud_config.model.paths import ChainLayout
from tests.support.gate_corpus import CHAIN, ChainRepo, Cli, assert_fails_with, verify_json


def _leave(cli: Cli, chain: ChainRepo, name: str) -> tuple[int, str, str]:
    result = cli(
        "member", "leave", "--name", name, "--chain-name", CHAIN, "--config-dir", str(chain.workspace)
    )
    return result.code, result.out, result.err


def test_member_leave_is_one_pr_that_passes_the_gate(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    genesis_before = tomllib.loads((chain.repo / "chain_config.toml").read_text())
    code, _, err = _leave(cli, chain, "p2")
    assert code == 0, err
    config = tomllib.loads((chain.repo / "chain_config.toml").read_text())
    assert [n["domain"] for n in config["node_network_address_list"]] == ["node0", "node1"]
    assert not (chain.repo / "certs" / "node2").exists() and not (chain.repo / "certs" / "node3").exists()
    members = tomllib.loads((chain.repo / "members.toml").read_text())
    assert [m["name"] for m in members["member"]] == ["admin", "p1"]
    # After Finalize the genesis and validators stay; the on-chain step is printed per validator.
    assert config["system_config"] == genesis_before["system_config"]
    assert config["genesis_block"] == genesis_before["genesis_block"]
    steps = [line for line in err.splitlines() if line.startswith("next: ")]
    assert len(steps) == 2, err
    for domain in ("node2", "node3"):
        assert any(chain.validators[domain] in s and "cldi admin update-validators" in s for s in steps)
    rest = [chain.validators[d] for d in ("node0", "node1")]
    assert all(s.endswith("update-validators " + " ".join(rest)) for s in steps), steps
    chain.commit("p2 leaves", "admin")
    code, report = verify_json(cli, chain, "certs")
    assert code == 0, report


def test_a_partial_departure_fails_departure_incomplete(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    chain.run("member", "remove", "--name", "p2")
    chain.commit("p2 removed, nothing else", "admin")
    report = assert_fails_with(cli, chain, "certs", "departure-incomplete")
    where = {(f["path"], f["field"]) for f in report["findings"] if f["rule"] == "departure-incomplete"}
    assert where == {
        ("chain_config.toml", "node_network_address_list"),
        ("certs/node2/csr.pem", ""),
        ("certs/node2/cert.pem", ""),
        ("certs/node3/csr.pem", ""),
        ("certs/node3/cert.pem", ""),
    }


def test_a_node_deleted_with_its_certificate_left_fails_departed_cert(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    chain.run("delete-node", "--domain", "node3")
    chain.commit("node3 out of the list only", "admin")
    report = assert_fails_with(cli, chain, "certs", "departed-cert")
    assert {f["path"] for f in report["findings"] if f["rule"] == "departed-cert"} == {"certs/node3/cert.pem"}


def test_member_leave_of_no_such_member_changes_nothing(cli: Cli, chain: ChainRepo) -> None:
    before = {p: p.read_bytes() for p in chain.repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    code, out, err = _leave(cli, chain, "nobody")
    assert code != 0 and out == ""
    assert err.startswith("error: ") and "nobody" in err and "admin, p1, p2" in err, err
    after = {p: p.read_bytes() for p in chain.repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert after == before


def test_member_leave_before_finalize_removes_the_validators(cli: Cli, tmp_path) -> None:
    ws = ("--chain-name", "c", "--config-dir", str(tmp_path))
    assert cli("init-chain", *ws).code == 0
    assert cli("init-chain-config", *ws).code == 0
    assert cli("set-admin", "--admin", cli("new-account", *ws).out.split()[1], *ws).code == 0  # stage Public
    validators = []
    for i, name in enumerate(("p1", "p2", "p3", "p4")):
        new = cli("new-account", *ws)
        validator = new.out.split()[3]
        validators.append(validator)
        assert (
            cli("member", "add", "--name", name, "--validator", validator, "--domain", f"n{i}", *ws).code == 0
        )
        assert cli("append-validator", "--validator", validator, *ws).code == 0
    left = cli("member", "leave", "--name", "p3", *ws)
    assert left.code == 0, left.err
    assert "next:" not in left.err
    layout = ChainLayout(tmp_path, "c")
    config = tomllib.loads(layout.chain_config.read_text())
    assert [v.lower() for v in config["system_config"]["validators"]] == [
        v.lower().removeprefix("0x") for v in (validators[0], validators[1], validators[3])
    ]
