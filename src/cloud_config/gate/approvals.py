"""Approvals: signed commits on a PR branch that vouch for its tree, counted against the policy.

The policy in force is `[policy.approvals]` of members.toml at the base (model/policy.py). A
member approves the tree of a PR's final head commit by signing a commit whose tree it is (the
author's own commit) or whose message carries the trailer `Approves-Tree: <that tree>` (what
`cloud-config approve` makes, an empty commit). Each member counts once; keys are those of the
base's members.toml. On receipt, a merge step's approved head is the merge's second parent.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloud_config import git
from cloud_config.errors import CloudConfigError, NotFoundError, UsageError
from cloud_config.gate.change_summary import Change, changes, load_snapshot, resolve
from cloud_config.gate.findings import ERROR, Finding
from cloud_config.gate.rules.members import TREE_TRAILER, TREES_NAMED
from cloud_config.model.members import Members
from cloud_config.model.paths import MEMBERS_FILE
from cloud_config.model.policy import KINDS

RULE = "approvals-missing"
BASE_TRAILER = "Approves-Base"
# The policy kind of each kind of change the change summary names (change_summary.KIND_TITLES).
KIND_OF = {
    "stage": "stage",
    "system": "system",
    "genesis": "system",
    "image": "system",
    "validator-added": "validator",
    "validator-removed": "validator",
    "node-added": "node",
    "node-removed": "node",
    "node-moved": "node",
    "ca": "ca",
    "csr": "csr",
    "cert": "cert",
    "cert-removed": "cert",
    "member": "members",
    "file": "other",
}


def kinds_of(found: list[Change]) -> list[str]:
    """The policy kinds a change touches, in policy order (an unreadable members.toml: members)."""
    touched = {
        "members" if c.kind == "file" and c.subject == MEMBERS_FILE else KIND_OF.get(c.kind, "other")
        for c in found
    }
    return [kind for kind in KINDS if kind in touched]


@dataclass
class Tally:
    """One kind's count: what it needs, who approved, who else could."""

    kind: str
    rule: str  # the policy in words: "2 of 3 members"
    required: int
    approvers: list[str]
    candidates: list[str]

    @property
    def met(self) -> bool:
        """Whether enough members approved."""
        return len(self.approvers) >= self.required

    @property
    def waiting(self) -> str:
        """Who is still needed, in words: 'one of p2, admin', 'p2, admin', '2 of p1, p2, p3'."""
        missing = self.required - len(self.approvers)
        names = ", ".join(self.candidates)
        if missing <= 0:
            return "nobody"
        if missing > len(self.candidates):
            return f"{missing} more, but only {len(self.candidates)} can approve ({names or 'nobody'})"
        if missing == len(self.candidates):
            return names
        return f"{'one' if missing == 1 else missing} of {names}"

    def to_dict(self) -> dict[str, Any]:
        """The kind's entry of the `approvals` JSON object."""
        return {
            "required": self.required,
            "have": len(self.approvers),
            "approvers": list(self.approvers),
            "candidates": list(self.candidates),
        }


