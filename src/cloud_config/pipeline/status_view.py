"""The consortium's status: the chain head's node list joined with each node's signed status
record (branches `status/<domain>`); what `cloud-config status` prints and the status page shows.

A record counts only when its commit is SSH-signed by a key of the node's owner in the chain
head's members.toml (`ssh_keys` or `pipeline_keys`); a tip signed by anyone else is ignored and
reported, and the newest properly signed record below it (first parents) is used instead.
"""

from __future__ import annotations

import calendar
import hashlib
import os
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloud_config import git
from cloud_config.errors import CloudConfigError, GitError, NotFoundError
from cloud_config.model.chain import ChainConfig
from cloud_config.model.members import Members
from cloud_config.model.paths import CHAIN_CONFIG, MEMBERS_FILE
from cloud_config.model.status_record import RECORD_FILE, StatusRecord
from cloud_config.pipeline.reconcile import _location, redact

JSON_FORMAT = 1
STATUS_PREFIX = "refs/heads/status/"
WALK_BACK = 20  # how far below a badly signed tip a good record is looked for
SIGNATURE_CHUNK = 8  # status tips checked per git process
CONFIG_WALK_BACK = 50  # how far below a head that does not load a readable config is looked for


@dataclass
class Row:
    """One node of the chain head's list."""

    domain: str
    owner: str
    record: StatusRecord | None = None
    record_commit: str = ""
    lag: int | None = None  # first-parent steps behind the chain head; None: not on its first parents
    digest_differs: bool = False
    cert_days: int | None = None
    age_seconds: int | None = None
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The row as `--format json` prints it (format 1, docs/status.md)."""
        r = self.record
        return {
            "domain": self.domain,
            "owner": self.owner,
            "record": r is not None,
            "record_commit": self.record_commit or None,
            "chain_commit": r.chain_commit if r else None,
            "lag": self.lag,
            "result": r.result if r else None,
            "refusal": (r.refusal or None) if r else None,
            "node_commit": r.node_commit if r else None,
            "sync": (r.sync or None) if r else None,
            "digest": r.digest if r else None,
            "digest_differs": self.digest_differs,
            "cert_not_after": (r.cert_not_after or None) if r else None,
            "cert_days_left": self.cert_days,
            "age_seconds": self.age_seconds,
            "tool_version": r.tool_version if r else None,
            "problems": list(self.problems),
        }


@dataclass
class Consortium:
    """The chain head and every node's row."""

    chain_head: str
    stage: str
    validators: list[str]
    members: list[tuple[str, str, list[str]]]  # (name, role, domains)
    rows: list[Row]
    ignored: list[str]  # records not signed by their node's owner
    clusters: dict[str, str] = field(default_factory=dict)  # domain -> cluster (chain_config.toml)
    note: str = ""  # set when the head's config does not load and an older one was used

    def failing(self, max_lag: int, require_records: bool) -> list[str]:
        """Why the check fails (empty: it passes)."""
        out = []
        for row in self.rows:
            r = row.record
            if r is None:
                if require_records:
                    out.append(f"{row.domain}: no status record")
                continue
            if r.result == "refused":
                out.append(f"{row.domain}: refused ({r.refusal.get('rule', '?')})")
            if row.digest_differs:
                out.append(f"{row.domain}: digest differs from the majority")
            if row.lag is None or row.lag > max_lag:
                behind = "not on the chain's first-parent history" if row.lag is None else f"{row.lag} behind"
                out.append(f"{row.domain}: {behind} (max {max_lag})")
        return out

    def to_json(self, max_lag: int, require_records: bool) -> dict[str, Any]:
        """`--format json` (stable; docs/status.md)."""
        failing = self.failing(max_lag, require_records)
        return {
            "format": JSON_FORMAT,
            "chain_head": self.chain_head,
            "stage": self.stage,
            "nodes": [row.to_json() for row in self.rows],
            "ignored_records": list(self.ignored),
            "note": self.note or None,
            "ok": not failing,
            "failing": failing,
        }


def _epoch(stamp: str) -> int | None:
    try:
        return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return None


