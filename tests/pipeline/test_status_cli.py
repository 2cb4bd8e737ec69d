"""`cloud-config status` on a real chain repo with status records made as signed git commits:
rows, `--format json`, exit codes, lag after two merges, a digest mismatch, a record signed by
another member's key (ignored and reported), and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cloud_config import git
from cloud_config.demo.world import CHAIN, Person
from cloud_config.model.members import Member, Members
from cloud_config.model.status_record import RECORD_FILE, StatusRecord, branch_of
from tests.support.gate_corpus import Cli
from tests.support.pipeline_repos import Writer, build_template

pytestmark = pytest.mark.slow  # builds a chain with the local forge

NODE2 = '\n[[node_network_address_list]]\ndomain = "node2"\nhost = "www.node2.com"\nport = 40002\n'
DIGEST = "sha256:" + "a" * 64


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template(tmp_path_factory.mktemp("status-template"))


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Person]:
    root = tmp_path_factory.mktemp("status-keys")
    out = {name: Person(name, root / name) for name in ("alice", "alice-pipeline", "bob", "carol")}
    for person in out.values():
        assert person.key.is_file()
    return out


class Chain:
    """A bare chain repo (master + status branches) and a writer clone."""

    def __init__(self, template: Path, tmp: Path, people: dict[str, Person]) -> None:
        self.bare = tmp / "chain.git"
        shutil.copytree(template / f"{CHAIN}.git", self.bare)
        self.people = people
        self.writer = Writer(str(self.bare), tmp / "writer")
        members = Members(
            [
                Member("alice", ssh_keys=[people["alice"].public], domains=["node0"],
                       pipeline_keys=[people["alice-pipeline"].public]),
                Member("bob", ssh_keys=[people["bob"].public], domains=["node1"]),
                Member("carol", ssh_keys=[people["carol"].public], domains=["node2"]),
            ]
        )  # fmt: skip
        config = (self.writer.dir / "chain_config.toml").read_text() + NODE2
        self.writer.write(
            {"members.toml": members.dumps().encode(), "chain_config.toml": config.encode()}, "members, node2"
        )

    @property
    def head(self) -> str:
        return git.rev_parse(self.bare, "master")

    def merge(self, n: int) -> None:
        """`n` more commits on master (first-parent steps)."""
        for i in range(n):
            text = (self.writer.dir / "chain_config.toml").read_text()
            self.writer.write({"chain_config.toml": (text + f"# step {i}\n").encode()}, f"step {i}")

    def record(self, domain: str, signer: str, *, chain_commit: str | None = None, digest: str = DIGEST,
               result: str = "up-to-date", owner: str = "x") -> str:  # fmt: skip
        """Push a status record for `domain` signed by `signer`'s key; its commit."""
        record = StatusRecord(
            domain=domain, owner=owner, result=result, chain_commit=chain_commit or self.head,
            node_commit="b" * 40, digest=digest, tool_version="6.7.4", started="2026-12-01T22:00:00Z",
            finished="2026-12-01T22:00:01Z", cert_not_after="2036-01-01T00:00:00Z",
            refusal={"rule": "render", "commit": self.head, "message": "no"} if result == "refused" else {},
        )  # fmt: skip
        ref = f"refs/heads/{branch_of(domain)}"
        parent = git.run(self.bare, "for-each-ref", "--format=%(objectname)", ref) or None
        files = {RECORD_FILE: record.dumps().encode()}
        sha = git.commit_files_signed(self.bare, files, parent, "status", self.people[signer].key)
        git.run(self.bare, "update-ref", ref, sha)
        return sha


@pytest.fixture
def chain(template: Path, tmp_path: Path, people: dict[str, Person]) -> Chain:
    return Chain(template, tmp_path, people)


def _json(cli: Cli, chain: Chain, *flags: str) -> tuple[int, dict[str, object]]:
    r = cli("status", "--repo", str(chain.bare), "--format", "json", *flags)
    assert r.err == "", r.err
    return r.code, json.loads(r.out)


def _nodes(report: dict[str, object]) -> dict[str, dict[str, object]]:
    return {n["domain"]: n for n in report["nodes"]}  # type: ignore[attr-defined]


