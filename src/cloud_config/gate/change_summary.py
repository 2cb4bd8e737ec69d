"""What a change to the chain repo does, in words: for `diff`, and the facts `verify` judges.

`changes(old, new)` compares two snapshots of the chain repo and returns `Change` values: nodes
added, removed or moved, validators added or removed, stage, images, system config and genesis
fields, CSRs, certificates, the CA, members, and any other file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cloud_config import git
from cloud_config.errors import GitError, UsageError
from cloud_config.gate.blob_cache import BlobCache
from cloud_config.model.chain import ChainConfig
from cloud_config.model.members import Members
from cloud_config.model.paths import CA_CERT, CHAIN_CONFIG, MEMBERS_FILE
from cloud_config.model.policy import Policy

_NODE_FILE = re.compile(r"^certs/([^/]+)/(csr|cert)\.pem$")
# The order changes are listed in, and their headings.
KIND_TITLES = {
    "stage": "Stage",
    "system": "System config",
    "genesis": "Genesis block",
    "image": "Micro-service images",
    "validator-added": "Validators added",
    "validator-removed": "Validators removed",
    "node-added": "Nodes added",
    "node-removed": "Nodes removed",
    "node-moved": "Nodes moved or changed",
    "ca": "CA certificate",
    "csr": "Certificate requests (CSRs)",
    "cert": "Certificates",
    "cert-removed": "Certificates removed",
    "member": "Members",
    "file": "Other files",
}


@dataclass(frozen=True)
class Change:
    """One change: its kind (a KIND_TITLES key), what it is about, and words for a person."""

    kind: str
    subject: str
    detail: str


@dataclass
class Snapshot:
    """The chain repo at one revision: its files, chain config and members (None when absent)."""

    rev: str
    tree: dict[str, str]  # path -> blob id
    chain: ChainConfig | None
    chain_error: str | None
    members: Members | None
    members_error: str | None
    blobs: dict[str, bytes | None]
    chain_unknown: bool = False  # the error is an unknown field (the closed schema)
    members_unknown: bool = False

    def text(self, path: str) -> str | None:
        """A file's text (read at load time for the files the checks need)."""
        data = self.blobs.get(path)
        return None if data is None else data.decode("utf-8", errors="replace")


def node_file(path: str) -> tuple[str, str] | None:
    """(domain, 'csr' or 'cert') for `certs/<domain>/{csr,cert}.pem`, else None."""
    match = _NODE_FILE.match(path)
    return (match.group(1), match.group(2)) if match else None


def load_snapshot(repo: Path, rev: str, certs: bool = True, cache: BlobCache | None = None) -> Snapshot:
    """Read the chain repo at `rev` straight from git (no checkout); `certs` reads the PEMs too.
    With `cache`, chain_config.toml and members.toml are parsed once per blob id."""
    tree = git.ls_tree_ids(repo, rev)
    # The CA file always (a rotation is judged on both sides); the node PEMs when `certs`.
    pems = [CA_CERT, *(sorted(p for p in tree if node_file(p)) if certs else [])]
    wanted = [CHAIN_CONFIG, MEMBERS_FILE, *pems]
    present = [p for p in wanted if p in tree]
    by_id = git.read_objects(repo, sorted({tree[p] for p in present}))
    blobs = {p: by_id[tree[p]] for p in present}
    cache = cache or BlobCache(repo)
    chain, chain_error, chain_unknown = cache.parse_chain(tree.get(CHAIN_CONFIG, ""), blobs.get(CHAIN_CONFIG))
    members, members_error, members_unknown = cache.members(tree.get(MEMBERS_FILE), blobs.get(MEMBERS_FILE))
    return Snapshot(
        rev, tree, chain, chain_error, members, members_error, blobs, chain_unknown, members_unknown
    )


def commit_changes(
    cache: BlobCache, before: tuple[str, str], after: tuple[str, str], files: list[tuple[str, str, str]]
) -> list[Change]:
    """`changes` of one commit from its parent, told by what git says it changed: `files` (path,
    blob before, blob after), and (chain_config.toml, members.toml) blob ids on each side ("" when
    absent). Only the versions of the two TOML files are parsed, each once per blob id."""
    old, new = (
        Snapshot("", {p: b for p, b in zip((CHAIN_CONFIG, MEMBERS_FILE), ids, strict=True) if b},
                 None, None, None, None, {})
        for ids in (before, after)
    )  # fmt: skip
    for path, was, now in files:
        if path not in (CHAIN_CONFIG, MEMBERS_FILE):
            if was:
                old.tree[path] = was
            if now:
                new.tree[path] = now
    key = (*before, *after)
    if key not in cache.pairs:  # what the two TOML files say changed: once per pair of versions
        old.chain, old.chain_error, old.chain_unknown = cache.chain(before[0])
        new.chain, new.chain_error, new.chain_unknown = cache.chain(after[0], before[0])
        old.members, old.members_error, old.members_unknown = cache.members(before[1])
        new.members, new.members_error, new.members_unknown = cache.members(after[1])
        cache.pairs[key] = _toml_changes(old, new)
    settings, members = cache.pairs[key]
    return _in_order([*settings, *file_changes(old, new), *members])