def mirror(source: str, cache_root: Path, branch: str = "master", status_source: str | None = None) -> Path:
    """A bare mirror (under `cache_root`) of `source`'s `branch` and status branches; its path."""
    url = _location(source)
    bare = cache_root / hashlib.sha256(f"{url}\0{status_source or ''}".encode()).hexdigest()[:12]
    if not (bare / "HEAD").is_file():
        bare.mkdir(parents=True, exist_ok=True)
        git.init(bare, bare=True)
    status_url = _location(status_source) if status_source else url
    for where, refspec in ((url, f"+refs/heads/{branch}:refs/heads/{branch}"),
                           (status_url, f"+{STATUS_PREFIX}*:{STATUS_PREFIX}*")):  # fmt: skip
        try:
            git.fetch_refs(bare, where, refspec)
        except GitError as exc:
            first = next((line for line in exc.stderr.splitlines() if line.strip()), "no output")
            raise CloudConfigError(
                f"cannot fetch {refspec.split(':')[0].lstrip('+')} from {redact(where)}: {redact(first)}"
            ) from None
    return bare


def load(repo: Path, branch: str = "master", now: float | None = None) -> Consortium:
    """The consortium as `repo` (a mirror, or any repository with those branches) shows it."""
    clock = time.time() if now is None else now
    try:
        head = git.rev_parse(repo, f"refs/heads/{branch}")
    except CloudConfigError:
        raise NotFoundError(f"{redact(str(repo))}: no branch {branch!r}") from None
    first = git.first_parents(repo, head)
    chain, members, note = _readable_config(repo, first, branch)
    steps = {sha: i for i, sha in enumerate(first)}
    tips = git.refs(repo, STATUS_PREFIX)
    rows = []
    for node in chain.node_network_address_list:
        owner = members.owner_of_domain(node.domain)
        rows.append(Row(node.domain, owner.name if owner else ""))
    ignored = _attach_records(repo, rows, tips, members)
    for row in rows:
        _fill(row, steps, clock)
    _mark_digests(rows)
    member_rows = [(m.name, m.role, list(m.domains)) for m in members.members]
    clusters = {n.domain: n.cluster for n in chain.node_network_address_list}
    validators = list(chain.system_config.validators)
    return Consortium(head, chain.stage.value, validators, member_rows, rows, ignored, clusters, note)


def _readable_config(repo: Path, first: list[str], branch: str) -> tuple[ChainConfig, Members, str]:
    """The chain config and members of the newest first-parent commit where both load (a broken
    head is what a refusal is about: the table must still show); a note when that is not the head."""
    problem = ""
    for sha in first[:CONFIG_WALK_BACK]:
        blobs = git.read_objects(repo, [f"{sha}:{CHAIN_CONFIG}", f"{sha}:{MEMBERS_FILE}"])
        chain_text, members_text = blobs[f"{sha}:{CHAIN_CONFIG}"], blobs[f"{sha}:{MEMBERS_FILE}"]
        try:
            if chain_text is None:
                raise NotFoundError(f"{branch} ({sha[:12]}) has no {CHAIN_CONFIG}")
            chain = ChainConfig.loads(chain_text.decode("utf-8"), f"{branch}:{CHAIN_CONFIG}")
            members = (
                Members.loads(members_text.decode("utf-8"), f"{branch}:{MEMBERS_FILE}")
                if members_text
                else Members()
            )
        except (CloudConfigError, UnicodeDecodeError) as exc:
            problem = problem or str(exc)
            continue
        note = "" if sha == first[0] else f"the head does not load ({problem}); node list from {sha[:12]}"
        return chain, members, note
    raise NotFoundError(problem or f"{branch}: no commit")


