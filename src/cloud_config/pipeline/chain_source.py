"""One chain repo as the nodes of a pipeline read it: one fetch per push, one snapshot folder and
one parse per chain commit, shared by every node reconciled from that commit.

The folder holds `repo.git`, a bare clone updated only by `git fetch` (the receipt check reads
its objects), and `snapshots/<sha>/`, the files of one chain commit, written once and never
changed (the nodes render from it). A node holds a shared lock on the snapshot it renders from;
a snapshot nobody holds is reused for the next commit (only the files that differ are written)
or removed when a node takes another one. Fetches coalesce: a node run asked
for at time T (`asked`, a `time.monotonic_ns()` value) takes the head of any fetch started at or
after T, so the nodes woken by one push share one fetch, and a run asked for while a fetch was
already going fetches again (it must see the newest head).
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import shutil
import stat
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from cloud_config import git
from cloud_config.errors import CloudConfigError
from cloud_config.store.atomic import locked
from cloud_config.store.node_files import LoadedChain, load_chain

PARSED_KEPT = 4  # parsed chain configurations kept (per commit and chain name)


class ChainSource:
    """The chain repo `url`'s branch `branch`, cached in `folder`; see the module docstring."""

    def __init__(self, folder: Path, url: str, branch: str) -> None:
        self.folder, self.url, self.branch = folder, url, branch
        self.repo = folder / "repo.git"
        self._fetch_lock = threading.Lock()
        self._fetched: tuple[int, str] | None = None  # (when the newest fetch started, its head)
        self._tree_lock = threading.Lock()
        self._parse_lock = threading.Lock()
        self._parsed: dict[tuple[str, str], LoadedChain] = {}
        self.fetches = 0

    def head(self, asked: int | None = None) -> str:
        """The branch head as fetched at or after `asked` (default: now); fetches when needed."""
        asked = time.monotonic_ns() if asked is None else asked
        with self._fetch_lock:
            if self._fetched is not None and self._fetched[0] >= asked:
                return self._fetched[1]
            started = time.monotonic_ns()
            sha = self._fetch()
            self._fetched = (started, sha)
            self.fetches += 1
            return sha

    def _fetch(self) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        with locked(self.folder):  # another process on the same workdir
            ref = f"refs/heads/{self.branch}"
            if self.repo.is_dir():
                git.fetch(self.repo, "origin", f"+{ref}:{ref}")
            else:
                tmp = self.folder / "repo.git.tmp"
                if tmp.exists():
                    shutil.rmtree(tmp)
                git.clone(self.url, tmp, branch=self.branch, bare=True)
                tmp.rename(self.repo)
            return git.rev_parse(self.repo, ref)

    @contextlib.contextmanager
    def tree(self, sha: str) -> Iterator[Path]:
        """The snapshot folder of chain commit `sha`, held (not removed) while the block runs."""
        with self._tree_lock:
            path, fd = self._hold(sha)
        try:
            yield path
        finally:
            os.close(fd)

    def _hold(self, sha: str) -> tuple[Path, int]:
        snapshots = self.folder / "snapshots"
        path = snapshots / sha
        while True:
            if not path.is_dir():
                self._write_snapshot(snapshots, sha)
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
            fcntl.flock(fd, fcntl.LOCK_SH)
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_ino == os.fstat(fd).st_ino:  # not removed by another process
                    _prune(snapshots, keep=sha)
                    return path, fd
            os.close(fd)

    def _write_snapshot(self, snapshots: Path, sha: str) -> None:
        snapshots.mkdir(parents=True, exist_ok=True)
        tmp = snapshots / f".{sha}.{os.getpid()}.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        try:
            if not self._recycle(snapshots, sha, tmp):
                tmp.mkdir()
                _extract(git.run_bytes(self.repo, "archive", "--format=tar", sha).stdout, tmp)
            tmp.rename(snapshots / sha)
        except OSError:  # another process wrote it first (or the disk is full: then it raises below)
            shutil.rmtree(tmp, ignore_errors=True)
            if not (snapshots / sha).is_dir():
                raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _recycle(self, snapshots: Path, sha: str, tmp: Path) -> bool:
        """Move a snapshot nobody holds to `tmp` and update it to commit `sha` (only the files that
        differ are written); False when there is none (or it cannot be updated: then it is gone)."""
        for path in _unheld(snapshots, keep=sha):
            try:
                path.rename(tmp)
                _update(self.repo, tmp, path.name, sha)
                return True
            except (OSError, CloudConfigError):
                shutil.rmtree(tmp, ignore_errors=True)
                return False
        return False

    def loaded(self, sha: str, chain_name: str, tree: Path) -> LoadedChain:
        """The validated chain configuration of commit `sha` (its snapshot `tree`), parsed once."""
        key = (sha, chain_name)
        with self._parse_lock:
            if key not in self._parsed:
                self._parsed[key] = load_chain(tree, chain_name)
                while len(self._parsed) > PARSED_KEPT:
                    self._parsed.pop(next(iter(self._parsed)))
            return self._parsed[key]


