"""The PR gate: `verify(repo, base, head)` reads the revisions from git and returns findings.

The change is judged as it will merge: the tree of `git merge-tree --write-tree base head` (what a
forge's merge makes) against the base; signatures and ownership are judged commit by commit on the
PR's own commits, by the members.toml of `members_rev` (the base unless told otherwise).

Rules live by topic in `gate/rules/`: config (schema, stage, freeze, consensus, departed
certificates), secrets, certs, members (signatures and ownership), images (digests);
gate/approvals.py counts the approvals the base's policy asks for. findings.RULES lists every id.
"""

from __future__ import annotations

from pathlib import Path

from cloud_config import git
from cloud_config.gate import approvals
from cloud_config.gate.blob_cache import BlobCache
from cloud_config.gate.change_summary import Snapshot, changes, load_snapshot, resolve
from cloud_config.gate.findings import ERROR, WARNING, Finding, Report
from cloud_config.gate.rules import certs, config, departure, images, members, rotation, secrets

STALE_BRANCH = Finding(
    "stale-branch",
    WARNING,
    "commit",
    "head is behind the base (master moved on since the branch was cut); the verdict is for the merge result",
)
UNRELATED = Finding(
    "unrelated-history",
    ERROR,
    "commit",
    "head and base share no history: this is not a change to the chain repo (fetch the chain "
    "repo and branch from its master)",
)


def verify(
    repo: Path,
    base_rev: str,
    head_rev: str,
    chain_name: str,
    *,
    members_rev: str | None = None,
    require_members: bool = False,
    require_digests: bool = False,
) -> Report:
    """Every finding about merging head into base in the chain repo at `repo`.

    `members_rev` (default: the base) is the commit whose members.toml judges signatures and
    ownership; `require_members` makes a missing members.toml an error instead of a warning;
    `require_digests` makes an image tag without a digest an error.
    """
    base_sha, head_sha = resolve(repo, base_rev, "--base"), resolve(repo, head_rev, "--head")
    judge_sha = resolve(repo, members_rev, "--members-rev") if members_rev else base_sha
    fork = git.merge_base(repo, base_sha, head_sha)
    if fork is None:
        return Report(base_sha, head_sha, chain_name, [UNRELATED])
    parsed = BlobCache(repo)  # chain_config.toml and members.toml, parsed once per blob id
    base = load_snapshot(repo, base_sha, certs=False, cache=parsed)
    cache: dict[str, Snapshot] = {base_sha: base}

    def snapshot_of(rev: str) -> Snapshot:
        if rev not in cache:
            cache[rev] = load_snapshot(repo, rev, certs=False, cache=parsed)
        return cache[rev]

    findings: list[Finding] = []
    merged: Snapshot | None = None
    if fork == base_sha:
        # a fast-forward: the head is the merge
        merged = cache[head_sha] = load_snapshot(repo, head_sha, cache=parsed)
    else:
        findings.append(STALE_BRANCH)
        tree, conflicts = git.merge_tree(repo, base_sha, head_sha)
        if conflicts:
            findings.append(_conflict(conflicts))
        else:
            merged = load_snapshot(repo, tree, cache=parsed)
    judge = base if judge_sha == base_sha else snapshot_of(judge_sha)
    head = merged if merged is not None else snapshot_of(head_sha)
    # every signature of base..head checked once, for the signature rules and the approvals count
    signed = (
        None if judge.members is None else members.signature_rows(repo, judge.members, base_sha, head_sha)
    )
    findings += [
        *secrets.secret_findings(repo, base, head_sha, merged),
        *members.members_missing_findings(judge, require_members),
        *members.members_file_findings(judge, merged),
        # the PR's own commits, base..head commit (a stale branch's merged snapshot is a tree, no commit)
        *members.signature_findings(
            repo, judge, base_sha, snapshot_of(head_sha), snapshot_of, parsed, signed
        ),
    ]
    if merged is not None:
        findings += _tree_findings(repo, base, merged, chain_name, require_digests)
    # the policy in force is judge's (the base's unless told otherwise), applied to the change as merged
    approved = approvals.check(repo, judge.members, base_sha, head_sha, changes(base, head), signed=signed)
    return Report(base_sha, head_sha, chain_name, [*findings, *approved.findings()], approved.to_dict())


def _conflict(paths: list[str]) -> Finding:
    return Finding(
        "merge-conflict", ERROR, ", ".join(paths),
        f"does not merge cleanly into the base ({len(paths)} file(s) conflict): rebase the branch "
        "onto the target branch, resolve, and push again",
    )  # fmt: skip


def _tree_findings(
    repo: Path, base: Snapshot, merged: Snapshot, chain_name: str, require_digests: bool
) -> list[Finding]:
    """The rules on the merge result against the base."""
    found = [
        *config.schema_findings(merged, chain_name),
        *secrets.gitignore_findings(repo, merged.rev, merged.tree),
        *certs.cert_findings(base, merged, chain_name),
        *rotation.rotation_findings(base, merged),
        *config.departed_findings(base, merged),
        *departure.departure_findings(base, merged),
        *images.unpinned_findings(base, merged, require_digests),
    ]
    if merged.chain is not None:
        found += config.consensus_findings(base.chain, merged.chain)
        if base.chain is not None:
            found += config.stage_findings(base.chain, merged.chain)
    return found
