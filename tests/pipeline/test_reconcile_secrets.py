"""Reconcile of a node repo encrypted at rest (the issue's acceptance, end to end on a local forge):
init-node --encrypt-to, update-node, update-yaml, a reconcile after a chain change, a no-change
reconcile, a wrong identity, `secrets recipients`; then no commit of the node repo holds a key."""

from __future__ import annotations

import base64
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from cloud_config import git
from cloud_config.demo.world import CHAIN
from tests.support.cli import Result, run_process
from tests.support.pipeline_repos import Repos, build_template
from tests.support.secrets import age_identity, forbidden, sops_d

pytestmark = pytest.mark.slow  # a forge over HTTP, many processes


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    folder = tmp_path_factory.mktemp("age")
    return {name: age_identity(folder, name) for name in ("op", "pipe", "new", "wrong")}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, keys) -> Path:
    root = tmp_path_factory.mktemp("secrets-template")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOPS_AGE_KEY_FILE", str(keys["op"][0]))
        build_template(root, encrypt_to=(keys["op"][1], keys["pipe"][1]))
    return root


@pytest.fixture
def repos(template: Path, tmp_path: Path) -> Iterator[Repos]:
    served = Repos(template / "forge", tmp_path)
    try:
        yield served
    finally:
        served.close()


def reconcile(repos: Repos, identity: Path) -> Result:
    return run_process(
        "reconcile",
        "--chain-repo", repos.chain_url,
        "--node-repo", repos.node_url,
        "--domain", "node0",
        "--workdir", str(repos.tmp / "work"),
        "--age-identity-file", str(identity),
    )  # fmt: skip


def test_no_plaintext_key_in_any_commit_and_the_pipeline_still_renders(repos: Repos, template, keys) -> None:
    operator = template / "people" / "operator" / CHAIN
    tls_key = (operator / "certs/node0/key.pem").read_text()  # the creator's (plaintext) chain folder
    accounts = {d.name: (d / "private_key").read_text() for d in (operator / "accounts").glob("*/")}
    never = [s for key in accounts.values() for s in forbidden(key, tls_key)]

    # A no-change reconcile: the tree init-node/update-node/update-yaml pushed is what it renders.
    first = repos.node_head()
    r = reconcile(repos, keys["pipe"][0])
    assert r.code == 0 and "up to date" in r.out, r.err
    assert repos.node_head() == first

    # A chain change: one commit, config.toml and the config Secret re-encrypted.
    repos.edit_chain('host = "www.node1.com"', 'host = "node1.example.org"', "node1 moved")
    r = reconcile(repos, keys["pipe"][0])
    assert r.code == 0 and "committed" in r.out, r.err
    moved = repos.node_head()
    assert reconcile(repos, keys["pipe"][0]).out.startswith("node0: up to date")
    assert repos.node_head() == moved

    # A wrong identity: one line, exit 1, nothing pushed.
    repos.edit_chain('host = "node1.example.org"', 'host = "node1.example.net"', "node1 moved again")
    r = reconcile(repos, keys["wrong"][0])
    assert r.code == 1 and len(r.err.splitlines()) == 1, r.err
    assert r.err.startswith("error: node0: refusing chain") and "cannot decrypt" in r.err
    assert r.err.rstrip().endswith("nothing pushed")
    assert repos.node_head() == moved
    for secret in never:
        assert secret not in r.err

    # The operator adds a recipient (and drops the pipeline's old one) from their own clones.
    home = repos.tmp / "op"
    git.run(None, "clone", "-q", repos.chain_url, str(home / CHAIN))
    git.run(None, "clone", "-q", repos.node_url, str(home / f"{CHAIN}-node0"))
    r = run_process(
        "secrets", "recipients", "--config-dir", str(home), "--chain-name", CHAIN, "--domain", "node0",
        "--add", keys["new"][1], "--remove", keys["pipe"][1],
        env={"SOPS_AGE_KEY_FILE": str(keys["op"][0])},
    )  # fmt: skip
    assert r.code == 0, r.err
    node = home / f"{CHAIN}-node0"
    git.commit_all(node, "secrets: recipients op + new")
    git.run(node, "push", "-q", "origin", "HEAD:master")
    assert reconcile(repos, keys["pipe"][0]).code == 1  # the old identity no longer decrypts
    r = reconcile(repos, keys["new"][0])  # up to date: the operator rendered from the chain's head
    assert r.code == 0 and r.out.startswith("node0: up to date"), r.err

    # The whole history of the node repo: no key hex, no TLS key PEM, nor their base64.
    history = git.run(repos.node_bare, "log", "-p", "--all")
    assert "ENC[AES256_GCM" in history
    for secret in never:
        assert secret not in history
    # ...and `sops -d` with the right identity returns them.
    check = repos.tmp / "check"
    git.run(None, "clone", "-q", repos.node_url, str(check))
    addr = tomllib.loads((check / "node_config.toml").read_text())["account"]
    done = sops_d(check / "accounts" / addr / "private_key", keys["new"][0])
    assert done.returncode == 0 and done.stdout.decode() == accounts[addr]
    assert sops_d(check / "certs/node0/key.pem", keys["op"][0]).stdout.decode() == tls_key
    secret = yaml.safe_load(sops_d(check / "yamls/secret-config.yaml", keys["op"][0]).stdout)
    assert "[network_zenoh]" in base64.b64decode(secret["data"]["config.toml"]).decode()
    assert "node1.example.net" in (check / "yamls/node1-external-svc.yaml").read_text()
