"""The audit trail: every first-parent step of the chain branch, who made it, who approved it,
and the gate's verdict on it (`cloud-config audit`, for a consortium's security review)."""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cloud_config import git
from cloud_config.gate import approvals
from cloud_config.gate.change_summary import changes, load_snapshot, resolve
from cloud_config.gate.verify import verify

JSON_VERSION = 1
_STATUS = {"G": "good", "N": "none", "B": "bad"}


@dataclass
class Signer:
    """A commit's signature: the member it belongs to (None: no member's key) and the key."""

    member: str | None
    fingerprint: str
    status: str  # good, none (unsigned), bad (altered after signing), unknown (not checkable)


@dataclass
class Step:
    """One first-parent step of the chain branch (a merge or a direct commit)."""

    commit: str
    parent: str | None  # None for the root commit (the trust anchor)
    merged: str | None  # a merge's second parent: the PR's head
    date: str
    subject: str
    author: str
    signer: Signer
    kinds: list[str] = field(default_factory=list)
    approvers: list[str] = field(default_factory=list)
    verdict: str = "root"  # passed, failed, root (not judged: nothing before it)
    errors: list[str] = field(default_factory=list)  # rule ids
    warnings: list[str] = field(default_factory=list)


def audit(repo: Path, since: str | None, chain_name: str) -> list[Step]:
    """Each first-parent step of HEAD after `since` (all of them without it), oldest first."""
    head = resolve(repo, "HEAD", "--repo")
    start = resolve(repo, since, "--since") if since else None
    out = git.run(repo, "rev-list", "--first-parent", "--reverse", f"{start}..{head}" if start else head)
    return [_step(repo, sha, chain_name) for sha in out.split()]


def _step(repo: Path, sha: str, chain_name: str) -> Step:
    parents = git.parents_of(repo, sha)
    parent = parents[0] if parents else None
    # Who may sign is read at the parent; the root commit is the bootstrap, read as it stands.
    members = load_snapshot(repo, parent or sha, certs=False).members
    with tempfile.TemporaryDirectory(prefix="cloud-config-audit-") as tmp:
        allowed = Path(tmp) / "allowed_signers"
        allowed.write_text(members.allowed_signers() if members else "", encoding="utf-8")
        fields = ["%cI", "%s", "%an <%ae>", "%G?", "%GS", "%GF"]
        [[date, subject, author, status, principal, fingerprint]] = git.signature_log(
            repo, allowed, ["-1", sha], fields
        )
    member = members.get(principal) if members and status == "G" else None
    signer = Signer(member.name if member else None, fingerprint, _STATUS.get(status, "unknown"))
    step = Step(sha, parent, parents[1] if len(parents) > 1 else None, date, subject, author, signer)
    if parent is None:
        return step
    found = changes(load_snapshot(repo, parent, certs=False), load_snapshot(repo, sha, certs=False))
    step.kinds = approvals.kinds_of(found)
    step.approvers = approvals.check(repo, members, parent, sha, found, everyone=True).approvers
    report = verify(repo, parent, sha, chain_name)
    step.verdict = "passed" if report.passed else "failed"
    step.errors = sorted({f.rule for f in report.findings if f.severity == "error"})
    step.warnings = sorted({f.rule for f in report.findings if f.severity != "error"})
    return step


def render_text(steps: list[Step]) -> str:
    """A block of lines per step."""
    if not steps:
        return "no step to audit\n"
    lines: list[str] = []
    for s in steps:
        who = s.signer.member or ("unsigned" if s.signer.status == "none" else "no member's key")
        key = f" ({s.signer.fingerprint})" if s.signer.fingerprint else ""
        verdict = s.verdict if not s.errors else f"FAILED: {', '.join(s.errors)}"
        lines += [
            f"{s.commit[:12]}  {s.date}  {s.subject}",
            f"  kinds:     {', '.join(s.kinds) or '-'}",
            f"  author:    {s.author}",
            f"  signer:    {who}{key}",
            f"  approvers: {', '.join(s.approvers) or '-'}",
            f"  verdict:   {verdict}{' (warnings: ' + ', '.join(s.warnings) + ')' if s.warnings else ''}",
        ]
    return "\n".join(lines) + "\n"


def render_json(steps: list[Step]) -> str:
    """The documented JSON form (docs/verify.md)."""
    doc: dict[str, Any] = {"version": JSON_VERSION, "steps": [asdict(s) for s in steps]}
    return json.dumps(doc, indent=2) + "\n"
