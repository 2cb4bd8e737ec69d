"""`--dry-run`: run an edit with its writes recorded, then print the unified diff of the plan.

A file that holds secret material (model.paths: `generated_is_secret`, `key_material`) is never
shown: its line is `<path>: secret content changed` (or `added`, `removed`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import TypeVar

T = TypeVar("T")


def run_dry(config_dir: Path, action: Callable[[], T]) -> tuple[T, int]:
    """Run `action` with every write recorded; print the diff against `config_dir`; (result, files)."""
    from cloud_config.store.atomic import dry_run

    with dry_run() as plan:
        result = action()
    shown = 0
    for path in sorted(plan):
        shown += print_diff(config_dir, path, plan[path])
    return result, shown


def _is_secret(relative: str) -> bool:
    from cloud_config.model.paths import generated_is_secret, key_material

    parts = PurePosixPath(relative).parts
    inner = PurePosixPath(*parts[1:]).as_posix() if len(parts) > 1 else relative
    return generated_is_secret(inner) or key_material(inner) is not None


def print_diff(config_dir: Path, path: Path, new: bytes | None) -> int:
    """Print one file's change (1) or nothing when its bytes stay the same (0)."""
    import difflib
    import os

    old = path.read_bytes() if path.is_file() else None
    if old == new:
        return 0
    shown = os.path.relpath(path, config_dir)
    state = "added" if old is None else "removed" if new is None else "changed"
    if _is_secret(Path(shown).as_posix()):
        print(f"{shown}: secret content {state}")
        return 1
    try:
        before = old.decode("utf-8").splitlines(keepends=True) if old is not None else []
        after = new.decode("utf-8").splitlines(keepends=True) if new is not None else []
    except UnicodeDecodeError:
        print(f"{shown}: binary content {state}")
        return 1
    lines = difflib.unified_diff(
        before,
        after,
        fromfile="/dev/null" if old is None else f"a/{shown}",
        tofile="/dev/null" if new is None else f"b/{shown}",
    )
    for line in lines:
        print(line, end="" if line.endswith("\n") else "\n\\ No newline at end of file\n")
    return 1
