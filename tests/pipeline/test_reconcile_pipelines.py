"""The CI definitions under pipelines/ call `cloud-config` with flags it really has.

The node pipelines (Jenkinsfile, github-actions.yml, gitlab-ci.yml) call `reconcile`; the chain
repo's PR gates (chain-pr-gate.*.yml) call `verify` and `diff`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"
GATES = ["chain-pr-gate.github-actions.yml", "chain-pr-gate.gitlab-ci.yml"]


def load_text(name: str) -> str:
    """The file's text; for YAML (which must be valid) every string in it, one after another, as
    the CI runs them (folded scalars joined, literal blocks with their lines)."""
    text = (PIPELINES / name).read_text()
    return "\n".join(_strings(yaml.safe_load(text))) if name.endswith(".yml") else text


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    items = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    return [s for item in items for s in _strings(item)]


def command_flags(text: str, verb: str) -> set[str]:
    """Every flag given to `cloud-config VERB` in the text (shell line continuations joined)."""
    joined = re.sub(r"\\\s*\n\s*", " ", text)
    calls = [m.group(1) for m in re.finditer(rf"cloud-config\"? {verb}([^\n']*)", joined)]
    assert calls, f"no `cloud-config {verb}` call"
    return {flag for call in calls for flag in re.findall(r"(--[a-z-]+)", call)}


def known_flags(cli: Any, verb: str) -> set[str]:
    """The flags `cloud-config VERB --help` lists."""
    return set(re.findall(r"(--[a-z-]+)", cli(verb, "--help").out))


@pytest.mark.parametrize("name", ["Jenkinsfile", "github-actions.yml", "gitlab-ci.yml"])
def test_pipeline_calls_reconcile_with_known_flags(cli, name: str) -> None:
    flags = command_flags(load_text(name), "reconcile")
    known = known_flags(cli, "reconcile")
    assert flags <= known, flags - known
    assert {"--chain-repo", "--node-repo", "--domain", "--workdir", "--trust-root"} <= flags


@pytest.mark.parametrize("name", GATES)
def test_pr_gate_calls_verify_and_diff_with_known_flags(cli, name: str) -> None:
    text = load_text(name)
    for verb in ("verify", "diff"):
        flags = command_flags(text, verb)
        known = known_flags(cli, verb)
        assert flags <= known, (verb, flags - known)
        assert {"--base", "--head", "--format"} <= flags, (verb, flags)
        calls = re.findall(rf"cloud-config {verb} [^\n']*", text)
        assert all("--format markdown" in call and "--head HEAD" in call for call in calls), calls
        assert all(re.search(r'--base "origin/\$\w+"', call) for call in calls), calls


def test_github_pr_gate_runs_on_pull_requests_with_full_history() -> None:
    workflow = yaml.safe_load((PIPELINES / GATES[0]).read_text())
    assert "pull_request" in workflow[True]  # YAML 1.1 reads the key `on` as True
    assert workflow["permissions"]["pull-requests"] == "write"
    steps = workflow["jobs"]["verify"]["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0
    assert checkout["with"]["ref"] == "${{ github.event.pull_request.head.sha }}"
    assert any("gh api" in s.get("run", "") and "comments" in s.get("run", "") for s in steps)
    assert steps[-1]["if"] == "steps.gate.outputs.status == '1'" and "exit 1" in steps[-1]["run"]


def test_gitlab_pr_gate_runs_in_merge_request_pipelines_with_full_history() -> None:
    config = yaml.safe_load((PIPELINES / GATES[1]).read_text())
    assert config["variables"]["GIT_DEPTH"] == "0"
    job = config["chain-pr-gate"]
    assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    script = "\n".join(job["script"])
    assert "/merge_requests/" in script and "/notes" in script
    assert 'if [ "$status" -eq 1 ]' in job["script"][-1] and "exit 1" in job["script"][-1]


@pytest.mark.parametrize("name", ["Jenkinsfile", "github-actions.yml", "gitlab-ci.yml", *GATES])
def test_pipelines_install_from_the_repository_and_tag(name: str) -> None:
    """Every CI definition installs this project from its repository at a tag set at the top (our
    version), never `cloud-config==6.7.4`, a name the package index does not have."""
    import cloud_config

    text = (PIPELINES / name).read_text()
    assert "cloud-config==" not in text
    repo = re.search(r"CLOUD_CONFIG_REPO\s*[:=]\s*'?(\S+?)'?\n", text)
    ref = re.search(r"CLOUD_CONFIG_REF\s*[:=]\s*'?(\S+?)'?\n", text)
    assert repo and repo.group(1).endswith(".git") and ref and ref.group(1) == f"v{cloud_config.__version__}"
    install = re.compile(r'pip"? install -q "git\+\$\{?CLOUD_CONFIG_REPO\}?@\$\{?CLOUD_CONFIG_REF\}?"')
    installs = list(install.finditer(text))
    assert installs and text.index("CLOUD_CONFIG_REPO") < installs[0].start()  # set at the top
    assert len(installs) == len(re.findall(r'pip"? install', text)), text  # every job installs so
