"""Secrets at rest through the real CLI and the real sops: init-node --encrypt-to, update-node,
update-yaml, `secrets recipients`, `secrets migrate`, `secrets encrypt`; no plaintext key in any file."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from cloud_config.model.paths import ChainLayout, encrypted_at_rest
from cloud_config.store.sops import Sops, is_encrypted
from tests.support.render import account, make_chain, make_node, snapshot
from tests.support.secrets import age_identity, flags, forbidden, init_encrypted, sops_d


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    layout = make_chain(tmp_path / "cfg")
    keys = tmp_path / "keys"
    keys.mkdir()
    ids = {name: age_identity(keys, name) for name in ("op", "pipe", "new", "wrong")}
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(ids["op"][0]))
    return layout, ids


def secrets_of(layout: ChainLayout) -> list[str]:
    key = (layout.cert_dir("node0") / "key.pem").read_text()
    return forbidden(account("node0")["private_key"], key)


def assert_no_plaintext(folder: Path, layout: ChainLayout) -> None:
    for path in folder.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            text = path.read_text(errors="replace")
            for secret in secrets_of(layout):
                assert secret not in text, f"{path} holds key material"


def test_init_node_encrypt_to_keeps_every_key_encrypted(cli, world) -> None:
    layout, ids = world
    node_dir = init_encrypted(cli, layout, ids["op"][1], ids["pipe"][1])
    assert_no_plaintext(node_dir, layout)
    config = tomllib.loads((node_dir / "node_config.toml").read_text())
    assert config["secrets"] == {"recipients": [ids["op"][1], ids["pipe"][1]]}
    sealed = [p for p in snapshot(node_dir) if encrypted_at_rest(p)]
    assert {"config.toml", "private_key", "yamls/secret-config.yaml", "yamls/secret-account.yaml"} <= set(
        sealed
    )
    assert f"accounts/{account('node0')['node_address']}/private_key" in sealed
    assert "certs/node0/key.pem" in sealed
    for rel in sealed:
        assert is_encrypted((node_dir / rel).read_bytes(), encrypted_at_rest(rel) or "binary"), rel
        assert (node_dir / rel).stat().st_mode & 0o777 == 0o600
    # `sops -d` with either recipient's identity returns the keys, as a person runs it.
    addr = account("node0")["node_address"]
    for name in ("op", "pipe"):
        done = sops_d(node_dir / "accounts" / addr / "private_key", ids[name][0])
        assert done.returncode == 0 and done.stdout.decode() == account("node0")["private_key"]
    done = sops_d(node_dir / "certs/node0/key.pem", ids["pipe"][0])
    assert done.stdout.decode() == (layout.cert_dir("node0") / "key.pem").read_text()
    secret = yaml.safe_load(sops_d(node_dir / "yamls/secret-account.yaml", ids["op"][0]).stdout)
    assert base64.b64decode(secret["data"]["private_key"]).decode() == account("node0")["private_key"]
    assert sops_d(node_dir / "private_key", ids["wrong"][0]).returncode != 0
    # The encrypted Secret keeps apiVersion/kind/metadata readable (what Flux and KSOPS need).
    raw = yaml.safe_load((node_dir / "yamls/secret-account.yaml").read_text())
    assert raw["kind"] == "Secret" and raw["sops"]["encrypted_regex"] == "^(data|stringData)$"
    assert all(v.startswith("ENC[AES256_GCM,") for v in raw["data"].values())
    rules = yaml.safe_load((node_dir / ".sops.yaml").read_text())["creation_rules"]
    assert all(set(r["age"].split(",")) == {ids["op"][1], ids["pipe"][1]} for r in rules)


def test_a_render_without_change_writes_nothing(cli, world) -> None:
    layout, ids = world
    node_dir = init_encrypted(cli, layout, ids["op"][1])
    before = snapshot(node_dir)
    for verb in (("update-node",), ("update-yaml",)):
        r = cli(*verb, *flags(layout), "--domain", "node0")
        assert r.code == 0, r.err
    assert snapshot(node_dir) == before  # sops output differs each run: decrypted content is compared


def test_without_or_with_a_wrong_identity_one_line_and_nothing_changes(cli, world, monkeypatch) -> None:
    layout, ids = world
    node_dir = init_encrypted(cli, layout, ids["op"][1])
    before = snapshot(node_dir)
    monkeypatch.delenv("SOPS_AGE_KEY_FILE")
    r = cli("update-node", *flags(layout), "--domain", "node0")
    assert r.code == 1 and len(r.err.splitlines()) == 1
    assert "is SOPS-encrypted and no age identity is set: set SOPS_AGE_KEY_FILE" in r.err
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(ids["wrong"][0]))
    r = cli("update-yaml", *flags(layout), "--domain", "node0", "--storage-class", "other")
    assert r.code == 1 and len(r.err.splitlines()) == 1 and "cannot decrypt" in r.err, r.err
    assert snapshot(node_dir) == before


def test_bad_recipients_are_refused_naming_the_flag(cli, world) -> None:
    layout, _ = world
    addr = account("node0")["node_address"]
    base = ["init-node", *flags(layout), "--domain", "node0", "--account", addr]
    r = cli(*base, "--encrypt-to", "age1nope")
    assert r.code == 2 and r.err.startswith("error: --encrypt-to: must be an age recipient")
    r = cli(*base, "--encrypt-to", "AGE-SECRET-KEY-1QQQ")
    assert r.code == 2 and "is an age identity (a private key)" in r.err and "QQQ" not in r.err
    assert not layout.node_dir("node0").exists()


def test_recipients_add_and_remove_reencrypt_everything(cli, world, monkeypatch) -> None:
    layout, ids = world
    node_dir = init_encrypted(cli, layout, ids["op"][1], ids["pipe"][1])
    r = cli("secrets", "recipients", *flags(layout), "--domain", "node0", "--add", ids["new"][1])
    assert r.code == 0, r.err
    r = cli("secrets", "recipients", *flags(layout), "--domain", "node0", "--remove", ids["pipe"][1])
    assert r.code == 0, r.err
    addr = account("node0")["node_address"]
    for rel in (
        "private_key",
        f"accounts/{addr}/private_key",
        "certs/node0/key.pem",
        "yamls/secret-config.yaml",
    ):
        assert sops_d(node_dir / rel, ids["new"][0]).returncode == 0, rel
        assert sops_d(node_dir / rel, ids["pipe"][0]).returncode != 0, rel
    assert_no_plaintext(node_dir, layout)
    # The new set is what the next render keeps: nothing to do.
    before = snapshot(node_dir)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(ids["new"][0]))
    assert cli("update-yaml", *flags(layout), "--domain", "node0").code == 0
    assert snapshot(node_dir) == before
    r = cli("secrets", "recipients", *flags(layout), "--domain", "node0", "--remove", ids["op"][1])
    r = cli("secrets", "recipients", *flags(layout), "--domain", "node0", "--remove", ids["new"][1])
    assert r.code == 2 and "would leave no recipient" in r.err
    assert snapshot(node_dir) != before  # op removed; new still there
    assert sops_d(node_dir / "private_key", ids["new"][0]).returncode == 0


def _decrypted_tree(node_dir: Path, identity: Path) -> dict[str, object]:
    sops = Sops(identity)
    out: dict[str, object] = {}
    for rel, data in snapshot(node_dir).items():
        if rel.startswith(".git/"):
            continue
        kind = encrypted_at_rest(rel)
        if kind and is_encrypted(data, kind):
            data = sops.decrypt(data, kind, rel)
        out[rel] = yaml.safe_load(data) if rel.endswith(".yaml") else data
    return out


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, check=True).stdout


def test_migrate_encrypts_in_place_renders_the_same_and_its_purge_recipe_works(cli, world) -> None:
    layout, ids = world
    from cloud_config.model.node import Deployment

    node_dir = make_node(layout, "node0", deployment=Deployment(storage_class="sc"))
    assert cli("update-yaml", *flags(layout), "--domain", "node0").code == 0
    _git(node_dir, "init", "-q")
    _git(node_dir, "add", "-A")
    _git(node_dir, "commit", "-qm", "plaintext")
    plain = _decrypted_tree(node_dir, ids["op"][0])
    r = cli("secrets", "migrate", *flags(layout), "--domain", "node0", "--encrypt-to", ids["op"][1])
    assert r.code == 0, r.err
    assert "git filter-repo --force --strip-blobs-with-ids" in r.out
    assert_no_plaintext(node_dir, layout)
    after = _decrypted_tree(node_dir, ids["op"][0])
    # The same config, decrypted; only the encryption's own files are new.
    new = {".sops.yaml", "secret-generator.yaml", "kustomization.yaml", "node_config.toml"}
    new |= {".cloud-config-generated"}
    assert {k: v for k, v in after.items() if k not in new} == {
        k: v for k, v in plain.items() if k not in new
    }
    before = snapshot(node_dir)
    assert cli("update-node", *flags(layout), "--domain", "node0").code == 0
    assert snapshot(node_dir) == before
    # The printed recipe, run as printed, leaves no plaintext key anywhere in the history.
    _git(node_dir, "add", "-A")
    _git(node_dir, "commit", "-qm", "encrypted")
    assert account("node0")["private_key"] in _git(node_dir, "log", "-p", "--all")
    recipe = [line.strip() for line in r.out.splitlines() if line.startswith("  ")]
    script = "\n".join(line for line in recipe if not line.startswith(("cd ", "git push")))
    script = script.replace("\\\n", " ")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    subprocess.run(["bash", "-ec", script], cwd=node_dir, env=env, check=True, capture_output=True)
    history = _git(node_dir, "log", "-p", "--all")
    for secret in secrets_of(layout):
        assert secret not in history
    assert _decrypted_tree(node_dir, ids["op"][0]) == after


def test_chain_folder_keys_encrypted_and_still_usable(cli, world) -> None:
    layout, ids = world
    r = cli("secrets", "encrypt", *flags(layout), "--encrypt-to", ids["op"][1])
    assert r.code == 0, r.err
    assert "encrypted ca_cert/key.pem" in r.out
    for rel in ("ca_cert/key.pem", "certs/node0/key.pem"):
        assert is_encrypted((layout.chain_dir / rel).read_bytes(), "binary"), rel
    addr = account("node0")["node_address"]
    assert is_encrypted((layout.account_dir(addr) / "private_key").read_bytes(), "binary")
    again = cli("secrets", "encrypt", *flags(layout), "--encrypt-to", ids["op"][1])
    assert again.out.startswith("nothing to encrypt")
    # sign-csr decrypts the CA key, init-node the account and TLS keys, in memory.
    (layout.cert_dir("node1") / "cert.pem").unlink()
    r = cli("sign-csr", *flags(layout), "--domain", "node1")
    assert r.code == 0, r.err
    node_dir = init_encrypted(cli, layout, ids["op"][1], ids["pipe"][1])
    assert sops_d(node_dir / "private_key", ids["pipe"][0]).stdout.decode() == account("node0")["private_key"]


def test_encrypted_keys_without_recipients_are_never_rendered_in_plain_text(cli, world, monkeypatch) -> None:
    layout, ids = world
    node_dir = init_encrypted(cli, layout, ids["op"][1])
    config = node_dir / "node_config.toml"
    text = config.read_text()
    config.write_text(text[: text.index("[secrets]")])  # someone drops [secrets] by hand
    before = snapshot(node_dir)
    r = cli("update-node", *flags(layout), "--domain", "node0")
    assert r.code == 1 and "secrets.recipients: is missing but accounts/" in r.err, r.err
    assert snapshot(node_dir) == before
    # A SOPS_AGE_KEY_FILE naming no file says so.
    config.write_text(text)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(layout.config_dir / "nope.agekey"))
    r = cli("update-node", *flags(layout), "--domain", "node0")
    assert r.code == 1 and "SOPS_AGE_KEY_FILE names" in r.err and "does not exist" in r.err, r.err
