"""`[policy.approvals]` in members.toml: values, what they require, errors, and edits that keep it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud_config.errors import ConfigError
from cloud_config.model.members import Members
from cloud_config.model.policy import Threshold
from cloud_config.model.schema import UnknownFieldError
from tests.support.gate_corpus import CHAIN, Cli

THREE = "".join(
    f'[[member]]\nname = "{name}"\nrole = "{role}"\n\n'
    for name, role in (("a", "admin"), ("b", "member"), ("c", "admin"))
)


def loads(policy: str) -> Members:
    return Members.loads(f"{THREE}[policy.approvals]\n{policy}\n", "members.toml")


@pytest.mark.parametrize(
    ("value", "required", "words"),
    [
        ("2", 2, "2 of 3 members"),
        ('"1/2"', 2, "1/2 of 3 members (2)"),
        ('"2/3"', 2, "2/3 of 3 members (2)"),
        ('"3/3"', 3, "3/3 of 3 members (3)"),
        ('"1/3"', 1, "1/3 of 3 members (1)"),
        ('"admins"', 2, "every admin (2)"),
    ],
)
def test_what_a_threshold_requires(value: str, required: int, words: str) -> None:
    members = loads(f"validator = {value}")
    threshold = members.policy.approvals["validator"]
    assert threshold.required(3, 2) == required and threshold.describe(3, 2) == words
    assert threshold.eligible(members.names, members.admins) == (
        ["a", "c"] if threshold.is_admins else ["a", "b", "c"]
    )


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("validator = 0", "policy.approvals.validator: a count of members must be 1-10000, got 0"),
        ("validator = true", "policy.approvals.validator: must be a count (2), a fraction"),
        ('validator = "3/2"', "policy.approvals.validator: a fraction 'k/n' needs 1 <= k <= n, got '3/2'"),
        (
            'validator = "most"',
            """policy.approvals.validator: must be a count (2), a fraction ("2/3") or "admins", got 'most'""",
        ),
        ("validators = 2", "policy.approvals.validators: unknown field (known here: ca, cert, csr, members"),
        ("validator = 4", "policy.approvals.validator: needs 4 members but the file lists 3"),
    ],
)
def test_bad_policies_name_the_field(policy: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        loads(policy)
    assert str(caught.value).startswith(f"members.toml: {message}")


def test_policy_keys_other_than_approvals_are_refused() -> None:
    with pytest.raises(
        UnknownFieldError, match=r"members.toml: policy.quorum: unknown field \(known here: approvals\)"
    ):
        Members.loads(f"{THREE}[policy]\nquorum = 2\n", "members.toml")


def test_admins_needs_an_admin() -> None:
    with pytest.raises(ConfigError, match='"admins" needs at least one member with role = "admin"'):
        Members.loads('[[member]]\nname = "b"\nrole = "member"\n\n[policy.approvals]\nca = "admins"\n', "m")


def test_no_policy_writes_no_table() -> None:
    assert "policy" not in Members.loads(THREE, "members.toml").dumps()
    assert Threshold.parse(" 2 / 3 ") == Threshold("2/3")


def _member(cli: Cli, folder: Path, *args: str) -> tuple[int, str]:
    result = cli("member", *args, "--chain-name", CHAIN, "--config-dir", str(folder))
    return result.code, "" if result.code == 0 else result.err  # a success's summary line aside


def test_member_edits_keep_the_policy_and_refuse_to_break_it(cli: Cli, tmp_path: Path) -> None:
    assert cli("init-chain", "--chain-name", CHAIN, "--config-dir", str(tmp_path)).code == 0
    for name in ("a", "b", "c"):
        assert _member(cli, tmp_path, "add", "--name", name) == (0, "")
    path = tmp_path / CHAIN / "members.toml"
    path.write_text(path.read_text() + "\n[policy.approvals]\nvalidator = 3 # all of us\n")
    assert _member(cli, tmp_path, "add", "--name", "d", "--role", "admin") == (0, "")
    assert path.read_text().endswith("\n[policy.approvals]\nvalidator = 3 # all of us\n")
    before = path.read_text()
    assert _member(cli, tmp_path, "remove", "--name", "a") == (0, "")  # 3 of 3 left: still possible
    assert _member(cli, tmp_path, "remove", "--name", "b") == (
        1,
        "error: members.toml: policy.approvals.validator: needs 3 members but the file lists 2\n",
    )
    assert path.read_text() != before and 'name = "b"' in path.read_text()  # b was not removed
    path.write_text(path.read_text().replace("validator = 3", 'validator = "all"'))
    code, err = _member(cli, tmp_path, "list")
    assert code == 1 and err.startswith(f"error: {path}: policy.approvals.validator: must be a count")
