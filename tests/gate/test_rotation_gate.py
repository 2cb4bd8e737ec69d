"""The PR gate on CA rotations: each phase of `rotate-ca` passes as its own PR, anything else fails."""

from __future__ import annotations

import pytest

from cloud_config.crypto import pki
from tests.support.gate_corpus import CHAIN, ChainRepo, Cli, assert_fails_with, verify_json


def test_each_phase_passes_the_gate_as_its_own_pr(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    for tag, flag in (("rot-begin", "--begin"), ("rot-reissue", "--reissue"), ("rot-finish", "--finish")):
        base = chain.git("describe", "--tags", "--abbrev=0")
        chain.output("rotate-ca", flag)
        chain.commit(tag, "admin")
        code, report = verify_json(cli, chain, base)
        assert code == 0, report
        assert not {f["rule"] for f in report["findings"] if f["severity"] == "error"}
        chain.git("tag", tag)
    assert (chain.repo / "ca_cert" / "cert.pem").read_text().count("BEGIN CERTIFICATE") == 1


@pytest.mark.parametrize(
    ("commands", "reason"),
    [
        ((("create-ca", "--force"),), "not a phase of rotate-ca"),  # a CA replaced outside the phases
        ((("rotate-ca", "--begin"), ("rotate-ca", "--reissue")), "reissue in the next PR"),  # two at once
    ],
)
def test_a_ca_change_that_is_not_one_phase_fails(
    cli: Cli, chain: ChainRepo, commands: tuple[tuple[str, ...], ...], reason: str
) -> None:
    chain.pr("certs")
    for command in commands:
        chain.output(*command)
    chain.commit("CA change", "admin")
    report = assert_fails_with(cli, chain, "certs", "ca-changed")
    assert any(reason in f["message"] for f in report["findings"])


def test_finish_right_after_begin_fails_the_gate(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    chain.output("rotate-ca", "--begin")
    chain.commit("begin", "admin")
    chain.git("tag", "rot-begin")
    bundle = (chain.repo / "ca_cert" / "cert.pem").read_text()
    (chain.repo / "ca_cert" / "cert.pem").write_text(pki.split_bundle(bundle)[1])  # by hand: the CLI refuses
    chain.commit("finish too early", "admin")
    report = assert_fails_with(cli, chain, "rot-begin", "ca-changed")
    assert any("rotate-ca --reissue first" in f["message"] for f in report["findings"])
    assert "cert-not-from-ca" in {f["rule"] for f in report["findings"]}


def test_a_certificate_of_the_old_ca_during_the_rotation_fails(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    old_key = (chain.repo / "ca_cert" / "key.pem").read_text()
    old_ca = (chain.repo / "ca_cert" / "cert.pem").read_text()
    chain.output("rotate-ca", "--begin")
    chain.commit("begin", "admin")
    chain.git("tag", "rot-begin")
    csr = (chain.repo / "certs" / "node0" / "csr.pem").read_text()
    # a new signature of the old CA (its key kept by someone), not the new CA's
    (chain.repo / "certs" / "node0" / "cert.pem").write_text(
        pki.sign_csr(old_ca, old_key, csr, f"{CHAIN}-node0", pki.host_names(csr)[1:])
    )
    chain.commit("node0 re-signed by the old CA", "admin")
    assert_fails_with(cli, chain, "rot-begin", "ca-rotation")