def changes(old: Snapshot, new: Snapshot) -> list[Change]:
    """Every change from `old` to `new`, in KIND_TITLES order."""
    settings, members = _toml_changes(old, new)
    return _in_order([*settings, *file_changes(old, new), *members])


def _toml_changes(old: Snapshot, new: Snapshot) -> tuple[list[Change], list[Change]]:
    """(changes to chain_config.toml, to members.toml) from `old` to `new`."""
    settings = [*_unreadable_changes(old, new), *config_changes(old.chain, new.chain)]
    return settings, list(member_changes(old.members, new.members))


def _in_order(found: list[Change]) -> list[Change]:
    order = list(KIND_TITLES)
    return sorted(found, key=lambda c: order.index(c.kind))


def _unreadable_changes(old: Snapshot, new: Snapshot) -> Iterator[Change]:
    """A change to chain_config.toml or members.toml that cannot be read on one side."""
    for path, unreadable in (
        (CHAIN_CONFIG, old.chain is None or new.chain is None),
        (MEMBERS_FILE, bool(old.members_error or new.members_error)),
    ):
        if unreadable and old.tree.get(path) != new.tree.get(path):
            yield Change("file", path, f"{path} changed (not readable on both sides)")


def config_changes(old: ChainConfig | None, new: ChainConfig | None) -> Iterator[Change]:
    """Changes inside chain_config.toml."""
    if old is None or new is None:
        return
    settings = [*_setting_changes(old, new), *_image_changes(old, new)]
    if not settings and _settings(old) != _settings(new):
        # Nothing named above, yet the settings differ (service order, duplicates...): say so.
        settings.append(Change("system", "micro_service_list", "micro_service_list rearranged"))
    yield from settings
    yield from _validator_changes(old.system_config.validators, new.system_config.validators)
    yield from _node_changes(old, new)


def _without_nodes(config: ChainConfig) -> dict[str, Any]:
    """`config.to_dict()` but for the node list (not rendered: one entry a node)."""
    data = replace(config, node_network_address_list=[]).to_dict()
    del data["node_network_address_list"]
    return data


def _settings(config: ChainConfig) -> dict[str, object]:
    """Everything but the node list and the validators: what only admins change."""
    data = _without_nodes(config)
    del data["system_config"]["validators"]
    return data


def _setting_changes(old: ChainConfig, new: ChainConfig) -> Iterator[Change]:
    if old.stage is not new.stage:
        yield Change("stage", "stage", f"stage {old.stage.value} -> {new.stage.value}")
    old_data, new_data = _without_nodes(old), _without_nodes(new)
    for section, kind in (("system_config", "system"), ("genesis_block", "genesis")):
        before, after = old_data[section], new_data[section]
        for key in sorted(before):
            if key != "validators" and before[key] != after[key]:
                field = f"{section}.{key}"
                yield Change(kind, field, f"{field}: {before[key]!r} -> {after[key]!r}")


def _image_changes(old: ChainConfig, new: ChainConfig) -> Iterator[Change]:
    old_tags = {m.image: m.tag for m in old.micro_service_list}
    new_tags = {m.image: m.tag for m in new.micro_service_list}
    for image in sorted(old_tags.keys() | new_tags.keys()):
        was, now = old_tags.get(image), new_tags.get(image)
        if was == now:
            continue
        words = (
            f"{image} {was} -> {now}"
            if was and now
            else f"{image}:{now or was} {'added' if now else 'removed'}"
        )
        yield Change("image", image, words)


def _validator_changes(old: list[str], new: list[str]) -> Iterator[Change]:
    before, after = [v.lower() for v in old], [v.lower() for v in new]
    was, now = set(before), set(after)  # membership as in the lists, without scanning them
    for v in after:
        if v not in was:
            yield Change("validator-added", v, v)
    for v in before:
        if v not in now:
            yield Change("validator-removed", v, v)
    kept = [v for v in after if v in was]
    if kept != [v for v in before if v in now] or len(now) != len(after):
        field = "system_config.validators"
        yield Change("system", field, f"{field}: order changed or an address repeated")


