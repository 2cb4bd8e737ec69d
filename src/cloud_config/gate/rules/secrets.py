"""No secret in the chain repo: not in the head tree, not in any commit the PR adds."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from cloud_config import git
from cloud_config.gate.change_summary import Snapshot
from cloud_config.gate.findings import ERROR, WARNING, Finding
from cloud_config.model.paths import SECRET_GLOBS, key_material

# A PEM private key of any label (RSA, EC, OPENSSH, ENCRYPTED, ...), in any case.
_PEM_PRIVATE = re.compile(rb"-----\s*BEGIN[A-Z0-9 _-]*PRIVATE\s+KEY\s*-----", re.IGNORECASE)
# A whole file that is one account key: 64 hex characters, optionally 0x-prefixed.
_HEX_KEY = re.compile(rb"(?:0[xX])?[0-9a-fA-F]{64}")


def content_secret(data: bytes) -> str | None:
    """What secret a file's content holds (a PEM private key, an account key), or None."""
    if _PEM_PRIVATE.search(data):
        return "a PEM private key"
    if _HEX_KEY.fullmatch(data.strip()):
        return "what looks like an account private key (64 hex characters)"
    return None


def _secret_in(path: str, data: bytes | None) -> str | None:
    """What secret a file holds, judged by its path, then by its content; None when none."""
    return key_material(path) or content_secret(data or b"")


def secret_findings(repo: Path, base: Snapshot, head: str, merged: Snapshot | None) -> Iterator[Finding]:
    """Secrets in the merged tree (by path and by content), then in every file version any commit
    of base..head writes, under every path it is written at."""
    tree = merged.tree if merged is not None else {}
    contents: dict[str, bytes | None] = (
        {tree[p]: data for p, data in merged.blobs.items()} if merged is not None else {}
    )
    history = [
        (b, p) for b, p in git.added_blobs(repo, base.rev, head) if tree.get(p) != b and base.tree.get(p) != b
    ]
    wanted = (set(tree.values()) | {b for b, _ in history}) - contents.keys()
    contents.update(git.read_objects(repo, sorted(wanted)))
    for path, blob in sorted(tree.items()):
        what = _secret_in(path, contents.get(blob))
        if what:
            yield Finding(
                "secret-committed", ERROR, path,
                f"holds {what} (content not shown); remove it and rotate the key: anyone who "
                "can read the repo has it",
            )  # fmt: skip
    for blob, path in history:
        what = _secret_in(path, contents.get(blob))
        if what:
            yield Finding(
                "secret-committed", ERROR, path,
                f"a commit of this change adds {what} (content not shown); deleting it later "
                "keeps it in history: rewrite the branch and rotate the key",
            )  # fmt: skip


def gitignore_findings(repo: Path, head: str, head_tree: dict[str, str]) -> Iterator[Finding]:
    """The .gitignore still keeps the tool's secret files out of the repo."""
    data = git.show(repo, head, ".gitignore") if ".gitignore" in head_tree else None
    lines = set((data or b"").decode(errors="replace").splitlines())
    missing = [p for p in SECRET_GLOBS if p not in lines]
    if missing:
        yield Finding(
            "gitignore-weakened", WARNING, ".gitignore",
            f"no longer ignores {', '.join(missing)}: a private key may be committed by mistake",
        )  # fmt: skip
