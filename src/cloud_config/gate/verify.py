"""The PR gate: `verify(repo, base, head)` reads both revisions from git and returns findings.

Rules live by topic in `gate/rules/`: config (schema, stage, freeze, consensus, departed
certificates), secrets, certs, members (signatures and ownership). findings.RULES lists every id.
"""

from __future__ import annotations

from pathlib import Path

from cloud_config import git
from cloud_config.gate.change_summary import Snapshot, load_snapshot, resolve
from cloud_config.gate.findings import ERROR, WARNING, Finding, Report
from cloud_config.gate.rules import certs, config, members, rotation, secrets

STALE_BRANCH = Finding(
    "stale-branch",
    WARNING,
    "commit",
    "head does not contain base: the comparison shows the base's newer changes as undone; "
    "merge or rebase onto the target branch and verify again",
)


MEMBERS_MISSING = Finding(
    "members-missing",
    ERROR,
    "members.toml",
    "there is no members.toml: signatures and ownership cannot be checked (required here)",
)


def verify(
    repo: Path,
    base_rev: str,
    head_rev: str,
    chain_name: str,
    *,
    members_rev: str | None = None,
    require_members: bool = False,
) -> Report:
    """Every finding about the change base..head of the chain repo at `repo`.

    `members_rev` (default: base) is the commit whose members.toml judges signatures and lanes
    (the pipeline's receipt check passes the last step it accepted); `require_members` makes a
    missing members.toml there an error, `members-missing`.
    """
    base_sha, head_sha = resolve(repo, base_rev, "--base"), resolve(repo, head_rev, "--head")
    base, head = load_snapshot(repo, base_sha, certs=False), load_snapshot(repo, head_sha)
    cache: dict[str, Snapshot] = {base_sha: base, head_sha: head}
    judge = base
    if members_rev is not None:
        judge_sha = resolve(repo, members_rev, "--members-rev")
        judge = cache.get(judge_sha) or load_snapshot(repo, judge_sha, certs=False)
        cache.setdefault(judge_sha, judge)

    def snapshot_of(sha: str) -> Snapshot:
        if sha not in cache:
            cache[sha] = load_snapshot(repo, sha, certs=False)
        return cache[sha]

    findings: list[Finding] = [
        *config.schema_findings(head, chain_name),
        *secrets.secret_findings(repo, base_sha, head),
        *secrets.gitignore_findings(repo, head_sha, head.tree),
        *certs.cert_findings(base, head, chain_name),
        *rotation.rotation_findings(base, head),
        *config.departed_findings(base, head),
        *members.members_file_findings(judge, head),
        *members.signature_findings(repo, base, head, snapshot_of, judge.members),
    ]
    if require_members and judge.members is None and not judge.members_error:
        findings.append(MEMBERS_MISSING)
    if not git.is_ancestor(repo, base_sha, head_sha):
        findings.append(STALE_BRANCH)
    if head.chain is not None:
        findings += config.consensus_findings(base.chain, head.chain)
        if base.chain is not None:
            findings += config.stage_findings(base.chain, head.chain)
    return Report(base_sha, head_sha, chain_name, findings)
