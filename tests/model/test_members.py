"""`cloud-config member add|remove|list` and the members.toml model."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cloud_config.errors import ConfigError
from cloud_config.model.members import Members, key_fingerprint
from tests.support.cli import Result
from tests.support.gate_corpus import CHAIN, Cli, make_people

BLS = "ab" * 48


@pytest.fixture
def workspace(cli: Cli, tmp_path: Path) -> Path:
    assert cli("init-chain", "--chain-name", CHAIN, "--config-dir", str(tmp_path)).code == 0
    return tmp_path


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    people = make_people(tmp_path_factory.mktemp("keys"), ("alice", "bob"))
    return {name: person.public for name, person in people.items()}


def member(cli: Cli, workspace: Path, *args: str) -> Result:
    return cli("member", *args, "--chain-name", CHAIN, "--config-dir", str(workspace))


def members_text(workspace: Path) -> str:
    return (workspace / CHAIN / "members.toml").read_text()


def test_add_writes_the_canonical_layout(cli: Cli, workspace: Path, keys: dict[str, str]) -> None:
    result = member(cli, workspace, "add", "--name", "alice", "--role", "admin", "--ssh-key", keys["alice"])
    assert result.code == 0 and result.out == "" and result.err == "member add: alice\n"
    assert members_text(workspace) == (
        '[[member]]\ndomains = []\nname = "alice"\nrole = "admin"\n'
        f'ssh_keys = ["{keys["alice"]}"]\nvalidators = []\n\n'
    )


def test_add_again_extends_and_keeps_comments(cli: Cli, workspace: Path, keys: dict[str, str]) -> None:
    member(cli, workspace, "add", "--name", "alice", "--role", "admin", "--ssh-key", keys["alice"])
    member(cli, workspace, "add", "--name", "bob", "--ssh-key", keys["bob"], "--domain", "node0")
    path = workspace / CHAIN / "members.toml"
    path.write_text("# who may sign changes to this chain\n" + path.read_text())
    result = member(
        cli, workspace, "add", "--name", "bob", "--domain", "node1", "--validator", "0x" + BLS.upper()
    )
    assert result.code == 0
    text = members_text(workspace)
    assert text.startswith("# who may sign changes to this chain\n[[member]]\n")
    bob = Members.loads(text, "members.toml").get("bob")
    assert bob is not None and bob.domains == ["node0", "node1"] and bob.validators == [BLS]
    assert bob.ssh_keys == [keys["bob"]] and bob.role == "member"
    member(cli, workspace, "add", "--name", "alice", "--domain", "node9")
    alice = Members.loads(members_text(workspace), "members.toml").get("alice")
    assert alice is not None and alice.role == "admin" and alice.domains == ["node9"]
    member(cli, workspace, "add", "--name", "alice", "--role", "member")
    alice = Members.loads(members_text(workspace), "members.toml").get("alice")
    assert alice is not None and alice.role == "member"


def test_list_shows_git_fingerprints(cli: Cli, workspace: Path, keys: dict[str, str], tmp_path: Path) -> None:
    member(cli, workspace, "add", "--name", "alice", "--role", "admin", "--ssh-key", keys["alice"])
    member(cli, workspace, "add", "--name", "bob", "--ssh-key", keys["bob"], "--domain", "node0")
    result = member(cli, workspace, "list")
    pub = tmp_path / "bob.pub"
    pub.write_text(keys["bob"] + "\n")
    expected = subprocess.run(["ssh-keygen", "-lf", str(pub)], capture_output=True, text=True, check=True)
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0].startswith("alice\tadmin\tnodes: -\t")
    assert lines[1] == f"bob\tmember\tnodes: node0\tvalidators: 0\tkeys: {expected.stdout.split()[1]}"


def test_remove(cli: Cli, workspace: Path, keys: dict[str, str]) -> None:
    member(cli, workspace, "add", "--name", "alice", "--role", "admin", "--ssh-key", keys["alice"])
    member(cli, workspace, "add", "--name", "bob", "--ssh-key", keys["bob"])
    assert member(cli, workspace, "remove", "--name", "bob").code == 0
    assert [m.name for m in Members.loads(members_text(workspace), "m").members] == ["alice"]
    result = member(cli, workspace, "remove", "--name", "carol")
    assert result.code == 1 and result.err == "error: --name: no member 'carol' (members: alice)\n"


def test_remove_some_items_rotates_a_key(cli: Cli, workspace: Path, keys: dict[str, str]) -> None:
    member(
        cli,
        workspace,
        "add",
        "--name",
        "bob",
        "--ssh-key",
        keys["bob"],
        "--domain",
        "node0",
        "--domain",
        "node1",
    )
    member(cli, workspace, "add", "--name", "bob", "--ssh-key", keys["alice"], "--validator", BLS)
    bob_key = " ".join(keys["bob"].split()[:2])  # the same key without its comment
    result = member(cli, workspace, "remove", "--name", "bob", "--ssh-key", bob_key, "--domain", "node1")
    assert result.code == 0, result.err
    bob = Members.loads(members_text(workspace), "m").get("bob")
    assert bob is not None and bob.ssh_keys == [keys["alice"]] and bob.domains == ["node0"]
    assert bob.validators == [BLS]
    result = member(cli, workspace, "remove", "--name", "bob", "--domain", "node7")
    assert result.code == 1 and result.err == "error: --domain: member 'bob' has no 'node7'\n"


def test_a_key_or_domain_belongs_to_one_member(cli: Cli, workspace: Path, keys: dict[str, str]) -> None:
    member(cli, workspace, "add", "--name", "alice", "--ssh-key", keys["alice"], "--domain", "node0")
    before = members_text(workspace)
    result = member(cli, workspace, "add", "--name", "bob", "--ssh-key", keys["alice"])
    assert result.code == 1 and result.err.startswith("error: members.toml: member[1].ssh_keys: ")
    result = member(cli, workspace, "add", "--name", "bob", "--domain", "node0")
    assert result.code == 1 and "'node0' is listed twice (first by 'alice')" in result.err
    assert members_text(workspace) == before


def test_bad_input_is_one_line(cli: Cli, workspace: Path, tmp_path: Path) -> None:
    result = member(cli, workspace, "add", "--name", "bob", "--ssh-key", "ssh-ed25519 not*base64")
    assert result.code == 1 and result.err == (
        "error: members.toml: member[0].ssh_keys[0]: the key's base64 part is not valid base64\n"
    )
    result = member(cli, workspace, "add", "--name", "bob bob")
    assert result.code == 1 and "member[0].name: must be 1-64 letters" in result.err
    result = member(cli, workspace, "add", "--name", "bob", "--role", "owner")
    assert result.code == 2 and "--role: invalid choice 'owner'" in result.err
    result = member(cli, workspace, "add", "--name", "bob", "--ssh-key-file", str(tmp_path / "none.pub"))
    assert result.code == 2 and result.err.startswith("error: --ssh-key-file: cannot read ")
    assert not (workspace / CHAIN / "members.toml").exists()


def test_missing_chain_folder(cli: Cli, tmp_path: Path) -> None:
    result = cli("member", "list", "--chain-name", CHAIN, "--config-dir", str(tmp_path))
    assert result.code == 1 and result.err.startswith(
        f"error: chain folder {tmp_path / CHAIN} does not exist"
    )


def test_fingerprint_matches_ssh_keygen(keys: dict[str, str], tmp_path: Path) -> None:
    pub = tmp_path / "k.pub"
    pub.write_text(keys["alice"])
    out = subprocess.run(["ssh-keygen", "-lf", str(pub)], capture_output=True, text=True, check=True).stdout
    assert key_fingerprint(keys["alice"]) == out.split()[1]


def test_loads_rejects_a_validator_owned_twice() -> None:
    text = (
        f'[[member]]\nname = "a"\nrole = "member"\nvalidators = ["{BLS}"]\n\n'
        f'[[member]]\nname = "b"\nrole = "member"\nvalidators = ["{BLS}"]\n'
    )
    with pytest.raises(ConfigError, match=r"member\[1\]\.validators: .* listed twice \(first by 'a'\)"):
        Members.loads(text, "members.toml")


def test_allowed_signers_names_each_key_by_its_member(keys: dict[str, str]) -> None:
    text = f'[[member]]\nname = "alice"\nrole = "admin"\nssh_keys = ["{keys["alice"]}"]\n'
    line = Members.loads(text, "m").allowed_signers()
    assert line == f'alice namespaces="git" {" ".join(keys["alice"].split()[:2])}\n'
