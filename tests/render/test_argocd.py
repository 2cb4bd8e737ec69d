"""`cloud-config argocd-app`: Argo CD / Flux objects, checked against the published CRD schemas.

The schemas come from npm (@kubernetes-models/argo-cd 2.7.2, @kubernetes-models/flux-cd 2.3.4);
see tests/support/schemas.py.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from cloud_config.app.node import refresh_node
from cloud_config.model.node import Deployment
from cloud_config.model.paths import ChainLayout
from tests.support.gnupg import gnupg_key
from tests.support.render import CHAIN, make_chain, make_node
from tests.support.schemas import schema_check


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> ChainLayout:
    """The five-node chain with node0 rendered (update-yaml's output), built once."""
    layout = make_chain(tmp_path_factory.mktemp("argocd"))
    make_node(layout, "node0", deployment=Deployment(storage_class="sc"))
    refresh_node(layout.chain_dir, layout.node_dir("node0"), CHAIN, "node0")
    return layout


def _app(cli, chain: ChainLayout, *args: str):
    return cli("argocd-app", "--config-dir", str(chain.config_dir), *args)


def test_argocd_app_is_valid_and_syncs_automatically(cli, chain: ChainLayout):
    r = _app(
        cli,
        chain,
        "--domain",
        "node0",
        "--repo-url",
        "https://git.example.com/org1/test-chain-node0.git",
        "--dest-namespace",
        "chain",
        "--project",
        "members",
        "--namespace",
        "gitops",
    )
    assert r.code == 0, r.err
    (app,) = list(yaml.safe_load_all(r.out))
    assert app["metadata"]["name"] == "test-chain-node0"
    assert app["metadata"]["namespace"] == "gitops"
    spec = app["spec"]
    assert spec["project"] == "members"
    assert spec["source"] == {
        "repoURL": "https://git.example.com/org1/test-chain-node0.git",
        "targetRevision": "master",
        "path": ".",
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
    assert check.stdout.strip() == "ok Application/test-chain-node0"


def test_the_application_path_holds_the_kustomization(cli, chain: ChainLayout):
    """Argo CD applies the folder the path names: it must be the one with kustomization.yaml (and
    its saved patches), and `kubectl kustomize` of it must build."""
    r = _app(cli, chain, "--domain", "node0", "--repo-url", "git@git.example.com:org1/test-chain-node0.git")
    (app,) = list(yaml.safe_load_all(r.out))
    folder = chain.node_dir("node0") / app["spec"]["source"]["path"]
    assert (folder / "kustomization.yaml").is_file()
    kubectl = Path(sys.executable).parent / "kubectl"
    built = subprocess.run(
        [str(kubectl) if kubectl.exists() else "kubectl", "kustomize", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    assert "kind: PodDisruptionBudget" in built.stdout  # the root's resources, not yamls/ alone
    # The old layout stays reachable: --path yamls.
    r = _app(cli, chain, "--domain", "node0", "--repo-url", "https://x/n0.git", "--path", "yamls")
    assert yaml.safe_load(r.out)["spec"]["source"]["path"] == "yamls"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("--domain", "node9", "--repo-url", "https://x/n.git"),
            "error: --domain: 'node9' is not in the node list",
        ),
        (
            ("--domain", "node0", "--repo-url", "not a url"),
            "error: --repo-url: 'not a url' is not a git remote URL",
        ),
        (
            ("--domain", "node0", "--repo-url", "https://"),
            "error: --repo-url: 'https://' is not a git remote URL",
        ),
    ],
)
def test_argocd_app_refuses_an_unknown_domain_and_a_bad_url(cli, chain: ChainLayout, args, expected):
    r = _app(cli, chain, *args)
    assert r.code != 0 and r.out == ""
    assert r.err.startswith(expected) and len(r.err.splitlines()) == 1, r.err


def test_argocd_app_reads_the_chain_the_flags_name(cli, chain: ChainLayout):
    """--chain-name and --config-dir are used: another name finds no chain folder."""
    r = _app(cli, chain, "--chain-name", "other", "--domain", "node0", "--repo-url", "https://x/n.git")
    assert r.code != 0 and "other" in r.err and "chain_config.toml" in r.err


def test_flux_objects_are_valid(cli, chain: ChainLayout):
    r = _app(cli, chain, "--domain", "node1", "--repo-url", "https://git.example.com/n1.git", "--flux")
    assert r.code == 0, r.err
    repo, kustomization = list(yaml.safe_load_all(r.out))
    assert repo["kind"] == "GitRepository" and repo["spec"]["url"] == "https://git.example.com/n1.git"
    assert kustomization["kind"] == "Kustomization"
    assert kustomization["spec"]["prune"] is True
    assert kustomization["spec"]["path"] == "./"
    assert kustomization["spec"]["sourceRef"] == {"kind": "GitRepository", "name": "test-chain-node1"}
    check = schema_check([repo, kustomization])
    assert check.returncode == 0, check.stdout + check.stderr


def test_schema_check_rejects_a_broken_application(cli, chain: ChainLayout):
    """The schema check itself can fail: a wrongly typed field is caught."""
    r = _app(cli, chain, "--domain", "node0", "--repo-url", "https://x/n0.git")
    (app,) = list(yaml.safe_load_all(r.out))
    app["spec"]["syncPolicy"]["automated"]["prune"] = "yes"
    check = schema_check([app])
    assert check.returncode == 1
    assert "prune" in check.stdout


def test_flux_refuses_another_cluster(cli, chain: ChainLayout):
    r = _app(
        cli,
        chain,
        "--domain",
        "node0",
        "--repo-url",
        "https://x/n.git",
        "--flux",
        "--dest-server",
        "https://other:6443",
    )
    assert r.code == 2
    assert r.err.startswith("error: --dest-server: Flux applies to the cluster it runs in")


def test_argocd_notifications_subscription_and_configmap_patch(cli, chain: ChainLayout):
    notify = "http://pipeline.org1.internal:8080/notify/argocd/gitops-test-chain"
    r = _app(cli, chain, "--domain", "node0", "--repo-url", "https://git.example.com/n0.git",
             "--notify-url", notify)  # fmt: skip
    assert r.code == 0, r.err
    app, patch = list(yaml.safe_load_all(r.out))
    annotations = app["metadata"]["annotations"]
    assert annotations == {
        "notifications.argoproj.io/subscribe.cloud-config-synced.cloud-config": "",
        "notifications.argoproj.io/subscribe.cloud-config-degraded.cloud-config": "",
    }
    # Only our keys of the cluster-wide ConfigMap: a patch, never the whole ConfigMap.
    assert patch["metadata"] == {"name": "argocd-notifications-cm", "namespace": "argocd"}
    assert sorted(patch["data"]) == [
        "service.webhook.cloud-config", "template.cloud-config-sync",
        "trigger.cloud-config-degraded", "trigger.cloud-config-synced",
    ]  # fmt: skip
    service = yaml.safe_load(patch["data"]["service.webhook.cloud-config"])
    assert service["url"] == notify
    assert {"name": "Authorization", "value": "Bearer $cloud-config-notify-token"} in service["headers"]
    template = yaml.safe_load(patch["data"]["template.cloud-config-sync"])["webhook"]["cloud-config"]
    assert template["method"] == "POST" and "{{.app.status.sync.revision}}" in template["body"]
    for key in ("trigger.cloud-config-synced", "trigger.cloud-config-degraded"):
        assert yaml.safe_load(patch["data"][key])[0]["send"] == ["cloud-config-sync"]
    import kubernetes_validate

    kubernetes_validate.validate(patch, kubernetes_validate.latest_version(), strict=True)
    check = schema_check([app])
    assert check.returncode == 0, check.stdout + check.stderr


def test_flux_provider_and_alert(cli, chain: ChainLayout):
    notify = "http://pipeline.org1.internal:8080/notify/flux/gitops-test-chain"
    r = _app(cli, chain, "--domain", "node1", "--repo-url", "https://git.example.com/n1.git", "--flux",
             "--notify-url", notify, "--namespace", "gitops")  # fmt: skip
    assert r.code == 0, r.err
    _, kustomization, provider, alert = list(yaml.safe_load_all(r.out))
    assert provider["apiVersion"] == alert["apiVersion"] == "notification.toolkit.fluxcd.io/v1beta3"
    assert provider["spec"]["type"] == "generic-hmac" and provider["spec"]["address"] == notify
    assert alert["spec"]["eventSources"] == [
        {"kind": "Kustomization", "name": kustomization["metadata"]["name"]}
    ]
    # Beside the Kustomization they watch (--namespace), as Flux resolves eventSources and secretRef.
    assert {d["metadata"]["namespace"] for d in (kustomization, provider, alert)} == {"gitops"}
    check = schema_check([provider, alert])
    assert check.returncode == 0, check.stdout + check.stderr
    assert cli("argocd-app", "--domain", "n", "--repo-url", "https://x", "--notify-url", "ftp://x").code == 2


@pytest.fixture(scope="module")
def pipeline_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A real OpenPGP key made by GnuPG in a throwaway GNUPGHOME: (fingerprint, public key file)."""
    with gnupg_key(tmp_path_factory.mktemp("gnupg"), "pipeline <p@example.com>") as key:
        yield key.fingerprint, key.public


def test_argocd_verify_key_makes_a_signature_checking_project(cli, chain: ChainLayout, pipeline_key):
    import kubernetes_validate

    fingerprint, public = pipeline_key
    url = "https://git.example.com/org1/gitops-test-chain-node0.git"
    r = cli("argocd-app", "--config-dir", str(chain.config_dir), "--domain", "node0", "--repo-url", url,
            "--verify-key", str(public))  # fmt: skip
    assert r.code == 0, r.err
    project, app, keys = list(yaml.safe_load_all(r.out))
    key_id = fingerprint[-16:]
    assert project["kind"] == "AppProject" and project["spec"]["signatureKeys"] == [{"keyID": key_id}]
    assert app["spec"]["project"] == project["metadata"]["name"] == f"{CHAIN}-node0"
    assert project["spec"]["sourceRepos"] == [url]
    assert keys["metadata"]["name"] == "argocd-gpg-keys-cm"
    assert keys["data"] == {key_id: public.read_text()}
    check = schema_check([project, app])
    assert check.returncode == 0, check.stdout + check.stderr
    kubernetes_validate.validate(keys, "1.27.0", strict=True)
    # A fingerprint alone: the same project, no ConfigMap (the key is registered another way).
    r = cli("argocd-app", "--config-dir", str(chain.config_dir), "--domain", "node0", "--repo-url", url,
            "--verify-key", fingerprint.lower())  # fmt: skip
    assert [d["kind"] for d in yaml.safe_load_all(r.out)] == ["AppProject", "Application"]


def test_flux_verify_key_sets_spec_verify(cli, chain: ChainLayout, pipeline_key):
    import kubernetes_validate

    fingerprint, public = pipeline_key
    r = cli("argocd-app", "--config-dir", str(chain.config_dir), "--domain", "node1", "--repo-url", "https://x/n1.git",
            "--flux", "--verify-key", str(public))  # fmt: skip
    assert r.code == 0, r.err
    secret, repo, kustomization = list(yaml.safe_load_all(r.out))
    # source.toolkit.fluxcd.io/v1 has `mode` and `secretRef` only: no `provider` field.
    assert repo["spec"]["verify"] == {"mode": "HEAD", "secretRef": {"name": f"{CHAIN}-node1-signing-key"}}
    assert secret["metadata"]["name"] == f"{CHAIN}-node1-signing-key"
    assert secret["stringData"] == {f"{fingerprint[-16:]}.asc": public.read_text()}
    check = schema_check([repo, kustomization])
    assert check.returncode == 0, check.stdout + check.stderr
    kubernetes_validate.validate(secret, "1.27.0", strict=True)


def test_verify_key_refuses_what_is_not_a_public_key(cli, chain: ChainLayout, tmp_path):
    private = tmp_path / "key.asc"
    private.write_text("-----BEGIN PGP PRIVATE KEY BLOCK-----\nxx\n-----END PGP PRIVATE KEY BLOCK-----\n")
    for value in (str(private), str(tmp_path / "missing.asc"), "ABCDEF"):
        r = _app(cli, chain, "--domain", "node0", "--repo-url", "https://x/n0.git", "--verify-key", value)
        assert r.code == 2 and r.err.startswith("error: --verify-key: ") and r.out == "", r.err


def test_argocd_verify_key_and_notify_url_compose(cli, chain: ChainLayout, pipeline_key):
    fingerprint, public = pipeline_key
    notify = "http://pipeline.org1.internal:8080/notify/argocd/gitops-test-chain"
    r = cli("argocd-app", "--config-dir", str(chain.config_dir), "--domain", "node0", "--repo-url", "https://x/n0.git",
            "--verify-key", str(public), "--notify-url", notify)  # fmt: skip
    assert r.code == 0, r.err
    project, app, keys, patch = list(yaml.safe_load_all(r.out))
    assert project["kind"] == "AppProject" and project["spec"]["signatureKeys"] == [
        {"keyID": fingerprint[-16:]}
    ]
    assert app["kind"] == "Application" and app["spec"]["project"] == f"{CHAIN}-node0"
    assert (
        "notifications.argoproj.io/subscribe.cloud-config-synced.cloud-config"
        in app["metadata"]["annotations"]
    )
    assert keys["metadata"]["name"] == "argocd-gpg-keys-cm"
    assert patch["metadata"]["name"] == "argocd-notifications-cm"
    assert yaml.safe_load(patch["data"]["service.webhook.cloud-config"])["url"] == notify
    check = schema_check([project, app])
    assert check.returncode == 0, check.stdout + check.stderr
    bad = _app(cli, chain, "--domain", "node1", "--repo-url", "https://x/n1.git", "--notify-url", "ftp://x")
    assert bad.code == 2 and bad.out == ""
    assert bad.err.startswith("error: --notify-url: expected an http:// or https:// URL"), bad.err
