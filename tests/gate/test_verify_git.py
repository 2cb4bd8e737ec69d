"""The gate's lower layers: git's own signature verdicts, blob reading, and secret recognition."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cloud_config import git
from cloud_config.gate.change_summary import node_file
from cloud_config.gate.rules.secrets import content_secret
from cloud_config.model.paths import key_material as path_secret
from tests.support.gate_corpus import ChainRepo, Cli, assert_fails_with


def _forge(chain: ChainRepo, message: str) -> str:
    """A commit carrying p1's signature of another commit: same signature, altered content."""
    raw = chain.git("cat-file", "commit", "HEAD")
    header, _, old_message = raw.partition("\n\n")
    forged = subprocess.run(
        ["git", "-C", str(chain.repo), "hash-object", "-t", "commit", "-w", "--stdin"],
        input=f"{header}\n\n{message}\n", capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert old_message.strip() != message
    return forged


def test_a_tampered_signed_commit_is_refused(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    chain.edit_config('host = "www.node0.com"', 'host = "10.0.0.10"')
    chain.commit("move node0", "p1")
    forged = _forge(chain, "move node0 (reworded after signing)")
    chain.git("reset", "-q", "--hard", forged)
    report = assert_fails_with(cli, chain, "certs", "unsigned-commit")
    assert report["findings"][0]["message"].startswith("its SSH signature does not verify")


def test_signed_commits_reports_what_git_says(chain: ChainRepo, tmp_path: Path) -> None:
    chain.pr("certs")
    for signer in ("p1", None, "mallory"):
        (chain.repo / "notes.txt").write_text(str(signer))
        chain.commit(f"by {signer}", signer)
    allowed = tmp_path / "allowed"
    allowed.write_text(f'p1 namespaces="git" {chain.people["p1"].public}\n')
    rows = git.signed_commits(chain.repo, "certs", "HEAD", allowed)
    assert [(r[2], r[4]) for r in rows] == [("G", "p1"), ("N", ""), ("U", "")]
    assert rows[0][1] == (chain.git("rev-parse", "certs"),)
    assert rows[0][5] == chain.git("rev-parse", f"{rows[0][0]}^{{tree}}")
    assert rows[2][3].startswith("SHA256:")


def test_read_objects_by_id_and_by_path(prepared: ChainRepo) -> None:
    tree = git.ls_tree_ids(prepared.repo, "certs")
    blob = tree["ca_cert/cert.pem"]
    got = git.read_objects(prepared.repo, [blob, "certs:ca_cert/cert.pem", "certs:nope", "certs"])
    assert got[blob] == got["certs:ca_cert/cert.pem"] == (prepared.repo / "ca_cert/cert.pem").read_bytes()
    assert got["certs:nope"] is None and got["certs"] is None


def test_added_blobs_include_files_deleted_again_renames_and_aliases(chain: ChainRepo) -> None:
    chain.pr("certs")
    (chain.repo / "tmp.txt").write_text("short-lived")
    (chain.repo / "alias.txt").write_text("short-lived")
    chain.commit("add", "admin")
    chain.git("mv", "tmp.txt", "moved.txt")
    chain.commit("rename", "admin")
    (chain.repo / "moved.txt").unlink()
    chain.commit("remove", "admin")
    rows = git.added_blobs(chain.repo, "certs", "HEAD")
    assert sorted(path for _, path in rows) == ["alias.txt", "moved.txt", "tmp.txt"]
    assert len({blob for blob, _ in rows}) == 1


def test_secret_recognition() -> None:
    assert path_secret("accounts/ab12/private_key") is not None
    assert path_secret("accounts/ab12/node_address") is not None
    assert path_secret("accounts/.gitkeep") is None
    assert path_secret("ca_cert/key.pem") == "the CA private key"
    assert path_secret("certs/node0/key.pem") is not None
    assert path_secret("certs/node0/cert.pem") is None
    assert content_secret(b"x\n-----BEGIN EC PRIVATE KEY-----\n") == "a PEM private key"
    assert content_secret(b"-----BEGIN OPENSSH PRIVATE KEY-----") is not None
    assert content_secret(b"-----BEGIN CERTIFICATE-----\n-----BEGIN PUBLIC KEY-----") is None


def test_node_file() -> None:
    assert node_file("certs/node0/cert.pem") == ("node0", "cert")
    assert node_file("certs/node0/csr.pem") == ("node0", "csr")
    assert node_file("certs/node0/key.pem") is None
    assert node_file("certs/a/b/cert.pem") is None
