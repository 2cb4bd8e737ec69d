"""Verify on receipt: every first-parent step of the chain branch since the node's last applied
chain commit passes the gate's rules before anything is rendered.

The starting point is the newest `Chain-Commit` trailer of the node repo (the chain commit this
node last applied), or, when the node repo has none yet, the operator's trust root. Each step
(a merge or a direct commit on the chain branch) is judged by `judge_step` against its first
parent, with members.toml as of the last step this pipeline accepted: a refused step's changes
to members.toml never count. A refused step is recovered by a later passing step, signed by an
admin, that restores every file the refused steps changed (a `git revert`); otherwise the
pipeline keeps refusing until its operator re-anchors with a newer trust root.
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cloud_config import git
from cloud_config.errors import CloudConfigError
from cloud_config.gate.findings import ERROR, Report
from cloud_config.gate.verify import verify
from cloud_config.model.members import Members
from cloud_config.model.paths import MEMBERS_FILE

HISTORY_REWRITTEN = "history-rewritten"
TRUST_ROOT_MISSING = "trust-root-missing"
TRUST_ROOT_INVALID = "trust-root-invalid"
MEMBERS_MISSING = "members-missing"
TRAILER = "Chain-Commit"


@dataclass(frozen=True)
class Refusal:
    """Why the receipt check refused a chain head: the rule, the refused step, what is wrong."""

    rule: str
    commit: str  # the refused step ("" when the refusal is about no single step)
    message: str


class ReceiptRefused(CloudConfigError):
    """The chain head did not pass the receipt check; nothing was rendered or pushed."""

    def __init__(self, domain: str, chain_sha: str, refusal: Refusal) -> None:
        where = f" in {refusal.commit[:12]}" if refusal.commit else ""
        super().__init__(
            f"{domain}: refusing chain {chain_sha[:12]}: {refusal.rule}{where}: {refusal.message}; "
            "nothing pushed"
        )
        self.domain = domain
        self.chain_sha = chain_sha
        self.refusal = refusal


@dataclass(frozen=True)
class Policy:
    """How strict the check is: the chain's name (for certificate names) and require_members."""

    chain_name: str
    require_members: bool = False


@dataclass
class Receipt:
    """The verdict on start..head: the steps judged, the refusal if any, warnings."""

    start: str
    head: str
    steps: int = 0
    refusal: Refusal | None = None
    warnings: list[str] = field(default_factory=list)


def judge_step(repo: Path, parent: str, step: str, members_rev: str, policy: Policy) -> Report:
    """The gate's verdict on one step (parent..step), signatures, lanes and approvals judged with
    members.toml (and its `[policy.approvals]`) as of `members_rev`; a merge step's approvals are
    those of its second parent, the PR's head (gate/approvals.py). The one place a step is judged."""
    return verify(
        repo, parent, step, policy.chain_name, members_rev=members_rev, require_members=policy.require_members
    )


def starting_point(chain_dir: Path, node_dir: Path, trust_root: str | None) -> tuple[str, Refusal | None]:
    """Where the check starts: (chain commit, refusal when there is none to start from).

    The node repo's newest Chain-Commit trailer, unless a trust root is given that is not already
    behind it (a trust root older than the trailer is a stale setting: the trailer wins, so a
    forgotten `trust_root` never lets a rewrite through)."""
    applied = git.last_trailer(node_dir, TRAILER)
    if trust_root is None:
        if applied is None:
            return "", Refusal(
                TRUST_ROOT_MISSING,
                "",
                "the node repo has no Chain-Commit trailer yet, so nothing says which chain commit "
                "to trust; review the chain repo and pass --trust-root <sha> (serve.toml: "
                'trust_root = "<sha>" in the [[pipeline]])',
            )
        return applied, None
    if not git.is_commit(chain_dir, trust_root):
        return "", Refusal(
            TRUST_ROOT_INVALID, "", f"the trust root {trust_root[:40]!r} is not a commit of the chain repo"
        )
    root = git.rev_parse(chain_dir, trust_root)
    if applied is not None and git.is_ancestor(chain_dir, root, applied):  # false when not in the repo
        return applied, None
    return root, None