def _node_changes(old: ChainConfig, new: ChainConfig) -> Iterator[Change]:
    before = {n.domain: n for n in old.node_network_address_list}
    after = {n.domain: n for n in new.node_network_address_list}
    for domain, node in after.items():
        prev = before.get(domain)
        if prev is None:
            yield Change("node-added", domain, str(node))
        elif prev != node:
            yield Change("node-moved", domain, f"{prev} -> {node}")
    for domain, node in before.items():
        if domain not in after:
            yield Change("node-removed", domain, str(node))


def file_changes(old: Snapshot, new: Snapshot) -> Iterator[Change]:
    """Changes to files other than chain_config.toml and members.toml."""
    for path in sorted(old.tree.keys() | new.tree.keys()):
        if path in (CHAIN_CONFIG, MEMBERS_FILE):
            continue
        before, after = old.tree.get(path), new.tree.get(path)
        if before == after:
            continue
        verb = "added" if before is None else "removed" if after is None else "changed"
        parsed = node_file(path)
        if parsed:
            domain, what = parsed
            if what == "cert":
                kind = "cert-removed" if verb == "removed" else "cert"
                yield Change(kind, domain, f"{domain}: certificate {verb if verb == 'removed' else 'issued'}")
            else:
                yield Change("csr", domain, f"{domain}: CSR {verb}")
        elif path == CA_CERT:
            yield Change("ca", path, f"CA certificate {'created' if verb == 'added' else verb}")
        else:
            yield Change("file", path, f"{path} {verb}")


def member_changes(old: Members | None, new: Members | None) -> Iterator[Change]:
    """Members added, removed or changed (role, keys, domains, validators), and the approval policy."""
    before = {m.name: m for m in (old.members if old else [])}
    after = {m.name: m for m in (new.members if new else [])}
    for name, member in after.items():
        prev = before.get(name)
        if prev is None:
            owns = ", ".join(member.domains) or "no nodes"
            yield Change(
                "member",
                name,
                f"{name} added ({member.role}; {owns}; {len(member.ssh_keys)} key(s))",
            )
        elif prev != member:
            what = [
                f.replace("_", " ")
                for f in ("role", "ssh_keys", "domains", "validators")
                if getattr(prev, f) != getattr(member, f)
            ]
            yield Change("member", name, f"{name}: {', '.join(what)} changed")
    for name in before:
        if name not in after:
            yield Change("member", name, f"{name} removed")
    rules = (old.policy if old else Policy()).changes(new.policy if new else Policy())
    if rules:
        yield Change("member", "policy.approvals", f"approval policy: {'; '.join(rules)}")


def resolve(repo: Path, rev: str, flag: str) -> str:
    """The commit sha of `rev`, or a usage error naming the flag."""
    if git.run_bytes(repo, "rev-parse", "--git-dir", check=False).returncode != 0:
        raise UsageError("--repo", f"{repo} is not a git repository")
    try:
        return git.rev_parse(repo, rev)
    except GitError:
        raise UsageError(flag, f"{rev!r} is not a commit in {repo}") from None


def summarize(repo: Path, base: str, head: str) -> list[Change]:
    """The changes from revision `base` to `head` of the chain repo at `repo`."""
    old = load_snapshot(repo, resolve(repo, base, "--base"), certs=False)
    new = load_snapshot(repo, resolve(repo, head, "--head"), certs=False)
    return changes(old, new)


def render_text(found: list[Change]) -> str:
    """The changes as plain lines, grouped by kind."""
    if not found:
        return "no change to the chain configuration\n"
    lines = []
    for kind, title in KIND_TITLES.items():
        group = [c for c in found if c.kind == kind]
        if group:
            lines.append(f"{title}:")
            lines.extend(f"  {c.detail}" for c in group)
    return "\n".join(lines) + "\n"


def render_markdown(found: list[Change]) -> str:
    """The changes as a PR comment: a heading, then one list per kind."""
    lines = ["### Chain configuration changes", ""]
    if not found:
        return "\n".join([*lines, "No change to the chain configuration.", ""])
    for kind, title in KIND_TITLES.items():
        group = [c for c in found if c.kind == kind]
        if group:
            lines.append(f"**{title}**")
            lines.extend(
                f"- `{c.detail}`" if kind.startswith("validator") else f"- {c.detail}" for c in group
            )
            lines.append("")
    return "\n".join(lines)
