"""The chain repo's PR gate definitions (pipelines/chain-pr-gate.*.yml), their shell run for real.

The steps that need GitHub or GitLab (checkout, the comment API) are left out; the verify/diff
step and the blocking step run as the CI runs them (bash -eo pipefail) in a signed chain repo
with `cloud-config` on PATH and the target branch as origin/master.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.support.cli import SRC
from tests.support.gate_corpus import NODES, ChainRepo, Cli

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"


def bash(script: str, cwd: Path, env: dict[str, str], tmp: Path) -> subprocess.CompletedProcess[str]:
    """Run a CI step's script with bash -eo pipefail, `cloud-config` on PATH (this code)."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    tool = bin_dir / "cloud-config"
    tool.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m cloud_config "$@"\n')
    tool.chmod(0o755)
    full = {**os.environ, **env, "PYTHONPATH": str(SRC), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    argv = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script]
    return subprocess.run(argv, cwd=cwd, env=full, capture_output=True, text=True, timeout=120, check=False)


def open_pr(chain: ChainRepo, good: bool) -> None:
    """origin/master at the walkthrough's end; a PR branch on top: admin adds node4 (allowed) or
    p2 removes p1's node0 (not-owner)."""
    chain.git("update-ref", "refs/remotes/origin/master", "certs")
    chain.pr("certs")
    if good:
        chain.run("append-node", "--node", NODES["node4"])
    else:
        chain.run("delete-node", "--domain", "node0")
    chain.commit("the PR", "admin" if good else "p2")


def run_github(chain: ChainRepo, tmp: Path) -> tuple[subprocess.CompletedProcess[str], str, str, int]:
    """The workflow's gate step, then its blocking step when the gate says so; (gate step
    process, GITHUB_OUTPUT, gate.md, exit code of the blocking step or 0 when it is skipped)."""
    workflow: dict[str, Any] = yaml.safe_load((PIPELINES / "chain-pr-gate.github-actions.yml").read_text())
    steps = workflow["jobs"]["verify"]["steps"]
    gate = next(s for s in steps if s.get("id") == "gate")
    output, summary = tmp / "github-output", tmp / "step-summary"
    env = {
        **workflow["env"],
        "BASE_REF": "master",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    proc = bash(gate["run"], chain.repo, env, tmp)
    gate_md = (chain.repo / "gate.md").read_text()
    assert summary.read_text() == gate_md
    block = steps[-1]
    blocked = 0
    if block["if"] == "steps.gate.outputs.status == '1'" and "status=1\n" in output.read_text():
        blocked = bash(block["run"], chain.repo, {}, tmp).returncode
    return proc, output.read_text(), gate_md, blocked


def run_gitlab(chain: ChainRepo, tmp: Path) -> subprocess.CompletedProcess[str]:
    """The job's script from the verify/diff item on (one shell, as the runner does)."""
    config: dict[str, Any] = yaml.safe_load((PIPELINES / "chain-pr-gate.gitlab-ci.yml").read_text())
    script: list[str] = config["chain-pr-gate"]["script"]
    start = next(i for i, item in enumerate(script) if "cloud-config verify" in item)
    env = {**config["variables"], "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "master", "GATE_COMMENT_TOKEN": ""}
    return bash("\n".join(script[start:]), chain.repo, env, tmp)


def test_github_gate_passes_a_good_pr(chain: ChainRepo, tmp_path: Path) -> None:
    open_pr(chain, good=True)
    proc, output, gate_md, blocked = run_github(chain, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert output == "status=0\n" and blocked == 0
    assert gate_md.startswith("### :white_check_mark: cloud-config verify passed")
    assert "node4" in gate_md.split("cloud-config verify passed", 1)[1]  # the diff follows


def test_github_gate_blocks_a_member_changing_anothers_node(chain: ChainRepo, tmp_path: Path) -> None:
    open_pr(chain, good=False)
    proc, output, gate_md, blocked = run_github(chain, tmp_path)
    assert proc.returncode == 0, proc.stderr  # the step records the verdict; the last step fails
    assert output == "status=1\n" and blocked == 1
    assert gate_md.startswith("### :x: cloud-config verify failed")
    assert "| :x: | `not-owner` |" in gate_md and "node0" in gate_md


def test_gitlab_gate_passes_a_good_pr(chain: ChainRepo, tmp_path: Path) -> None:
    open_pr(chain, good=True)
    proc = run_gitlab(chain, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("### :white_check_mark: cloud-config verify passed")


def test_gitlab_gate_blocks_a_member_changing_anothers_node(chain: ChainRepo, tmp_path: Path) -> None:
    open_pr(chain, good=False)
    proc = run_gitlab(chain, tmp_path)
    assert proc.returncode == 1
    assert "| :x: | `not-owner` |" in proc.stdout and "the PR gate found errors" in proc.stdout


def test_the_comment_carries_the_approvals_table(chain: ChainRepo, tmp_path: Path, cli: Cli) -> None:
    """Under `node = 2`, p1 moving its own node waits for a second member; after p2's
    `cloud-config approve` the same workflow passes. GitHub's and GitLab's comments show the table."""
    chain.git("checkout", "-q", "-b", "with-policy", "certs")
    members = chain.repo / "members.toml"
    members.write_text(members.read_text() + "\n[policy.approvals]\nnode = 2\n")
    chain.commit("approval policy", "admin")
    chain.git("update-ref", "refs/remotes/origin/master", "HEAD")
    chain.git("checkout", "-q", "-b", "move-node0")
    chain.edit_config('host = "www.node0.com"', 'host = "10.0.0.10"')
    chain.commit("move node0", "p1")
    proc, output, gate_md, blocked = run_github(chain, tmp_path)
    assert output == "status=1\n" and blocked == 1, proc.stderr
    assert "#### Approvals" in gate_md and "| :hourglass: | node | 1 / 2 | p1 | admin, p2 |" in gate_md
    assert "| :x: | `approvals-missing` |" in gate_md
    assert "| :hourglass: | node | 1 / 2 | p1 | admin, p2 |" in run_gitlab(chain, tmp_path).stdout

    chain.git("config", "gpg.format", "ssh")
    chain.git("config", "user.signingkey", str(chain.people["p2"].key))
    assert cli("approve", "--repo", str(chain.repo)).code == 0  # --base origin/master
    (tmp_path / "again").mkdir()
    proc, output, gate_md, blocked = run_github(chain, tmp_path / "again")
    assert output == "status=0\n" and blocked == 0, gate_md
    assert "| :white_check_mark: | node | 2 / 2 | p1, p2 | admin |" in gate_md
    assert "**Approvals**: tree " in gate_md  # the diff's line: who approved which tree