def check(chain_dir: Path, start: str, head: str, policy: Policy) -> Receipt:
    """Judge every first-parent step of start..head; see the module docstring."""
    receipt = Receipt(start, head)
    if not git.is_ancestor(chain_dir, start, head):  # false too when `start` is not in the repo
        receipt.refusal = Refusal(
            HISTORY_REWRITTEN,
            start,
            "the chain head does not contain this commit, which this node last applied: the branch "
            "was reset or rewritten; review it and re-anchor with --trust-root",
        )
        return receipt
    accepted = start  # the last step accepted: its members.toml judges the next ones
    refused: list[tuple[str, str, Refusal]] = []  # (step, parent, why), oldest first
    for step, parent in git.first_parent_steps(chain_dir, start, head):
        receipt.steps += 1
        report = judge_step(chain_dir, parent, step, accepted, policy)
        if report.passed and not refused:
            accepted = step
            continue
        if report.passed and _recovers(chain_dir, parent, step, refused, accepted):
            refused.clear()
            accepted = step
            continue
        if not report.passed:
            refused.append((step, parent, _refusal(step, report)))
    if refused:
        receipt.refusal = refused[0][2]
    if not policy.require_members and git.show(chain_dir, accepted, MEMBERS_FILE) is None:
        receipt.warnings.append(
            f"{MEMBERS_MISSING}: no members.toml at {accepted[:12]}: commit signatures and who may "
            "change what are not checked"
        )
    return receipt


def _refusal(step: str, report: Report) -> Refusal:
    errors = [f for f in report.findings if f.severity == ERROR]
    first = errors[0]
    where = f"{first.path}: {first.field}: " if first.field else f"{first.path}: "
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return Refusal(first.rule, step, f"{where}{first.message}{more}")


def _recovers(
    repo: Path, parent: str, step: str, refused: list[tuple[str, str, Refusal]], accepted: str
) -> bool:
    """Whether `step` restores every file the refused steps changed to its content before them
    and is signed by an admin of members.toml as of `accepted` (any signer when there is none)."""
    after = git.ls_tree_ids(repo, step)
    restored: set[str] = set()
    for bad, bad_parent, _ in refused:
        before = git.ls_tree_ids(repo, bad_parent)
        for path in git.changed_paths(repo, bad_parent, bad):
            if path in restored:
                continue  # judged against the state before the first refused step that changed it
            if after.get(path) != before.get(path):
                return False
            restored.add(path)
    return _signed_by_admin(repo, parent, step, accepted)


def _signed_by_admin(repo: Path, base: str, step: str, accepted: str) -> bool:
    data = git.show(repo, accepted, MEMBERS_FILE)
    if data is None:
        return True  # no members.toml: no signatures are checked anywhere (a members-missing warning)
    try:
        members = Members.loads(data.decode("utf-8"), MEMBERS_FILE)
    except (CloudConfigError, UnicodeDecodeError):
        return False
    with tempfile.TemporaryDirectory(prefix="cloud-config-receipt-") as tmp:
        allowed = Path(tmp) / "allowed_signers"
        allowed.write_text(members.allowed_signers(), encoding="utf-8")
        # The step's own commits that change something: merges join them (nothing of their own
        # here) and empty commits are approvals (gate/approvals.py), whoever signed them.
        rows = [row for row in git.signed_commits(repo, base, step, allowed) if len(row[1]) <= 1]
        trees = git.trees_of(repo, [row[1][0] for row in rows if row[1]])
        rows = [row for row in rows if not row[1] or trees[row[1][0]] != row[5]]
    admins = [members.get(principal) for _, _, status, _, principal, _ in rows if status == "G"]
    return bool(rows) and len(admins) == len(rows) and all(m is not None and m.is_admin for m in admins)


class ReceiptCache:
    """Receipt verdicts shared by the nodes of one pipeline: one check per (start, head, policy),
    however many nodes start from the same applied chain commit (`serve`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done: dict[tuple[str, str, Policy], Receipt] = {}
        self._busy: dict[tuple[str, str, Policy], threading.Lock] = {}
        self.checks = 0

    def check(self, chain_dir: Path, start: str, head: str, policy: Policy) -> Receipt:
        """`check(...)`, computed once per key; nodes asking meanwhile wait for the first."""
        key = (start, head, policy)
        with self._lock:
            if key in self._done:
                return self._done[key]
            busy = self._busy.setdefault(key, threading.Lock())
        with busy:
            with self._lock:
                if key in self._done:
                    return self._done[key]
            receipt = check(chain_dir, start, head, policy)
            with self._lock:
                self._done[key] = receipt
                self._busy.pop(key, None)
                self.checks += 1
                if len(self._done) > 256:  # old heads are never asked again
                    self._done.pop(next(iter(self._done)))
            return receipt
