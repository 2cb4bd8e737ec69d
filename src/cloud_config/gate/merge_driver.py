"""`cloud-config merge-driver %O %A %B %L %P`: git's merge driver for chain_config.toml and members.toml.

The three versions are merged as data (model.merge) and the result is written to %A in the
canonical layout; exit 0. A real conflict (one value changed two ways) leaves %A with conflict
markers and a first comment line naming the conflicting fields; exit 1, as git expects of a
driver. A version that does not load is merged as text by `git merge-file` (docs/verify.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cloud_config import git
from cloud_config.errors import CloudConfigError
from cloud_config.model.chain import ChainConfig
from cloud_config.model.members import Members
from cloud_config.model.merge import merge3
from cloud_config.model.paths import MEMBERS_FILE
from cloud_config.model.schema import decode_toml, parse_toml
from cloud_config.store.atomic import write_bytes


def merge_files(
    ancestor: Path, current: Path, other: Path, marker_size: int = 7, path: str = ""
) -> list[str]:
    """Merge `other` into `current` (git's %A, rewritten in place); the conflicting fields, if any."""
    members = Path(path).name == MEMBERS_FILE if path else None
    texts = [decode_toml(p.read_bytes(), str(p)) for p in (ancestor, current, other)]
    try:
        data = [parse_toml(text, path or str(current)) for text in texts]
        if members is None:
            members = "system_config" not in data[1]
        merged, conflicts = merge3(*data)
        if not conflicts:
            write_bytes(current, _canonical(merged, members, path or str(current)).encode("utf-8"))
            return []
    except CloudConfigError as exc:
        conflicts = [f"a version does not load as data ({exc}); merged as text"]
    _text_merge(ancestor, current, other, marker_size, conflicts)
    return conflicts


def _canonical(data: dict[str, Any], members: bool, source: str) -> str:
    """The merged data, loaded by the model (closed schema, types) and written canonically."""
    if members:
        return Members.from_dict(data, source).dumps()
    return ChainConfig.from_dict(data, source).dumps()


def _text_merge(ancestor: Path, current: Path, other: Path, marker_size: int, conflicts: list[str]) -> None:
    """git merge-file's result in `current`, with conflict markers, under a comment naming `conflicts`."""
    proc = git.run_bytes(
        None, "merge-file", "-p", f"--marker-size={marker_size}", "-L", "ours", "-L", "base", "-L", "theirs",
        str(current), str(ancestor), str(other), check=False,
    )  # fmt: skip
    body = proc.stdout
    if proc.returncode == 0:  # merges as text, not as data: mark the whole file
        ours, theirs = current.read_bytes(), other.read_bytes()
        marks = [c * marker_size for c in "<=>"]
        body = (
            f"{marks[0]} ours\n".encode()
            + ours
            + f"{marks[1]}\n".encode()
            + theirs
            + f"{marks[2]} theirs\n".encode()
        )
    note = f"# cloud-config merge-driver: CONFLICT in {'; '.join(conflicts)}; resolve it, then verify\n"
    write_bytes(current, note.encode("utf-8") + body)
