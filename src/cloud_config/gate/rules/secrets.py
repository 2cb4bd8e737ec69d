"""No secret in the chain repo: not in the head tree, not in any commit the PR adds."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from cloud_config import git
from cloud_config.gate.change_summary import Snapshot
from cloud_config.gate.findings import ERROR, WARNING, Finding
from cloud_config.model.paths import SECRET_GLOBS, key_material

_PEM_PRIVATE = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")


def content_secret(data: bytes) -> str | None:
    """What secret a file's content holds (a PEM private key), or None."""
    return "a PEM private key" if _PEM_PRIVATE.search(data) else None


def _secret_in(path: str, data: bytes | None) -> str | None:
    """What secret a file holds, judged by its path, then by its content; None when none."""
    return key_material(path) or content_secret(data or b"")


def secret_findings(repo: Path, base: str, head: Snapshot) -> Iterator[Finding]:
    """Secrets in the head tree, then secrets only in the PR's intermediate commits."""
    head_tree = head.tree
    contents: dict[str, bytes | None] = {head_tree[p]: data for p, data in head.blobs.items()}
    contents.update(git.read_objects(repo, sorted(set(head_tree.values()) - contents.keys())))
    for path, blob in sorted(head_tree.items()):
        what = _secret_in(path, contents.get(blob))
        if what:
            yield Finding(
                "secret-committed", ERROR, path,
                f"holds {what} (content not shown); remove it and rotate the key: anyone who "
                "can read the repo has it",
            )  # fmt: skip
    in_head = set(head_tree.values())
    history = [(b, p) for b, p in git.new_blobs(repo, base, head.rev) if b not in in_head]
    old = git.read_objects(repo, sorted({b for b, _ in history}))
    for blob, path in history:
        what = _secret_in(path, old.get(blob))
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
