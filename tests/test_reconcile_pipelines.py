"""The CI definitions under pipelines/ call `cloud-config reconcile` with flags it really has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"


def reconcile_flags(text: str) -> set[str]:
    joined = re.sub(r"\\\s*\n\s*", " ", text)
    calls = [m.group(1) for m in re.finditer(r"cloud-config\"? reconcile([^\n']*)", joined)]
    assert calls, "no `cloud-config reconcile` call"
    return {flag for call in calls for flag in re.findall(r"(--[a-z-]+)", call)}


@pytest.mark.parametrize("name", ["Jenkinsfile", "github-actions.yml", "gitlab-ci.yml"])
def test_pipeline_calls_reconcile_with_known_flags(cli, name: str) -> None:  # type: ignore[no-untyped-def]
    text = (PIPELINES / name).read_text()
    if name.endswith(".yml"):
        text = yaml.safe_dump(yaml.safe_load(text), width=10_000)  # valid YAML; folded scalars joined
    flags = reconcile_flags(text)
    help_text = cli("reconcile", "--help").out
    known = set(re.findall(r"(--[a-z-]+)", help_text))
    assert flags <= known, flags - known
    assert {"--chain-repo", "--node-repo", "--domain", "--workdir"} <= flags
