"""Delivery of a node encrypted at rest: Argo CD through KSOPS, Flux natively.

* Argo CD: `kubectl kustomize` builds the layout once `generators:` is removed (kustomize runs no exec
  plugin here); the generator file has KSOPS's documented fields (viaduct-ai/kustomize-sops v4.5.1,
  `ksops.go` `type ksops`: files, secretFrom) and names the encrypted Secrets.
* Flux: the encrypted Secrets are resources; the Kustomization from `argocd-app --flux` has
  `spec.decryption` and validates against Flux's schema.
* The Secrets, decrypted with `sops -d`, pass `kubernetes-validate --strict`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.render.test_render_node import _kubectl
from tests.support.render import make_chain
from tests.support.schemas import schema_check
from tests.support.secrets import age_identity, flags, init_encrypted, sops_d

KSOPS_FIELDS = {"apiVersion", "kind", "metadata", "files", "secretFrom"}
SECRETS = ["yamls/secret-account.yaml", "yamls/secret-config.yaml"]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    layout = make_chain(tmp_path / "cfg")
    identity, recipient = age_identity(tmp_path, "cluster")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(identity))
    return layout, identity, recipient


def _kustomize(folder: Path) -> list[dict[str, Any]]:
    proc = subprocess.run([_kubectl(), "kustomize", str(folder)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def _decrypted_secrets_validate(node_dir: Path, identity: Path) -> None:
    for rel in SECRETS:
        done = sops_d(node_dir / rel, identity)
        assert done.returncode == 0, done.stderr
        doc = yaml.safe_load(done.stdout)
        assert doc["kind"] == "Secret" and "sops" not in doc
        kubernetes_validate.validate(doc, "1.27.0", strict=True)


def test_argocd_layout_uses_the_ksops_generator(cli, world) -> None:
    layout, identity, recipient = world
    node_dir = init_encrypted(cli, layout, recipient)
    kustomization = yaml.safe_load((node_dir / "kustomization.yaml").read_text())
    assert kustomization["generators"] == ["secret-generator.yaml"]
    assert not set(SECRETS) & set(kustomization["resources"])
    generator = yaml.safe_load((node_dir / "secret-generator.yaml").read_text())
    assert set(generator) <= KSOPS_FIELDS
    assert generator["apiVersion"] == "viaduct.ai/v1" and generator["kind"] == "ksops"
    function = yaml.safe_load(generator["metadata"]["annotations"]["config.kubernetes.io/function"])
    assert function == {"exec": {"path": "ksops"}}
    assert sorted(generator["files"]) == sorted(f"./{s}" for s in SECRETS)
    for name in generator["files"]:
        assert "sops" in yaml.safe_load((node_dir / name).read_text())  # what KSOPS decrypts
    # The Application's default path is the folder of this kustomization, so KSOPS runs.
    r = cli("argocd-app", *flags(layout), "--domain", "node0", "--repo-url", "https://git.example/n0.git")
    assert r.code == 0, r.err
    path = yaml.safe_load(r.out)["spec"]["source"]["path"]
    assert (node_dir / path / "kustomization.yaml").samefile(node_dir / "kustomization.yaml")
    # kustomize runs no exec plugin here: build without the generators entry.
    del kustomization["generators"]
    (node_dir / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    built = _kustomize(node_dir)
    assert "Secret" not in {d["kind"] for d in built} and "StatefulSet" in {d["kind"] for d in built}
    for doc in built:
        kubernetes_validate.validate(doc, "1.27.0", strict=True)
    _decrypted_secrets_validate(node_dir, identity)


def test_flux_layout_lists_the_encrypted_secrets_and_its_kustomization_decrypts(cli, world) -> None:
    layout, identity, recipient = world
    node_dir = init_encrypted(cli, layout, recipient, engine="flux")
    kustomization = yaml.safe_load((node_dir / "kustomization.yaml").read_text())
    assert "generators" not in kustomization and not (node_dir / "secret-generator.yaml").exists()
    assert set(SECRETS) <= set(kustomization["resources"])
    assert 'engine = "flux"' in (node_dir / "node_config.toml").read_text()
    built = _kustomize(node_dir)  # what kustomize-controller builds, before it decrypts
    secrets = [d for d in built if d["kind"] == "Secret"]
    assert len(secrets) == 2 and all("sops" in d for d in secrets)
    _decrypted_secrets_validate(node_dir, identity)
    r = cli(
        "argocd-app",
        *flags(layout),
        "--domain",
        "node0",
        "--repo-url",
        "https://git.example/n0.git",
        "--flux",
    )
    assert r.code == 0, r.err
    repo, flux = list(yaml.safe_load_all(r.out))
    assert flux["spec"]["decryption"] == {"provider": "sops", "secretRef": {"name": "sops-age"}}
    check = schema_check([repo, flux])
    assert check.returncode == 0, check.stdout + check.stderr
    flux["spec"]["decryption"]["provider"] = 7
    assert schema_check([flux]).returncode == 1  # the schema does look at the field
    # Back to Argo CD: the generator returns, the Secrets leave `resources:`.
    assert cli("update-yaml", *flags(layout), "--domain", "node0", "--engine", "argocd").code == 0
    assert (node_dir / "secret-generator.yaml").is_file()
    r = cli("update-yaml", *flags(layout), "--domain", "node0", "--engine", "helm")
    assert r.code == 2 and r.err.startswith("error: --engine: must be one of argocd, flux")


def test_flux_without_encryption_has_no_decryption(cli, world) -> None:
    layout = world[0]
    r = cli("argocd-app", *flags(layout), "--domain", "node1", "--repo-url", "https://x/n.git", "--flux")
    assert r.code == 0, r.err
    assert "decryption" not in r.out
    r = cli("argocd-app", *flags(layout), "--domain", "node1", "--repo-url", "https://x/n.git", "--flux",
            "--sops-secret", "k")  # fmt: skip
    _, flux = list(yaml.safe_load_all(r.out))
    assert flux["spec"]["decryption"] == {"provider": "sops", "secretRef": {"name": "k"}}
