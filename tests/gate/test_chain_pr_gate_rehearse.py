"""The optional rehearsal job of the PR gate definitions, its shell run for real on the walkthrough chain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.gate.test_chain_pr_gate import PIPELINES, bash, open_pr
from tests.support.gate_corpus import ChainRepo

pytestmark = pytest.mark.slow  # QUIC listeners on loopback


def test_github_rehearse_job_is_optional_and_passes_a_good_pr(chain: ChainRepo, tmp_path: Path) -> None:
    workflow: dict[str, Any] = yaml.safe_load((PIPELINES / "chain-pr-gate.github-actions.yml").read_text())
    job = workflow["jobs"]["rehearse"]
    assert job["continue-on-error"] is True
    step = next(s for s in job["steps"] if s.get("id") == "rehearse")
    open_pr(chain, good=True)  # node4 joins; without a certificate it could not start (say so)
    proc = bash(
        step["run"],
        chain.repo,
        {**workflow["env"], "BASE_REF": "master", "GITHUB_STEP_SUMMARY": "/dev/null"},
        tmp_path,
    )
    assert proc.returncode == 1 and "node4 has no certificate" in proc.stdout
    chain.run("create-csr", "--domain", "node4")
    chain.run("sign-csr", "--domain", "node4")
    chain.commit("node4's certificate", "admin")
    summary = tmp_path / "summary"
    env = {**workflow["env"], "BASE_REF": "master", "GITHUB_STEP_SUMMARY": str(summary)}
    proc = bash(step["run"], chain.repo, env, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "rehearse: passed: 20/20 pair(s) OK" in proc.stdout  # node0-node4, all k8s
    assert "### cloud-config rehearse" in summary.read_text()


def test_gitlab_rehearse_job_fails_on_a_foreign_ca_certificate(chain: ChainRepo, tmp_path: Path) -> None:
    config: dict[str, Any] = yaml.safe_load((PIPELINES / "chain-pr-gate.gitlab-ci.yml").read_text())
    job = config["chain-rehearse"]
    assert job["allow_failure"] is True
    open_pr(chain, good=True)
    chain.sign_with_own_ca("node1")
    chain.commit("node1 signs its own certificate", "admin")
    script = job["script"]
    start = next(i for i, item in enumerate(script) if item.startswith("ws="))
    env = {**config["variables"], "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "master"}
    proc = bash("\n".join(script[start:]), chain.repo, env, tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "(node1): unknown CA" in proc.stdout
