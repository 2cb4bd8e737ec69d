"""Who may change what: each commit signed by a member known at the base, in its own lane."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from cloud_config import git
from cloud_config.gate.blob_cache import BlobCache
from cloud_config.gate.change_summary import Change, Snapshot, changes, commit_changes
from cloud_config.gate.findings import ERROR, WARNING, Finding
from cloud_config.model.members import Member, Members
from cloud_config.model.paths import CA_CERT, CHAIN_CONFIG, MEMBERS_FILE

SnapshotOf = Callable[[str], Snapshot]
TREE_TRAILER = "Approves-Tree"  # the trailer an approval names the approved tree in (gate/approvals.py)
TREES_NAMED = f"%(trailers:key={TREE_TRAILER},valueonly,separator=%x2C)"  # its values, for git log
_BATCH = 16  # commits whose TOML versions are read in one git process
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


def members_file_findings(base: Snapshot, head: Snapshot | None) -> Iterator[Finding]:
    """members.toml loads at both ends (the base's copy decides who may sign)."""
    for snap, when in ((base, "base"), (head, "head")):
        if snap is not None and snap.members_error:
            rule = "unknown-field" if snap.members_unknown else "members-invalid"
            yield Finding(rule, ERROR, MEMBERS_FILE, f"at {when}: {snap.members_error}")


def members_missing_findings(judge: Snapshot, required: bool) -> Iterator[Finding]:
    """No members.toml at the revision that judges signatures: say loudly that nothing is checked."""
    if judge.members is None and judge.members_error is None:
        yield Finding(
            "members-missing", ERROR if required else WARNING, MEMBERS_FILE,
            f"there is no {MEMBERS_FILE} at {judge.rev[:12]}: commit signatures and who owns "
            "which node are NOT checked (add members with `cloud-config member add`)",
        )  # fmt: skip


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


def signature_rows(repo: Path, members: Members, base: str, head: str) -> list[list[str]]:
    """[sha, parents, %G? status, key fingerprint, principal, tree, its Approves-Tree values] of each
    commit of base..head (merges included), oldest first, its SSH signature checked by git against
    the keys of `members` (a long PR in two git processes side by side), read by the signature
    rules and the approvals count."""
    fields = [
        "%H",
        "%P",
        "%G?",
        "%GF",
        "%GS",
        "%T",
        f"%(trailers:key={TREE_TRAILER},valueonly,separator=%x2C)",
    ]
    with tempfile.TemporaryDirectory(prefix="cloud-config-verify-") as tmp:
        allowed = Path(tmp) / "allowed_signers"
        allowed.write_text(members.allowed_signers(), encoding="utf-8")
        commits = git.run(repo, "rev-list", "--reverse", f"{base}..{head}").split()
        return git.signature_log_of(repo, allowed, commits, fields)


def signature_findings(
    repo: Path,
    judge: Snapshot,
    base: str,
    head: Snapshot,
    snapshot_of: SnapshotOf,
    cache: BlobCache,
    signed: list[list[str]] | None = None,
) -> Iterator[Finding]:
    """Each commit of base..head: signed by a member of `judge`'s members.toml, touching only what it
    may. A merge whose tree is the clean merge of its parents is nobody's change; any other merge is
    a change of its own, judged like a commit by its signer. A plain commit's change is read from
    what git says it changed (`lane_changes`); a merge's from the snapshots `snapshot_of` loads.
    `signed`: the `signature_rows` of base..head, when read already."""
    members = judge.members
    if members is None:
        return  # no members.toml: members_missing_findings says so
    if signed is None:
        signed = signature_rows(repo, members, base, head.rev)
    rows = [(sha, tuple(parents.split()), status, fingerprint, principal, tree)
            for sha, parents, status, fingerprint, principal, tree, _ in signed]  # fmt: skip
    # the first parent's tree of each plain commit: an empty commit (an approval) changes nothing
    trees = git.trees_of(repo, [row[1][0] for row in rows if len(row[1]) == 1])
    judged: list[tuple[str, Member, str, str, bool]] = []  # (where, signer, commit, from, plain)
    found: list[Finding] = []
    for sha, parents, status, fingerprint, principal, tree in rows:
        where = f"commit {sha[:12]}"
        signer = members.get(principal) if status == "G" else None
        before = parents[0] if parents else ""
        if len(parents) > 2:
            found.append(Finding("merge-changes", ERROR, where, "is an octopus merge (more than two "
                                 "parents); merge one branch at a time"))  # fmt: skip
            continue
        if len(parents) == 2:
            own = _merge_own_change(repo, parents, tree)
            if own is None:
                continue  # the clean merge of its parents: nothing of its own
            if signer is None:
                found.append(_merge_changes(where, status, fingerprint))
                continue
            before = own
        elif status in _UNSIGNED or (status == "E" and not fingerprint):
            message = _UNSIGNED.get(status, "its signature cannot be checked (not an SSH signature?)")
            found.append(Finding("unsigned-commit", ERROR, where, message))
            continue
        elif signer is None and members.member_of_pipeline_key(fingerprint) is not None:
            found.append(_pipeline_key_used(where, fingerprint, members))
            continue
        elif signer is None:
            found.append(_unknown_signer(where, fingerprint, head.members))
            continue
        if not signer.is_admin and (len(parents) == 2 or tree != trees.get(before)):
            judged.append((where, signer, sha, before, len(parents) == 1))
    yield from found
    yield from _lanes(repo, members, judged, snapshot_of, cache)


def _lanes(
    repo: Path,
    members: Members,
    judged: list[tuple[str, Member, str, str, bool]],
    snapshot_of: SnapshotOf,
    cache: BlobCache,
) -> Iterator[Finding]:
    """Lane findings of each judged commit: a plain one's change from git's list of what it
    changed, a merge's own change from whole snapshots."""
    plain = lane_changes(repo, cache, [(sha, before) for _, _, sha, before, one in judged if one])
    for where, signer, sha, before, _ in judged:
        found = plain.get(sha)
        if found is None:
            found = changes(snapshot_of(before), snapshot_of(sha))
        yield from _lane_findings(where, signer, members, found)


def lane_changes(repo: Path, cache: BlobCache, commits: list[tuple[str, str]]) -> dict[str, list[Change]]:
    """The change of each (commit, its one parent), from the paths git says it changed: no tree is
    listed, and chain_config.toml / members.toml are parsed only in versions not parsed before
    (once per blob id). A commit where either file is something other than a file is left out (its
    snapshots are loaded whole)."""
    if not commits:
        return {}
    diffs = git.commit_diffs(repo, [sha for sha, _ in commits])
    specs = [f"{rev}:{path}" for pair in commits for rev in pair for path in (CHAIN_CONFIG, MEMBERS_FILE)]
    ids = git.object_ids(repo, specs)
    if any(found is not None and found[1] != "blob" for found in ids.values()):
        weird = {
            spec.split(":", 1)[0] for spec, found in ids.items() if found is not None and found[1] != "blob"
        }
        commits = [(sha, parent) for sha, parent in commits if sha not in weird and parent not in weird]
    blob = {spec: found[0] for spec, found in ids.items() if found is not None}
    sides = {
        rev: (blob.get(f"{rev}:{CHAIN_CONFIG}", ""), blob.get(f"{rev}:{MEMBERS_FILE}", ""))
        for pair in commits
        for rev in pair
    }
    out: dict[str, list[Change]] = {}
    for start in range(0, len(commits), _BATCH):  # read in batches: memory stays a few versions
        batch = commits[start : start + _BATCH]
        cache.prefetch(b for pair in batch for rev in pair for b in sides[rev])
        for sha, parent in batch:
            out[sha] = commit_changes(cache, sides[parent], sides[sha], diffs[sha])
    return out


def _pipeline_key_used(where: str, fingerprint: str, members: Members) -> Finding:
    owner = members.member_of_pipeline_key(fingerprint)
    name = owner.name if owner else "?"
    return Finding(
        "pipeline-key-used", ERROR, where,
        f"signed by {name!r}'s pipeline key {fingerprint}; a pipeline key signs status records "
        "only and never a chain change",
    )  # fmt: skip


def _merge_own_change(repo: Path, parents: tuple[str, ...], tree: str) -> str | None:
    """None for a merge whose tree is its parents' clean merge; else the revision its own change is
    measured from (the clean merge; the first parent when the parents conflict)."""
    merged, conflicts = git.merge_tree(repo, parents[0], parents[1])
    if not conflicts and merged == tree:
        return None
    return parents[0] if conflicts else merged


def _merge_changes(where: str, status: str, fingerprint: str) -> Finding:
    who = (
        f"signed by key {fingerprint}, which belongs to no member"
        if status in ("G", "U") and fingerprint
        else "unsigned"
    )
    return Finding(
        "merge-changes", ERROR, where,
        f"is a merge whose tree differs from the clean merge of its parents (an evil merge or a "
        f"conflict resolution) and is {who}: a merge's own change must be signed by a member",
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
