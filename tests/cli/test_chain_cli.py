"""The chain-level verbs through the command line: the walkthrough's steps 1-5 and every refusal."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.support.cli import Result, run_process

DATA = Path(__file__).resolve().parents[1] / "data"
CHAIN = "gitops-test-chain"
ADMIN = "097913007f2c8d9ac87f89664fc70977fee6bf9a"
V1 = "965e7f200043a8ae543478330faf1c751f4c4d8040f93a7d0b8881085b8583bea6f7166ddc0c5bb9adff8563f7b3cbd2"
V2 = "a7f2102b16a6f4d5f3066ed54267b49408dc6e6e675bfd74c9c32900d11b0c453e19a1d6e1867cbd07de9dabb041de39"
RAFT_V = "ff8456931c10a9b02ec4a657ee05e724ecad9372"


@pytest.fixture
def chain(cli, tmp_path: Path):
    """Run a verb on the gitops-test-chain under tmp_path; returns (run, config path)."""

    def run(*args: str) -> Result:
        result: Result = cli(*args, "--chain-name", CHAIN, "--config-dir", str(tmp_path))
        return result

    return run, tmp_path / CHAIN / "chain_config.toml"


def walkthrough_1_to_5(run) -> None:
    """Steps 1-5 exactly as the walkthrough writes them (addresses chosen by us)."""
    assert run("init-chain").code == 0
    r = run(
        "init-chain-config",
        "--consensus_tag", "v6.4.0", "--controller_tag", "v6.4.0", "--executor_tag", "v6.4.0",
        "--kms_tag", "v6.4.0", "--network_tag", "v6.4.0", "--storage_tag", "v6.4.0",
    )  # fmt: skip
    assert r.code == 0, r.err
    assert "warning: --kms_tag is obsolete" in r.err
    assert run("set-admin", "--admin", ADMIN).code == 0
    assert run("append-validator", "--validator", V1).code == 0
    assert run("append-validator", "--validator", "0x" + V2).code == 0
    assert run("set-stage").code == 0
    assert run("append-node", "--node", "www.node0.com:40000:node0:k8s").code == 0
    assert run("append-node", "--node", "www.node1.com:40001:node1:k8s").code == 0


def test_walkthrough_steps_1_to_5_match_golden(chain) -> None:
    run, path = chain
    before = int(time.time() * 1000)
    walkthrough_1_to_5(run)
    text = path.read_text()
    stamp = int(re.search(r"^timestamp = (\d+)$", text, re.M).group(1))  # type: ignore[union-attr]
    assert before <= stamp <= int(time.time() * 1000)
    golden = (DATA / "walkthrough_steps_1_5.toml").read_text()
    assert text.replace(f"timestamp = {stamp}", "timestamp = 1709695109593") == golden


def test_init_chain_layout(chain, tmp_path: Path) -> None:
    run, _ = chain
    assert run("init-chain").code == 0
    root = tmp_path / CHAIN
    assert (root / ".gitignore").read_text() == "accounts/*/\nca_cert/key.pem\ncerts/*/key.pem\n"
    for sub in ("accounts", "ca_cert", "certs"):
        assert (root / sub / ".gitkeep").read_bytes() == b""
    again = run("init-chain")
    assert again.code == 1 and "already exists" in again.err


def test_default_chain_id_is_sm3_of_name(cli, tmp_path: Path) -> None:
    args = ("--config-dir", str(tmp_path))
    assert cli("init-chain", *args).code == 0
    assert cli("init-chain-config", *args, "--timestamp", "1709695109593").code == 0
    text = (tmp_path / "test-chain" / "chain_config.toml").read_text()
    assert 'chain_id = "63586a3c0255f337c77a777ff54f0040b8c388da04f23ecee6bfd4953a6512b4"' in text
    assert text.startswith('node_network_address_list = []\nstage = "Init"\n\n[[micro_service_list]]\n')
    assert text.endswith("validators = []\nversion = 0\n\n")


def test_version_and_help_through_a_real_process() -> None:
    assert run_process("--version").out == (
        "cloud-config 0.2.0 (cita-cloud-gitops; compatible with cloud-config 6.7.4)\n"
    )
    helped = run_process("--help")
    assert helped.code == 0 and "append-validator" in helped.out


# ---- refusals: one line, non-zero, the file unchanged ------------------------------------


def refused(result: Result, *words: str) -> None:
    assert result.code != 0, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert "Traceback" not in result.err


@pytest.fixture
def public_chain(chain):
    run, path = chain
    assert run("init-chain").code == 0
    assert run("init-chain-config", "--timestamp", "1").code == 0
    assert run("set-admin", "--admin", ADMIN).code == 0
    assert run("append-validator", "--validator", V1).code == 0
    return run, path


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("append-validator", "--validator", "zz" * 48), ("--validator", "hexadecimal")),
        (("append-validator", "--validator", RAFT_V), ("--validator", "96", "consensus_overlord")),
        (("append-validator", "--validator", V1), ("--validator", "already", V1)),
        (("append-validator", "--validator", "0X" + V1.upper()), ("already",)),
        (("set-validators", "--validators", f"{V1},{V2},{V1}"), ("validators[2]", "duplicate")),
        (("set-validators", "--validators", f"{V1},"), ("--validators",)),
        (("delete-validator", "--validator", V2), ("--validator", "not a validator")),
        (("set-admin", "--admin", ADMIN), ("set-admin", "Init", "Public")),
        (("append-node", "--node", "h:0:node0:k8s"), ("--node", "port")),
        (("append-node", "--node", "h:70000:node0"), ("--node", "port")),
        (("append-node", "--node", "h:40000:Node_0"), ("--node", "domain")),
        (("append-node", "--node", "h:40000:" + "n" * 50), ("domain", "gitops-test-chain-nnn", "63")),
        (("append-node", "--node", "h:40000"), ("--node", "host:port:domain")),
        (("append-node", "--node", "a b:40000:node0"), ("--node", "host")),
        (("set-nodelist", "--nodelist", "a:1:n0,b:2:n0"), ("domain", "duplicate", "a:1:n0")),
        (("set-nodelist", "--nodelist", "a:1:n0,a:1:n1"), ("a:1", "already used", "n0")),
        (("set-stage", "--stage", "Finalize"), ("--stage", "init, public or finalize")),
        (("set-stage", "--stage", "init"), ("--stage", "--force")),
        (("init-chain-config",), ("init-chain-config", "Init")),
        (("delete-node", "--domain", "nodex"), ("--domain", "nodex")),
    ],
)
def test_public_chain_refusals_leave_file_unchanged(public_chain, args, words) -> None:
    run, path = public_chain
    before = path.read_bytes()
    refused(run(*args), *words)
    assert path.read_bytes() == before


def test_duplicate_domain_and_endpoint_name_the_existing_entry(public_chain) -> None:
    run, path = public_chain
    assert run("append-node", "--node", "www.node0.com:40000:node0:k8s").code == 0
    before = path.read_bytes()
    refused(run("append-node", "--node", "other:41000:node0"), "node0", "www.node0.com:40000:node0:k8s")
    refused(run("append-node", "--node", "WWW.node0.com:40000:node9"), "already used", "node0")
    assert path.read_bytes() == before


def test_init_stage_refusals(chain) -> None:
    run, path = chain
    assert run("init-chain").code == 0
    assert run("init-chain-config").code == 0
    before = path.read_bytes()
    refused(run("append-validator", "--validator", V1), "append-validator", "Public", "Init")
    refused(run("append-node", "--node", "h:40000:node0"), "append-node", "Init")
    refused(run("set-admin", "--admin", "12"), "--admin", "40")
    refused(run("set-admin", "--admin", "g" * 40), "--admin", "hexadecimal")
    assert path.read_bytes() == before


def test_finalize_refuses_validator_changes(public_chain) -> None:
    run, path = public_chain
    assert run("set-stage").code == 0
    before = path.read_bytes()
    refused(run("append-validator", "--validator", V2), "Finalize")
    refused(run("delete-validator", "--validator", V1), "Finalize")
    refused(run("set-stage", "--stage", "public"), "--force")
    assert path.read_bytes() == before
    assert run("append-node", "--node", "h:40000:node0").code == 0


def test_stage_moves_back_only_with_force_and_reinit_needs_force(public_chain) -> None:
    run, path = public_chain
    assert run("set-stage", "--stage", "init", "--force").code == 0
    before = path.read_bytes()
    refused(run("init-chain-config"), "admin", "1 validator", "--force")
    assert path.read_bytes() == before
    assert run("init-chain-config", "--force").code == 0
    assert 'admin = ""' in path.read_text()


def test_admin_accepts_upper_0x_and_stores_lowercase(chain) -> None:
    run, path = chain
    assert run("init-chain").code == 0
    assert run("init-chain-config").code == 0
    assert run("set-admin", "--admin", "0X" + ADMIN.upper()).code == 0
    assert f'admin = "{ADMIN}"' in path.read_text()
    assert 'stage = "Public"' in path.read_text()


def test_raft_chain_takes_40_hex_validators(chain) -> None:
    run, path = chain
    assert run("init-chain").code == 0
    assert run("init-chain-config", "--consensus_image", "consensus_raft").code == 0
    assert run("set-admin", "--admin", ADMIN).code == 0
    before = path.read_bytes()
    refused(run("append-validator", "--validator", V1), "--validator", "40", "consensus_raft")
    assert path.read_bytes() == before
    assert run("append-validator", "--validator", RAFT_V).code == 0


def test_unknown_image_is_refused(chain) -> None:
    run, path = chain
    assert run("init-chain").code == 0
    refused(run("init-chain-config", "--consensus_image", "consensus_bft"), "consensus_bft", "image")
    assert not path.exists()


def test_delete_validator_with_0x(public_chain) -> None:
    run, path = public_chain
    assert run("delete-validator", "--validator", "0x" + V1.upper()).code == 0
    assert "validators = []" in path.read_text()


def test_ipv6_node_round_trips(public_chain) -> None:
    run, path = public_chain
    assert run("append-node", "--node", "[2001:db8::1]:40000:node5:k8s:cita").code == 0
    text = path.read_text()
    assert 'host = "2001:db8::1"' in text and 'name_space = "cita"' in text
    refused(run("append-node", "--node", "[nothex]:40000:node6"), "IPv6")


def test_bad_chain_names_are_refused(cli, tmp_path: Path) -> None:
    for name in ("Bad_Name", "x" * 64, "-lead"):
        refused(cli("init-chain", f"--chain-name={name}", "--config-dir", str(tmp_path)), "--chain-name")
    assert list(tmp_path.iterdir()) == []


def test_missing_chain_is_a_clear_error(cli, tmp_path: Path) -> None:
    refused(cli("set-admin", "--admin", ADMIN, "--config-dir", str(tmp_path)), "init-chain")
    assert cli("init-chain", "--config-dir", str(tmp_path)).code == 0
    refused(cli("set-admin", "--admin", ADMIN, "--config-dir", str(tmp_path)), "init-chain-config")


def test_usage_error_exits_2(cli) -> None:
    result = cli("set-admin")
    assert result.code == 2 and "--admin" in result.err


def test_delete_chain_without_node_folders(public_chain, tmp_path: Path) -> None:
    run, _ = public_chain
    assert run("append-node", "--node", "h:40000:node0").code == 0
    assert run("append-node", "--node", "h:40001:node1").code == 0
    (tmp_path / f"{CHAIN}-node1").mkdir()
    (tmp_path / "other-chain-node1").mkdir()
    assert run("delete-chain").code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other-chain-node1"]


def test_broken_file_names_file_and_field(public_chain) -> None:
    run, path = public_chain
    path.write_text(path.read_text().replace("block_limit = 100", 'block_limit = "many"'))
    refused(run("append-validator", "--validator", V2), "chain_config.toml", "system_config.block_limit")


REFERENCE_VERBS = [
    *("init-chain", "init-chain-config", "set-admin", "set-validators", "append-validator"),
    *("delete-validator", "set-nodelist", "append-node", "delete-node", "init-node", "update-node"),
    *("delete-chain", "new-account", "import-account", "create-ca", "create-csr", "sign-csr"),
    *("import-ca", "import-cert", "set-stage", "update-yaml", "create", "append", "delete"),
]


def test_help_lists_every_reference_verb(cli) -> None:
    helped = cli("--help")
    assert helped.code == 0
    commands = helped.out.split("commands:\n")[1].splitlines()
    listed = {line.split()[0] for line in commands if line.startswith("  ")}
    assert set(REFERENCE_VERBS) <= listed
    for verb in REFERENCE_VERBS:  # and each one parses its own --help
        assert cli(verb, "--help").code == 0, verb
