"""Atomic file writes (temporary file in the same folder, then rename) and folder locks."""

from __future__ import annotations

import contextlib
import contextvars
import fcntl
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

SECRET_MODE = 0o600
SECRET_DIR_MODE = 0o700
PUBLIC_MODE = 0o644

# A dry run's plan: every path a write would replace (new bytes) or remove (None), in order.
Plan = dict[Path, bytes | None]
_PLAN: contextvars.ContextVar[Plan | None] = contextvars.ContextVar("dry_run_plan", default=None)
# Inside `synced_at_end`: durable writes leave their fsync to the one sync at the block's end.
_SYNC_AT_END: contextvars.ContextVar[bool] = contextvars.ContextVar("sync_at_end", default=False)


@contextlib.contextmanager
def dry_run() -> Iterator[Plan]:
    """Within the block, writes, removals and mode changes of this module are recorded, not done."""
    plan: Plan = {}
    token = _PLAN.set(plan)
    try:
        yield plan
    finally:
        _PLAN.reset(token)


def dry_running() -> bool:
    """Whether a dry run is recording instead of writing."""
    return _PLAN.get() is not None


def remove(path: Path) -> None:
    """Remove a file (no error when it is gone already); recorded in a dry run."""
    plan = _PLAN.get()
    if plan is not None:
        if path.exists():
            plan[path] = None
        return
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def chmod(path: Path, mode: int) -> None:
    """Set a file's mode (nothing in a dry run: the diff shows content only)."""
    if _PLAN.get() is None:
        os.chmod(path, mode)


@contextlib.contextmanager
def synced_at_end() -> Iterator[None]:
    """Within the block, durable writes skip their own fsync; one `sync()` when the block ends
    (normally or not) makes every write of it durable at once.

    For flows that write new folders (`create`): a crash inside the block leaves the same partial
    folders a crash between two per-file fsyncs would, and one sync replaces thousands of fsyncs.
    """
    token = _SYNC_AT_END.set(True)
    try:
        yield
    finally:
        _SYNC_AT_END.reset(token)
        if _PLAN.get() is None:
            os.sync()


def create_file(path: Path, data: bytes, mode: int, durable: bool = True) -> None:
    """Write `data` to a new file `path` (FileExistsError when it exists), fsynced when `durable`
    (inside `synced_at_end`, the block's one sync does it)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have narrowed `mode`
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable and not _SYNC_AT_END.get():
                handle.flush()
                os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        raise


def _temp_for(path: Path, data: bytes, mode: int, durable: bool = True) -> Path:
    """`data` in a new file beside `path` (`.<name>.<random>.tmp`)."""
    for _ in range(100):
        temp = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
        try:
            create_file(temp, data, mode, durable)
            return temp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


def write_bytes(path: Path, data: bytes, mode: int = PUBLIC_MODE) -> None:
    """Replace `path` with `data` in one step: readers see the old file or the new one."""
    plan = _PLAN.get()
    if plan is not None:
        plan[path] = data
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    os.replace(_temp_for(path, data, mode), path)


def write_secret(path: Path, data: bytes) -> None:
    """Write a file holding secret material: mode 0600, its folder 0700."""
    if dry_running():
        write_bytes(path, data, SECRET_MODE)
        return
    path.parent.mkdir(mode=SECRET_DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path.parent, SECRET_DIR_MODE)
    write_bytes(path, data, SECRET_MODE)


def write_many(files: Mapping[Path, tuple[bytes, int]], durable: bool = True) -> None:
    """Write several files: every temporary file first, then all the renames.

    A failure while preparing (disk full, permissions) leaves every target as it was.
    `durable=False` skips the fsync of each file: for generated files, which the next render
    reproduces, it makes a 100-node render 20x faster; each file still appears whole or not at all.
    """
    plan = _PLAN.get()
    if plan is not None:
        plan.update((path, data) for path, (data, _) in files.items())
        return
    staged: list[tuple[Path, Path]] = []
    folders: set[Path] = set()
    try:
        for path, (data, mode) in files.items():
            if path.parent not in folders:
                path.parent.mkdir(parents=True, exist_ok=True)
                folders.add(path.parent)
            staged.append((_temp_for(path, data, mode, durable), path))
    except BaseException:
        for temp, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
        raise
    for temp, path in staged:
        os.replace(temp, path)


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on `folder` (no lock file is left behind) while the block runs."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
