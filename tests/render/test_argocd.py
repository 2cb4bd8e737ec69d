"""`cloud-config argocd-app`: Argo CD / Flux objects, checked against the published CRD schemas.

The schemas come from npm (@kubernetes-models/argo-cd 2.7.2, @kubernetes-models/flux-cd 2.3.4),
installed by `npm ci --prefix tests/schemas` (.ci/run does it). Without them these checks are skipped,
saying why, except under CI (CI=true), where a missing schema is a failure: CI must not pass unchecked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI=true: these checks must run)")
    pytest.skip(reason)


def schema_check(docs: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    if shutil.which("node") is None:
        _unavailable("node is not installed: cannot run the Argo CD / Flux schema checks")
    if not (SCHEMAS / "node_modules" / "@kubernetes-models" / "argo-cd").is_dir():
        _unavailable("schemas not installed: run `npm ci --prefix tests/schemas`")
    return subprocess.run(
        ["node", str(SCHEMAS / "validate.js")],
        input=json.dumps(docs),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_argocd_app_is_valid_and_syncs_automatically(cli):
    r = cli(
        "argocd-app",
        "--chain-name",
        "gitops-test-chain",
        "--domain",
        "node0",
        "--repo-url",
        "https://git.example.com/org1/gitops-test-chain-node0.git",
        "--dest-namespace",
        "chain",
    )
    assert r.code == 0, r.err
    (app,) = list(yaml.safe_load_all(r.out))
    assert app["metadata"]["name"] == "gitops-test-chain-node0"
    spec = app["spec"]
    assert spec["source"] == {
        "repoURL": "https://git.example.com/org1/gitops-test-chain-node0.git",
        "targetRevision": "master",
        "path": "yamls",
    }
    assert spec["destination"] == {"server": "https://kubernetes.default.svc", "namespace": "chain"}
    assert spec["syncPolicy"]["automated"]["prune"] is True
    assert spec["syncPolicy"]["automated"]["selfHeal"] is True
    # Volumes are never touched: no cascade-deleting finalizer; immutable claim templates ignored.
    assert "finalizers" not in app["metadata"]
    assert {"group": "apps", "kind": "StatefulSet", "jsonPointers": ["/spec/volumeClaimTemplates"]} in spec[
        "ignoreDifferences"
    ]
    assert "RespectIgnoreDifferences=true" in spec["syncPolicy"]["syncOptions"]
    check = schema_check([app])
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.strip() == "ok Application/gitops-test-chain-node0"


def test_flux_objects_are_valid(cli):
    r = cli("argocd-app", "--domain", "node1", "--repo-url", "https://git.example.com/n1.git", "--flux")
    assert r.code == 0, r.err
    repo, kustomization = list(yaml.safe_load_all(r.out))
    assert repo["kind"] == "GitRepository" and repo["spec"]["url"] == "https://git.example.com/n1.git"
    assert kustomization["kind"] == "Kustomization"
    assert kustomization["spec"]["prune"] is True
    assert kustomization["spec"]["path"] == "./yamls"
    assert kustomization["spec"]["sourceRef"] == {"kind": "GitRepository", "name": "test-chain-node1"}
    check = schema_check([repo, kustomization])
    assert check.returncode == 0, check.stdout + check.stderr


def test_schema_check_rejects_a_broken_application(cli):
    """The schema check itself can fail: a wrongly typed field is caught."""
    r = cli("argocd-app", "--domain", "node0", "--repo-url", "https://x/n0.git")
    (app,) = list(yaml.safe_load_all(r.out))
    app["spec"]["syncPolicy"]["automated"]["prune"] = "yes"
    check = schema_check([app])
    assert check.returncode == 1
    assert "prune" in check.stdout


def test_flux_refuses_another_cluster(cli):
    r = cli(
        "argocd-app",
        "--domain",
        "n",
        "--repo-url",
        "https://x",
        "--flux",
        "--dest-server",
        "https://other:6443",
    )
    assert r.code == 2
    assert r.err.startswith("error: --dest-server: Flux applies to the cluster it runs in")