@dataclass
class Approvals:
    """What a PR (or a merged step) has: the tree approved, who approved it, each kind's tally."""

    head: str  # the approved head commit
    tree: str  # its tree: what the approvals must name
    approvers: list[str] = field(default_factory=list)  # members whose approval counts, file order
    stale: list[str] = field(default_factory=list)  # members who approved another tree only
    tallies: list[Tally] = field(default_factory=list)

    @property
    def met(self) -> bool:
        """Whether every kind touched has its approvals."""
        return all(t.met for t in self.tallies)

    def to_dict(self) -> dict[str, Any]:
        """The `approvals` object of `verify --format json`, keyed by kind."""
        return {t.kind: t.to_dict() for t in self.tallies}

    def collected(self) -> str:
        """Who approved, in one line (what `diff` shows)."""
        if not self.tree:
            return "not counted (no members.toml at the base)"
        line = f"tree {self.tree[:12]} approved by {', '.join(self.approvers) or 'no member yet'}"
        if self.stale:
            line += f"; approvals of an earlier tree by {', '.join(self.stale)} no longer count"
        return line

    def table(self) -> str:
        """What `cloud-config approvals` prints: one row per kind the policy names."""
        if not self.tree:
            return (
                "no approval needed: no members.toml at the base (signatures and approvals are not checked)\n"
            )
        lines = [f"approvals of head {self.head[:12]}: {self.collected()}"]
        if not self.tallies:
            lines.append(
                "no approval needed: the policy at the base names none of the kinds this change touches"
            )
            return "\n".join(lines) + "\n"
        rows = [("kind", "have", "needs", "approved by", "waiting for")]
        rows += [
            (
                t.kind,
                str(len(t.approvers)),
                t.rule,
                ", ".join(t.approvers) or "-",
                "-" if t.met else t.waiting,
            )
            for t in self.tallies
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines += [
            "  ".join([*(c.ljust(w) for c, w in zip(row, widths, strict=False)), row[4]]) for row in rows
        ]
        return "\n".join(lines) + "\n"

    def findings(self) -> list[Finding]:
        """One `approvals-missing` error per kind without enough approvals."""
        stale = ""
        if self.stale:
            stale = (
                f"; the approval(s) of {', '.join(self.stale)} are for an earlier version of the "
                "branch and no longer count (a change was pushed after them): approve again"
            )
        return [
            Finding(
                RULE,
                ERROR,
                MEMBERS_FILE,
                f"{t.kind} change needs {t.rule}; approved by {', '.join(t.approvers) or 'nobody yet'}; "
                f"waiting for {t.waiting}{stale}",
                f"policy.approvals.{t.kind}",
            )
            for t in self.tallies
            if not t.met
        ]


def approved_head(repo: Path, base: str, head: str) -> tuple[str, str]:
    """(commit, tree) whose tree the approvals must name: `head`, or for a merge step onto `base`
    whose tree is the clean merge of its parents, the merge's second parent (the PR's head)."""
    tree, _, parents = git.run(repo, "show", "-s", "--format=%T %P", head).partition(" ")
    first, *rest = parents.split() or [""]
    if first == base and len(rest) == 1 and git.merge_tree(repo, base, rest[0]) == (tree, []):
        return rest[0], git.tree_of(repo, rest[0])
    return head, tree


def check(
    repo: Path,
    members: Members | None,
    base: str,
    head: str,
    found: list[Change],
    *,
    everyone: bool = False,
    signed: list[list[str]] | None = None,
) -> Approvals:
    """The approvals of the change base..head that makes `found`, under `members` (the policy
    in force: members.toml at the base, or on receipt as of the last accepted step). Approvers
    are collected when a kind touched has a rule, or always with `everyone` (the audit).
    `signed`: rules.members.signature_rows of base..head under `members`, when read already (each
    signature is then checked once per verify)."""
    kinds = kinds_of(found)
    rules = (
        {k: members.policy.approvals[k] for k in kinds if k in members.policy.approvals} if members else {}
    )
    if members is None or not (rules or everyone):
        return Approvals(head, "")
    result = Approvals(*approved_head(repo, base, head))
    rows = _reachable(signed, result.head) if signed is not None else None
    result.approvers, result.stale = _collect(repo, members, base, result.head, result.tree, rows)
    names, admins = members.names, members.admins
    for kind, threshold in rules.items():
        eligible = threshold.eligible(names, admins)
        result.tallies.append(
            Tally(
                kind,
                threshold.describe(len(names), len(admins)),
                threshold.required(len(names), len(admins)),
                [n for n in result.approvers if n in eligible],
                [n for n in eligible if n not in result.approvers],
            )
        )
    return result


def _reachable(signed: list[list[str]], head: str) -> list[list[str]]:
    """[tree, parents, status, principal, trailer values] of the rows of `signed` (the commits of
    base..H for some H) that are in base..`head`, for `head` one of them: those reachable from it."""
    by_sha = {row[0]: row for row in signed}
    seen: set[str] = set()
    todo = [head] if head in by_sha else []
    while todo:
        sha = todo.pop()
        if sha not in seen:
            seen.add(sha)
            todo += [p for p in by_sha[sha][1].split() if p in by_sha]  # a parent outside: in base
    return [[tree, parents, status, principal, named]
            for sha, parents, status, _, principal, tree, named in signed if sha in seen]  # fmt: skip


def _collect(
    repo: Path, members: Members, base: str, head: str, tree: str, rows: list[list[str]] | None = None
) -> tuple[list[str], list[str]]:
    """(members who approved `tree` in base..head, members who approved another tree only).

    A member approves `tree` by a signed commit naming it in its one Approves-Tree trailer, or by
    a signed commit of its own that changes something and whose tree it is (the author's commit).
    `rows`: the signature rows of base..head (see _reachable), when read already.
    """
    if rows is None:
        fields = ["%T", "%P", "%G?", "%GS", TREES_NAMED]
        with tempfile.TemporaryDirectory(prefix="cloud-config-approvals-") as tmp:
            allowed = Path(tmp) / "allowed_signers"
            allowed.write_text(members.allowed_signers(), encoding="utf-8")
            rows = git.signature_log(repo, allowed, [f"{base}..{head}"], fields)
    approved: set[str] = set()
    elsewhere: set[str] = set()
    authored = [(parents.split()[:1], principal) for own, parents, status, principal, named in rows
                if status == "G" and own == tree and not named]  # fmt: skip
    parent_trees = git.trees_of(repo, [p[0] for p, _ in authored if p])
    for first, principal in authored:
        if not first or parent_trees[first[0]] != tree:
            approved.add(principal)
    for _, _, status, principal, named in rows:
        trees = [t.strip() for t in named.split(",") if t.strip()]
        if status == "G" and trees:
            (approved if trees == [tree] else elsewhere).add(principal)
    return (
        [n for n in members.names if n in approved],
        [n for n in members.names if n in elsewhere and n not in approved],
    )


@dataclass(frozen=True)
class Approved:
    """What `cloud-config approve` made."""

    commit: str
    head: str
    tree: str
    base: str
    member: str
    fingerprint: str

    def line(self) -> str:
        """The line the command prints."""
        return (
            f"approved tree {self.tree[:12]} (head {self.head[:12]}) as {self.member} ({self.fingerprint}): "
            f"commit {self.commit[:12]}; push it to the PR branch (git push origin HEAD:<branch>)"
        )


def approve(repo: Path, base_rev: str, message: str | None) -> Approved:
    """Commit an approval of HEAD's tree on top of HEAD: an empty commit signed with the user's
    git SSH signing key, carrying the Approves-Tree and Approves-Base trailers. Refused (and
    nothing left behind) when the key is not a member's at the base.

    Raises:
        UsageError: --repo or --base do not name what they must.
        CloudConfigError: git is not set up to sign with SSH, or the key is no member's.
    """
    head, base = resolve(repo, "HEAD", "--repo"), resolve(repo, base_rev, "--base")
    if git.is_ancestor(repo, head, base):
        raise UsageError(
            "--base", f"HEAD {head[:12]} is already in {base_rev}: check out the PR branch first"
        )
    members = load_snapshot(repo, base, certs=False).members
    if members is None:
        raise NotFoundError(f"no {MEMBERS_FILE} at {base_rev}: approvals count only for members")
    if _config(repo, "gpg.format") != "ssh":
        raise CloudConfigError(
            "approve signs with your git SSH signing key: run `git config gpg.format ssh` and "
            "`git config user.signingkey ~/.ssh/<your key>.pub` (a key of yours in members.toml)"
        )
    tree = git.tree_of(repo, head)
    subject = (message or "").strip() or f"Approve {head[:12]}"
    trailers = f"{TREE_TRAILER}: {tree}\n{BASE_TRAILER}: {base}"
    who = {
        f"GIT_{role}_{key.upper()}": value
        for key in ("name", "email")
        if (value := _config(repo, f"user.{key}"))
        for role in ("AUTHOR", "COMMITTER")
    }
    git.run(repo, "commit", "-q", "--allow-empty", "--only", "-S", "-m", subject, "-m", trailers, env=who)
    commit = git.rev_parse(repo, "HEAD")
    with tempfile.TemporaryDirectory(prefix="cloud-config-approve-") as tmp:
        allowed = Path(tmp) / "allowed_signers"
        allowed.write_text(members.allowed_signers(), encoding="utf-8")
        [[status, principal, fingerprint]] = git.signature_log(
            repo, allowed, ["-1", commit], ["%G?", "%GS", "%GF"]
        )
    member = members.get(principal) if status == "G" else None
    if member is None:
        git.run(repo, "update-ref", "-m", "cloud-config approve: undone", "HEAD", head, commit)
        raise CloudConfigError(
            f"your signing key {fingerprint or '(none)'} belongs to no member in {MEMBERS_FILE} at "
            f"{base_rev}; nothing committed (set user.signingkey to your registered key)"
        )
    return Approved(commit, head, tree, base, member.name, fingerprint)


def _config(repo: Path, key: str) -> str:
    """A git config value of `repo` ('' when unset)."""
    return git.run_bytes(repo, "config", "--get", key, check=False).stdout.decode().strip()


def for_revisions(repo: Path, base_rev: str, head_rev: str, *, everyone: bool = True) -> Approvals:
    """The approvals of the PR base_rev..head_rev (`cloud-config approvals`, `diff`); see check."""
    base_sha, head_sha = resolve(repo, base_rev, "--base"), resolve(repo, head_rev, "--head")
    merged = head_sha
    if not git.is_ancestor(repo, base_sha, head_sha):  # a stale branch: the kinds of what merging makes
        tree, conflicts = git.merge_tree(repo, base_sha, head_sha)
        merged = head_sha if conflicts else tree
    base, head = load_snapshot(repo, base_sha, certs=False), load_snapshot(repo, merged, certs=False)
    return check(repo, base.members, base_sha, head_sha, changes(base, head), everyone=everyone)
