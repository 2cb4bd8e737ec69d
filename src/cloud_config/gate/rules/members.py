"""Who may change what: each commit signed by a member known at the base, in its own lane."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from cloud_config import git
from cloud_config.gate.change_summary import Change, Snapshot, changes
from cloud_config.gate.findings import ERROR, Finding
from cloud_config.model.members import Member, Members
from cloud_config.model.paths import CA_CERT, CHAIN_CONFIG, MEMBERS_FILE

SnapshotOf = Callable[[str], Snapshot]
# Kinds a member may make to what it owns, and how to find the owner of the subject.
_OWNED: dict[str, Callable[[Members, str], Member | None]] = {
    "node-added": Members.owner_of_domain,
    "node-removed": Members.owner_of_domain,
    "node-moved": Members.owner_of_domain,
    "validator-added": Members.owner_of_validator,
    "validator-removed": Members.owner_of_validator,
    "csr": Members.owner_of_domain,
    "cert-removed": Members.owner_of_domain,  # a member may withdraw its own node's certificate
}


def members_file_findings(base: Snapshot, head: Snapshot) -> Iterator[Finding]:
    """members.toml loads at both ends (the base's copy decides who may sign)."""
    for snap, when in ((base, "base"), (head, "head")):
        if snap.members_error:
            yield Finding("members-invalid", ERROR, MEMBERS_FILE, f"at {when}: {snap.members_error}")


_UNSIGNED = {
    "N": "has no SSH signature",
    "B": "its SSH signature does not verify: the commit was altered after it was signed",
}
_VERBS = {
    "node-added": "adds node",
    "node-removed": "removes node",
    "node-moved": "changes node",
    "validator-added": "adds validator",
    "validator-removed": "removes validator",
    "csr": "changes the CSR of node",
    "cert-removed": "removes the certificate of node",
}


def signature_findings(
    repo: Path, base: Snapshot, head: Snapshot, snapshot_of: SnapshotOf
) -> Iterator[Finding]:
    """Each non-merge commit of base..head: signed by a base member, touching only what it may."""
    members = base.members
    if members is None:
        return  # no members.toml at the base: no registry of keys to check against
    with tempfile.TemporaryDirectory(prefix="cloud-config-verify-") as tmp:
        allowed = Path(tmp) / "allowed_signers"
        allowed.write_text(members.allowed_signers(), encoding="utf-8")
        rows = git.signed_commits(repo, base.rev, head.rev, allowed)
    trees = git.trees_of(repo, [c for row in rows for c in row[:2] if c])  # empty commits change nothing
    for sha, parent, status, fingerprint, principal in rows:
        where = f"commit {sha[:12]}"
        signer = members.get(principal) if status == "G" else None
        if status in _UNSIGNED or (status == "E" and not fingerprint):
            message = _UNSIGNED.get(status, "its signature cannot be checked (not an SSH signature?)")
            yield Finding("unsigned-commit", ERROR, where, message)
        elif signer is None and members.member_of_pipeline_key(fingerprint) is not None:
            yield _pipeline_key_used(where, fingerprint, members)
        elif signer is None:
            yield _unknown_signer(where, fingerprint, head.members)
        elif not signer.is_admin and trees[sha] != trees.get(parent):
            found = changes(snapshot_of(parent), snapshot_of(sha))
            yield from _lane_findings(where, signer, members, found)


def _pipeline_key_used(where: str, fingerprint: str, members: Members) -> Finding:
    owner = members.member_of_pipeline_key(fingerprint)
    name = owner.name if owner else "?"
    return Finding(
        "pipeline-key-used", ERROR, where,
        f"signed by {name!r}'s pipeline key {fingerprint}; a pipeline key signs status records "
        "only and never a chain change",
    )  # fmt: skip


def _unknown_signer(where: str, fingerprint: str, head_members: Members | None) -> Finding:
    added = head_members.member_of_key(fingerprint) if head_members else None
    if added is not None:
        return Finding(
            "key-added-in-pr", ERROR, where,
            f"signed by key {fingerprint}, which this change adds to members.toml (for "
            f"{added.name!r}); a key counts only once it is merged, by an admin's change",
        )  # fmt: skip
    return Finding(
        "unknown-signer", ERROR, where,
        f"signed by key {fingerprint}, which belongs to no member in members.toml at the base",
    )  # fmt: skip


def _lane_findings(where: str, signer: Member, members: Members, found: list[Change]) -> Iterator[Finding]:
    for change in found:
        path, field = change_location(change)
        owner_of = _OWNED.get(change.kind)
        if owner_of is None:
            yield Finding(
                "admin-only", ERROR, path,
                f"{where} by member {signer.name!r} changes {change.detail}; only an admin may",
                field,
            )  # fmt: skip
            continue
        owner = owner_of(members, change.subject)
        if owner is not None and owner.name == signer.name:
            continue
        whose = (
            f"belongs to {owner.name!r}"
            if owner
            else "is assigned to no member (an admin assigns it in members.toml)"
        )
        yield Finding(
            "not-owner", ERROR, path,
            f"{where} by member {signer.name!r} {_VERBS[change.kind]} {change.subject}, which {whose}",
            field,
        )  # fmt: skip


def change_location(change: Change) -> tuple[str, str]:
    """(file, field) a change is about."""
    if change.kind.startswith("node-"):
        return CHAIN_CONFIG, "node_network_address_list"
    if change.kind.startswith("validator-"):
        return CHAIN_CONFIG, "system_config.validators"
    if change.kind in ("system", "genesis", "stage"):
        return CHAIN_CONFIG, change.subject
    if change.kind == "image":
        return CHAIN_CONFIG, "micro_service_list"
    if change.kind in ("csr", "cert", "cert-removed"):
        return f"certs/{change.subject}/{'csr' if change.kind == 'csr' else 'cert'}.pem", ""
    if change.kind == "ca":
        return CA_CERT, ""
    if change.kind == "member":
        return MEMBERS_FILE, change.subject
    return change.subject, ""
