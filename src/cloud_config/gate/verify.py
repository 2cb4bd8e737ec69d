"""The PR gate: `verify(repo, base, head)` reads both revisions from git and returns findings.

Rules live by topic in `gate/rules/`: config (schema, stage, freeze, consensus, departed
certificates), secrets, certs, members (signatures and ownership). findings.RULES lists every id.
"""

from __future__ import annotations

from pathlib import Path

from cloud_config import git
from cloud_config.gate.change_summary import Snapshot, load_snapshot, resolve
from cloud_config.gate.findings import WARNING, Finding, Report
from cloud_config.gate.rules import certs, config, departure, members, rotation, secrets

STALE_BRANCH = Finding(
    "stale-branch",
    WARNING,
    "commit",
    "head does not contain base: the comparison shows the base's newer changes as undone; "
    "merge or rebase onto the target branch and verify again",
)


def verify(repo: Path, base_rev: str, head_rev: str, chain_name: str) -> Report:
    """Every finding about the change base..head of the chain repo at `repo`."""
    base_sha, head_sha = resolve(repo, base_rev, "--base"), resolve(repo, head_rev, "--head")
    base, head = load_snapshot(repo, base_sha, certs=False), load_snapshot(repo, head_sha)
    cache: dict[str, Snapshot] = {base_sha: base, head_sha: head}

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
        *departure.departure_findings(base, head),
        *members.members_file_findings(base, head),
        *members.signature_findings(repo, base, head, snapshot_of),
    ]
    if not git.is_ancestor(repo, base_sha, head_sha):
        findings.append(STALE_BRANCH)
    if head.chain is not None:
        findings += config.consensus_findings(base.chain, head.chain)
        if base.chain is not None:
            findings += config.stage_findings(base.chain, head.chain)
    return Report(base_sha, head_sha, chain_name, findings)
