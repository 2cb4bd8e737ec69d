"""What verify reads, counted on real repos: chain_config.toml parsed once per blob id (a version that
only edits node entries derived from its parent's, exactly as a whole parse reads it), commits that
leave the TOML files alone judged without parsing them, each signature checked by ssh-keygen once."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest

from cloud_config import git
from cloud_config.gate.blob_cache import BlobCache, Parsed
from cloud_config.gate.change_summary import changes, load_snapshot
from cloud_config.gate.rules.members import lane_changes, signature_rows
from cloud_config.gate.verify import verify
from cloud_config.model.chain import ChainConfig
from cloud_config.model.paths import CHAIN_CONFIG
from tests.support.gate_corpus import CHAIN, ChainRepo

ENTRY = '[[node_network_address_list]]\ncluster = "k8s"\ndomain = "node0"\n'


def _blob(chain: ChainRepo, rev: str) -> str:
    return chain.git("rev-parse", f"{rev}:{CHAIN_CONFIG}")


def _edit(chain: ChainRepo, old: str, new: str, message: str) -> str:
    chain.edit_config(old, new)
    chain.commit(message, "p1")
    return _blob(chain, "HEAD")


def test_a_derived_version_reads_as_its_whole_parse(chain: ChainRepo) -> None:
    """Moves, an added and a removed entry are derived; a bad port or an unknown key in an entry
    gives the whole parse's error word for word; a node line hidden in a multi-line string, or a
    change outside the node list, is parsed whole."""
    chain.pr("certs")
    versions = [_blob(chain, "HEAD")]
    versions.append(_edit(chain, 'host = "www.node0.com"', 'host = "10.0.0.10"', "move node0"))
    chain.run("append-node", "--node", "www.node9.com:40009:node9:k8s")
    chain.commit("add node9", "p1")
    versions.append(_blob(chain, "HEAD"))
    versions.append(_edit(chain, "port = 40001", "port = 99999", "a port out of range"))
    versions.append(_edit(chain, "port = 99999", "port = 40011\nweight = 3", "an unknown key"))
    versions.append(_edit(chain, "port = 40011\nweight = 3", "port = 40011", "fixed again"))
    text = (chain.repo / CHAIN_CONFIG).read_text()
    start = text.index("[[node_network_address_list]]", text.index('domain = "node9"') - 80)
    end = text.index("\n[", start + 1) + 1
    versions.append(_edit(chain, text[start:end], "", "node9 removed"))
    derived = len(versions) - 1
    hidden = 'host = "www.node1.com"'
    versions.append(_edit(chain, hidden, f'{hidden}\ncluster2 = """\n{ENTRY}"""', "a node line in a string"))
    versions.append(_edit(chain, "block_interval = 3", "block_interval = 4", "not a node entry"))

    cache = BlobCache(chain.repo)
    cache.chain(versions[0])
    for parent, blob in itertools.pairwise(versions):
        cache.chain(blob, parent)
        whole = BlobCache(chain.repo)
        assert cache.chain(blob) == whole.chain(blob) and whole.whole_parses == 1, blob
    assert (cache.derived, cache.whole_parses) == (derived, 1 + 2)
    errors = [cache.chain(b)[1] for b in versions]
    assert errors[3] and "node_network_address_list[1].port" in errors[3]
    assert cache.chain(versions[4])[2] is True  # an unknown field
    assert [bool(e) for e in errors] == [False, False, False, True, True, False, False, True, True]


def test_commits_that_leave_the_toml_files_alone_parse_nothing(chain: ChainRepo) -> None:
    """A member's commits to its CSR only: no chain_config.toml or members.toml version is parsed
    beyond the base's, and each commit's change is the one whole snapshots give."""
    chain.pr("certs")
    base = chain.git("rev-parse", "HEAD")
    commits = []
    for i in range(3):
        (chain.repo / "certs" / "node0" / "csr.pem").write_text(f"not a CSR {i}\n")
        commits.append(chain.commit(f"csr {i}", "p1"))
    cache = BlobCache(chain.repo)
    load_snapshot(chain.repo, base, certs=False, cache=cache)
    parsed = cache.whole_parses
    pairs = list(zip(commits, [base, *commits], strict=False))
    found = lane_changes(chain.repo, cache, pairs)
    assert (cache.whole_parses, cache.derived) == (parsed, 0)
    for sha, parent in pairs:
        slow = changes(
            load_snapshot(chain.repo, parent, certs=False), load_snapshot(chain.repo, sha, certs=False)
        )
        assert found[sha] == slow and [c.kind for c in slow] == ["csr"]


def test_a_long_pr_parses_chain_config_whole_at_its_ends_only(
    chain: ChainRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Six commits moving nodes, the fourth by p2 moving p1's node: caught on a derived version,
    and chain_config.toml parsed whole only at the base and the head."""
    whole: list[str] = []
    parse = BlobCache.parse_chain

    def counted(self: BlobCache, blob: str, data: bytes | None) -> Parsed[ChainConfig]:
        whole.append(blob)
        return parse(self, blob, data)

    monkeypatch.setattr(BlobCache, "parse_chain", counted)
    chain.pr("certs")
    for i in range(6):
        signer, domain = ("p2", "node0") if i == 3 else ("p1", f"node{i % 2}")
        port = 40000 + int(domain[-1])
        chain.edit_config(f"port = {port}\n", f"port = {port + 100}\n")
        chain.commit(f"move {domain}", signer)
        chain.edit_config(f"port = {port + 100}\n", f"port = {port}\n")
        chain.commit(f"move {domain} back", "p1")
    report = verify(chain.repo, "certs", "HEAD", CHAIN)
    owner = [f for f in report.findings if f.rule == "not-owner"]
    assert len(owner) == 1 and "by member 'p2' changes node node0, which belongs to 'p1'" in owner[0].message
    assert sorted(set(whole)) == sorted({_blob(chain, "certs"), _blob(chain, "HEAD")})