def _parts(name: str) -> tuple[str, ...] | None:
    """The components of a path in a chain commit's tree, None when it would leave the snapshot."""
    parts = Path(name).parts
    if not parts or Path(name).is_absolute() or any(p in ("", ".", "..") for p in parts):
        return None
    return parts


def _update(repo: Path, dest: Path, old: str, new: str) -> None:
    """Make the snapshot `dest` of commit `old` the snapshot of commit `new`: the files that differ."""
    out = git.run_bytes(repo, "diff-tree", "-r", "-z", "--no-renames", "--no-commit-id", old, new).stdout
    writes: dict[Path, tuple[str, str]] = {}
    for _, meta, name in git.diff_records(out):
        parts = _parts(name)
        if parts is None:
            continue
        target = dest.joinpath(*parts)
        if target.is_file():
            target.unlink()
        for parent in target.parents:  # a folder left empty by the change
            if parent == dest:
                break
            with contextlib.suppress(OSError):
                parent.rmdir()
        if meta[1] in ("100644", "100755"):
            writes[target] = (meta[1], meta[3])
    blobs = git.read_objects(repo, sorted({blob for _, blob in writes.values()}))
    for target, (mode, blob) in writes.items():
        data = blobs[blob]
        if data is None:
            raise CloudConfigError(f"chain commit {new[:12]}: blob {blob} is missing")
        if target.is_dir():  # a folder whose files this change removed, replaced by a file
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        if mode == "100755":
            target.chmod(0o755)


def _extract(archive: bytes, dest: Path) -> None:
    """Write the regular files of a `git archive` tar under `dest` (links and the rest skipped:
    a chain repo's files are read as plain files)."""
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
        for member in tar:
            parts = _parts(member.name)
            if not member.isfile() or parts is None:
                continue
            extracted = tar.extractfile(member)
            assert extracted is not None
            target = dest.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(extracted.read())
            if member.mode & stat.S_IXUSR:
                target.chmod(0o755)


def _unheld(snapshots: Path, keep: str) -> Iterator[Path]:
    """Each snapshot but `keep` that no node holds, locked exclusively until the next is asked for."""
    for path in snapshots.iterdir():
        if path.name.startswith(".") or path.name == keep:
            continue
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:  # removed by another process meanwhile
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            yield path
        finally:
            os.close(fd)


def _prune(snapshots: Path, keep: str) -> None:
    """Remove every snapshot but `keep` that no node holds (and leftovers of interrupted writes)."""
    for path in snapshots.iterdir():
        if path.name.startswith(".") and not _pid_alive(path.name):  # a write that was interrupted
            shutil.rmtree(path, ignore_errors=True)
    for path in _unheld(snapshots, keep):
        shutil.rmtree(path, ignore_errors=True)


def _pid_alive(name: str) -> bool:
    """Whether the process that named a `.<sha>.<pid>.tmp` folder still runs."""
    pid = name.split(".")[-2]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