def test_rows_and_exit_codes(cli: Cli, chain: Chain) -> None:
    chain.record("node0", "alice-pipeline")  # the pipeline key counts for the owner's node
    chain.record("node1", "bob")  # so does the owner's own key
    r = cli("status", "--repo", str(chain.bare))
    assert r.code == 0, r.out
    lines = r.out.splitlines()
    assert lines[0].startswith(f"chain {chain.head[:12]} (Finalize), 3 nodes")
    assert lines[1].split() == [
        "DOMAIN",
        "OWNER",
        "APPLIED",
        "LAG",
        "RESULT",
        "SYNC",
        "DIGEST",
        "CERT",
        "AGE",
    ]
    row0 = lines[2].split()
    assert row0[:5] == ["node0", "alice", chain.head[:12], "0", "up-to-date"]
    assert lines[4].split()[:3] == ["node2", "carol", "-"] and "no record" in lines[4]
    assert cli("status", "--repo", str(chain.bare), "--require-records").code == 1

    code, report = _json(cli, chain, "--require-records")
    assert code == 1 and report["ok"] is False and report["failing"] == ["node2: no status record"]
    assert report["format"] == 1 and report["chain_head"] == chain.head
    node0 = _nodes(report)["node0"]
    assert set(node0) == {
        "domain", "owner", "record", "record_commit", "chain_commit", "lag", "result", "refusal",
        "node_commit", "sync", "digest", "digest_differs", "cert_not_after", "cert_days_left",
        "age_seconds", "tool_version", "problems",
    }  # fmt: skip
    assert node0["lag"] == 0 and node0["owner"] == "alice" and node0["cert_days_left"] > 3000  # type: ignore[operator]


def test_lag_after_two_merges(cli: Cli, chain: Chain) -> None:
    chain.record("node0", "alice")
    chain.record("node1", "bob")
    chain.merge(2)
    code, report = _json(cli, chain)
    assert code == 1 and {n["lag"] for n in _nodes(report).values() if n["record"]} == {2}
    assert "node0: 2 behind (max 0)" in report["failing"]  # type: ignore[operator]
    assert cli("status", "--repo", str(chain.bare), "--max-lag", "2").code == 0
    assert cli("status", "--repo", str(chain.bare), "--max-lag", "1").code == 1


def test_digest_mismatch_is_flagged(cli: Cli, chain: Chain) -> None:
    chain.record("node0", "alice")
    chain.record("node1", "bob", digest="sha256:" + "e" * 64)
    chain.record("node2", "carol")
    r = cli("status", "--repo", str(chain.bare))
    assert r.code == 1 and "DIFFERS" in next(li for li in r.out.splitlines() if li.startswith("node1"))
    _, report = _json(cli, chain)
    nodes = _nodes(report)
    assert [d for d, n in nodes.items() if n["digest_differs"]] == ["node1"]
    assert report["failing"] == ["node1: digest differs from the majority"]


def test_record_signed_by_another_members_key_is_ignored_and_reported(cli: Cli, chain: Chain) -> None:
    good = chain.record("node0", "alice-pipeline", result="up-to-date")
    bad = chain.record("node0", "bob", result="refused")  # bob forges node0's record
    _, report = _json(cli, chain)
    node0 = _nodes(report)["node0"]
    assert node0["record_commit"] == good and node0["result"] == "up-to-date"
    ignored = report["ignored_records"]
    assert ignored == [f"status/node0 {bad[:12]}: signed by 'bob', not by the node's owner 'alice'; ignored"]
    # A key nobody registered: ignored too, and nothing counts when it is the only record.
    chain.record("node1", "alice")  # alice signs bob's node
    r = cli("status", "--repo", str(chain.bare))
    assert "ignored: status/node1" in r.out and "signed by 'alice'" in r.out
    assert next(li for li in r.out.splitlines() if li.startswith("node1")).split()[2] == "-"


def test_bad_input_gets_one_line(cli: Cli, tmp_path: Path) -> None:
    r = cli("status", "--repo", str(tmp_path / "missing"))
    assert r.code != 0 and r.out == "" and r.err.startswith("error: ") and len(r.err.splitlines()) == 1
    r = cli("status", "--repo", ".", "--max-lag", "-1")
    assert r.code == 2 and "--max-lag" in r.err