def test_each_signature_is_checked_once(
    chain: ChainRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With an approval policy in force, verify starts ssh-keygen as often as one git log of the
    PR's signatures does: the approvals count reads the signature rules' rows."""
    log = tmp_path / "ssh-keygen.log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    real = shutil.which("ssh-keygen")
    assert real
    (bin_dir / "ssh-keygen").write_text(f'#!/bin/sh\necho "$1" >> {log}\nexec {real} "$@"\n')
    (bin_dir / "ssh-keygen").chmod(0o755)
    chain.git("checkout", "-q", "-b", "with-policy", "certs")
    members = chain.repo / "members.toml"
    members.write_text(members.read_text() + "\n[policy.approvals]\nnode = 2\n")
    chain.commit("approval policy", "admin")
    chain.pr("certs")
    chain.git("reset", "-q", "--hard", "with-policy")
    base = chain.git("rev-parse", "HEAD")
    chain.edit_config('host = "www.node0.com"', 'host = "10.0.0.10"')
    chain.commit("move node0", "p1")
    chain.git("commit", "-q", "--allow-empty", "--no-gpg-sign", "-m", "unsigned")
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(real).parent}")

    report = verify(chain.repo, base, "HEAD", CHAIN)
    assert report.approvals["node"]["approvers"] == ["p1"]
    once = log.read_text().count("\n")
    log.unlink()
    snapshot = load_snapshot(chain.repo, base, certs=False)
    assert snapshot.members is not None
    signature_rows(chain.repo, snapshot.members, base, git.rev_parse(chain.repo, "HEAD"))
    assert once == log.read_text().count("\n") > 0


def test_a_long_pr_checks_its_signatures_in_two_halves_in_order(
    chain: ChainRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From SPLIT_SIGNATURES_AT commits on, two git processes check the halves side by side: the rows
    are those one git process gives, oldest first, an unsigned commit among them still unsigned."""
    chain.pr("certs")
    base = chain.git("rev-parse", "HEAD")
    for i in range(git.SPLIT_SIGNATURES_AT + 3):
        (chain.repo / "notes.txt").write_text(f"{i}\n")
        chain.commit(f"note {i}", None if i == 7 else "p1")
    head = git.rev_parse(chain.repo, "HEAD")
    snapshot = load_snapshot(chain.repo, base, certs=False)
    assert snapshot.members is not None
    split = signature_rows(chain.repo, snapshot.members, base, head)
    monkeypatch.setattr(git, "SPLIT_SIGNATURES_AT", 10**6)
    whole = signature_rows(chain.repo, snapshot.members, base, head)
    assert split == whole
    assert [row[0] for row in split] == chain.git("rev-list", "--reverse", f"{base}..{head}").split()
    assert [row[2] for row in split].count("N") == 1 and split[7][2] == "N"
    assert {row[2] for i, row in enumerate(split) if i != 7} == {"G"}