def _attach_records(repo: Path, rows: list[Row], tips: dict[str, str], members: Members) -> list[str]:
    ignored: list[str] = []
    with tempfile.TemporaryDirectory(prefix="cloud-config-status-") as tmp:
        allowed = Path(tmp) / "allowed_signers"
        allowed.write_text(members.allowed_signers(pipeline_keys=True), encoding="utf-8")
        have = [row for row in rows if row.domain in tips]
        checks = _signatures(repo, [tips[row.domain] for row in have], allowed)
        chosen: dict[str, str] = {}
        for row, (sha, status, fingerprint, principal) in zip(have, checks, strict=True):
            if _good(row, status, principal):
                chosen[row.domain] = sha
                continue
            ignored.append(_ignored_line(row, sha, status, fingerprint, principal))
            older = git.first_parents(repo, sha, WALK_BACK + 1)[1:]
            for old_sha, old_status, old_fp, old_principal in git.signatures(repo, older, allowed):
                if _good(row, old_status, old_principal):
                    chosen[row.domain] = old_sha
                    break
                ignored.append(_ignored_line(row, old_sha, old_status, old_fp, old_principal))
    specs = {domain: f"{sha}:{RECORD_FILE}" for domain, sha in chosen.items()}
    blobs = git.read_objects(repo, list(specs.values()))
    for row in rows:
        if row.domain not in chosen:
            continue
        text = blobs.get(specs[row.domain])
        try:
            record = StatusRecord.loads((text or b"").decode("utf-8"), f"status/{row.domain}:{RECORD_FILE}")
        except (CloudConfigError, UnicodeDecodeError) as exc:
            ignored.append(f"status/{row.domain} {chosen[row.domain][:12]}: not a status record: {exc}")
            continue
        if record.domain != row.domain:
            ignored.append(f"status/{row.domain} {chosen[row.domain][:12]}: record is for {record.domain!r}")
            continue
        row.record, row.record_commit = record, chosen[row.domain]
    return ignored


def _signatures(repo: Path, revs: list[str], allowed: Path) -> list[tuple[str, str, str, str]]:
    """git.signatures of `revs`, in chunks run side by side: git runs ssh-keygen a few times per
    signature (~0.1 s each here), which dominates `status` on a large chain."""
    chunks = [revs[i : i + SIGNATURE_CHUNK] for i in range(0, len(revs), SIGNATURE_CHUNK)]
    if len(chunks) <= 1:
        return git.signatures(repo, revs, allowed)
    workers = min(len(chunks), (os.cpu_count() or 1) * 2)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return [row for part in pool.map(lambda c: git.signatures(repo, c, allowed), chunks) for row in part]


def _good(row: Row, status: str, principal: str) -> bool:
    return status == "G" and bool(row.owner) and principal == row.owner


def _ignored_line(row: Row, sha: str, status: str, fingerprint: str, principal: str) -> str:
    if status == "N":
        who = "unsigned"
    elif status == "G":
        who = f"signed by {principal!r}"
    else:
        who = f"signed by unknown key {fingerprint or '?'}"
    owner = repr(row.owner) if row.owner else "no member (the node has no owner in members.toml)"
    return f"status/{row.domain} {sha[:12]}: {who}, not by the node's owner {owner}; ignored"


def _days_left(end: int, clock: float) -> int:
    """crypto.pki's days_left, the one computation of a certificate's days left."""
    import datetime

    from cloud_config.crypto.pki import days_left

    utc = datetime.UTC
    return days_left(datetime.datetime.fromtimestamp(end, utc), datetime.datetime.fromtimestamp(clock, utc))


def _fill(row: Row, steps: dict[str, int], clock: float) -> None:
    r = row.record
    if r is None:
        return
    # A refused node still runs what it applied last; its lag counts from the refused commit.
    row.lag = steps.get(r.chain_commit)
    if r.cert_not_after:
        end = _epoch(r.cert_not_after)
        row.cert_days = None if end is None else _days_left(end, clock)
    finished = _epoch(r.finished)
    row.age_seconds = None if finished is None else max(0, int(clock - finished))


def _mark_digests(rows: list[Row]) -> None:
    counts = Counter(row.record.digest for row in rows if row.record is not None)
    if len(counts) < 2:
        return
    (top, n), (_, m) = counts.most_common(2)
    for row in rows:
        if row.record is None:
            continue
        if n == m:  # no majority: every digest is in doubt
            row.digest_differs = True
            row.problems.append("digest: no majority")
        elif row.record.digest != top:
            row.digest_differs = True
            row.problems.append("digest differs from the majority")
