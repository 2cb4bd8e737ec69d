"""A pipeline key (members.toml `pipeline_keys`) signs status records only: a chain change signed
by one is refused (`pipeline-key-used`)."""

from __future__ import annotations

import pytest

from cloud_config.errors import ConfigError
from cloud_config.model.members import Members
from tests.support.gate_corpus import ChainRepo, Cli, assert_fails_with, verify_json


def _give_p1_a_pipeline_key(chain: ChainRepo) -> None:
    """An admin's merged change: p1's pipeline key is mallory's key (a key that lives in a cluster)."""
    members = chain.repo / "members.toml"
    text = members.read_text()
    line = next(li for li in text.splitlines() if chain.people["p1"].public.split()[1] in li)
    members.write_text(text.replace(line, f'{line}\npipeline_keys = ["{chain.people["mallory"].public}"]', 1))
    chain.commit("p1's pipeline key", "admin")
    chain.git("tag", "pipeline-key")


def test_chain_change_signed_by_a_pipeline_key_is_refused(cli: Cli, chain: ChainRepo) -> None:
    _give_p1_a_pipeline_key(chain)
    chain.pr("pipeline-key")
    chain.edit_config('host = "www.node0.com"', 'host = "10.0.0.10"')
    chain.commit("move node0", "mallory")
    report = assert_fails_with(cli, chain, "pipeline-key", "pipeline-key-used")
    found = [f for f in report["findings"] if f["rule"] == "pipeline-key-used"]
    assert "'p1'" in found[0]["message"] and "status records only" in found[0]["message"]
    assert not any(f["rule"] == "unknown-signer" for f in report["findings"])


def test_the_same_change_signed_by_the_members_own_key_passes(cli: Cli, chain: ChainRepo) -> None:
    _give_p1_a_pipeline_key(chain)
    chain.pr("pipeline-key")
    chain.edit_config('host = "www.node0.com"', 'host = "10.0.0.10"')
    chain.commit("move node0", "p1")
    code, report = verify_json(cli, chain, "pipeline-key")
    assert code == 0, report


def test_pipeline_keys_are_checked_like_ssh_keys() -> None:
    good = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPQmM/9PjonXcH129vHhNMQEIHSgHpNXn1QNuZmSCehh p1"
    text = f'[[member]]\nname = "p1"\nrole = "member"\nssh_keys = []\npipeline_keys = ["{good}"]\n'
    members = Members.loads(text, "members.toml")
    assert members.members[0].pipeline_keys == [good]
    assert 'p1 namespaces="git" ssh-ed25519' in members.allowed_signers(pipeline_keys=True)
    assert members.allowed_signers() == ""  # chain changes never count a pipeline key
    with pytest.raises(ConfigError, match=r"member\[0\]\.pipeline_keys\[0\]"):
        Members.loads(text.replace("AAAAC3", "!!!"), "members.toml")
    twice = text.replace("ssh_keys = []", f'ssh_keys = ["{good}"]')
    with pytest.raises(ConfigError, match="listed twice"):
        Members.loads(twice, "members.toml")
