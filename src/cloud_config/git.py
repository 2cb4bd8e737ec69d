"""The one way we run git: small functions, argv lists (no shell), a scrubbed environment.

Every git call goes through `run`, which raises GitError (argv, exit code, last stderr line).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

from cloud_config.errors import GitError

BOT_NAME = "cloud-config"
BOT_EMAIL = "cloud-config@localhost"
# Variables a hook or a parent git process may leak into us (GIT_DIR above all).
_LEAKY = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_PREFIX")


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY}
    env.setdefault("GIT_AUTHOR_NAME", BOT_NAME)
    env.setdefault("GIT_AUTHOR_EMAIL", BOT_EMAIL)
    env.setdefault("GIT_COMMITTER_NAME", BOT_NAME)
    env.setdefault("GIT_COMMITTER_EMAIL", BOT_EMAIL)
    env["GIT_TERMINAL_PROMPT"] = "0"
    env.update(extra or {})
    return env


def run_bytes(
    repo: Path | None,
    *args: str,
    env: dict[str, str] | None = None,
    check: bool = True,
    stdin: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run `git [-C repo] args...` (`stdin` as its input); raise GitError on failure unless check=False."""
    argv = ["git", *(["-C", str(repo)] if repo is not None else []), *args]
    proc = subprocess.run(argv, input=stdin, capture_output=True, env=_env(env), check=False)
    if check and proc.returncode != 0:
        raise GitError(list(args), proc.returncode, proc.stderr.decode(errors="replace"))
    return proc


def run(repo: Path | None, *args: str, env: dict[str, str] | None = None) -> str:
    """Run git and return its stdout as text, stripped of the final newline."""
    return run_bytes(repo, *args, env=env).stdout.decode().rstrip("\n")


def rev_parse(repo: Path, rev: str) -> str:
    """The full commit sha of `rev`."""
    return run(repo, "rev-parse", "--verify", f"{rev}^{{commit}}")


def show(repo: Path, rev: str, path: str) -> bytes | None:
    """The bytes of `path` at `rev`, or None when the file does not exist there."""
    proc = run_bytes(repo, "cat-file", "blob", f"{rev}:{path}", check=False)
    return proc.stdout if proc.returncode == 0 else None


def ls_tree(repo: Path, rev: str) -> list[str]:
    """Every file path in the tree of `rev`."""
    out = run_bytes(repo, "ls-tree", "-r", "-z", "--name-only", rev).stdout.decode()
    return [p for p in out.split("\0") if p]


def changed_paths(repo: Path, base: str, head: str) -> list[str]:
    """Paths that differ between two revisions."""
    out = run_bytes(repo, "diff", "--name-only", "-z", "--no-renames", base, head).stdout.decode()
    return [p for p in out.split("\0") if p]


def commits_between(repo: Path, base: str, head: str, merges: bool = False) -> list[str]:
    """Commits reachable from head but not base, oldest first (non-merge ones by default)."""
    args = ["rev-list", "--reverse", f"{base}..{head}"]
    if not merges:
        args.insert(1, "--no-merges")
    out = run(repo, *args)
    return out.split() if out else []


def init(repo: Path, bare: bool = False, branch: str = "master") -> None:
    """Create a repository."""
    run(None, "init", "-q", *(["--bare"] if bare else []), "-b", branch, str(repo))


def clone(url: str, dest: Path, branch: str | None = None, bare: bool = False) -> None:
    """Clone `url` into `dest` (`bare`: objects and refs only, no work tree)."""
    run(
        None,
        "clone",
        "-q",
        *(["--bare"] if bare else []),
        *(["-b", branch] if branch else []),
        url,
        str(dest),
    )


def fetch(repo: Path, remote: str = "origin", *refs: str) -> None:
    """Fetch from a remote."""
    run(repo, "fetch", "-q", remote, *refs)


def commit_all(
    repo: Path, message: str, env: dict[str, str] | None = None, signing: Sequence[str] = ()
) -> str | None:
    """Stage everything and commit (signed when `signing` holds options from `ssh_signing` or
    `openpgp_signing`); return the new sha, or None when nothing changed."""
    run(repo, "add", "-A")
    sign = ["-S"] if signing else ["--no-gpg-sign"]
    proc = run_bytes(repo, *signing, "commit", "-q", *sign, "-m", message, env=env, check=False)
    if proc.returncode != 0:
        # `commit` fails when nothing is staged: only then is the index asked (one process less).
        if run_bytes(repo, "diff", "--cached", "--quiet", check=False).returncode == 0:
            return None
        raise GitError(
            [*signing, "commit", "-q", *sign, "-m", message],
            proc.returncode,
            proc.stderr.decode(errors="replace"),
        )
    return rev_parse(repo, "HEAD")


def push(repo: Path, remote: str, refspec: str) -> bool:
    """Push; True on success, False when the remote rejected it as not a fast-forward."""
    proc = run_bytes(repo, "push", "-q", remote, refspec, check=False)
    if proc.returncode == 0:
        return True
    err = proc.stderr.decode(errors="replace")
    if "[rejected]" in err or "non-fast-forward" in err or "fetch first" in err:
        return False
    raise GitError(["push", remote, refspec], proc.returncode, err)


def reset_to_remote(repo: Path, branch: str, remote: str = "origin") -> None:
    """Fetch `branch` and make the work tree exactly its head (local changes dropped).

    No auto-maintenance after the fetch: the next commit in the work tree runs it. Protocol v0:
    its one ref advertisement answers a fetch with nothing new in one HTTP round trip, where v2
    needs two (capabilities, then ls-refs); a work clone follows one branch."""
    run(
        repo,
        "-c",
        "protocol.version=0",
        "fetch",
        "-q",
        "--no-auto-maintenance",
        remote,
        f"refs/heads/{branch}",
    )
    run(repo, "reset", "-q", "--hard", "FETCH_HEAD")
    run(repo, "clean", "-q", "-ffdx")


def _stdin_lines(repo: Path, args: list[str], lines: list[str]) -> bytes:
    """The stdout of `git -C repo args...` fed `lines` on stdin, one a line; GitError on failure."""
    argv = ["git", "-C", str(repo), *args]
    request = "".join(f"{line}\n" for line in lines).encode()
    proc = subprocess.run(argv, input=request, capture_output=True, env=_env(None), check=False)
    if proc.returncode != 0:
        raise GitError(args, proc.returncode, proc.stderr.decode(errors="replace"))
    return proc.stdout


def read_objects(repo: Path, specs: list[str]) -> dict[str, bytes | None]:
    """The bytes of each blob named by `specs` (`rev:path` or an id); None when not a blob."""
    if not specs:
        return {}
    data, pos = _stdin_lines(repo, ["cat-file", "--batch", "--buffer"], specs), 0
    out: dict[str, bytes | None] = {}
    for spec in specs:
        end = data.index(b"\n", pos)
        header = data[pos:end].split()
        pos = end + 1
        if header[-1] == b"missing" or header[-1] == b"ambiguous":
            out[spec] = None
            continue
        size = int(header[2])
        out[spec] = data[pos : pos + size] if header[1] == b"blob" else None
        pos += size + 1
    return out


def added_blobs(repo: Path, base: str, head: str) -> list[tuple[str, str]]:
    """(blob id, path) of every file version a commit of base..head writes, under every path it is
    written at (renames and aliases included; a merge's against each parent), oldest commit first."""
    commits = run(repo, "rev-list", "--reverse", f"{base}..{head}")
    if not commits:
        return []
    args = [
        "diff-tree",
        "--stdin",
        "-r",
        "-z",
        "-m",
        "--root",
        "--no-renames",
        "--no-abbrev",
        "--no-commit-id",
    ]
    rows: dict[tuple[str, str], None] = {}
    for _, meta, path in diff_records(_stdin_lines(repo, args, commits.split("\n"))):
        if meta[3].strip("0") and meta[1] != "160000":  # not a deletion, not a submodule
            rows.setdefault((meta[3], path), None)
    return list(rows)


def diff_records(out: bytes) -> Iterator[tuple[str, list[str], str]]:
    """(commit id, meta, path) of each record of `git diff-tree -r -z` output, where meta is
    [":old-mode", "new-mode", "old-id", "new-id", "status"]. A record is its meta token, then its
    path token (which may itself start with ":"); a commit id token (output without
    --no-commit-id) names the commit of the records after it ("" before any)."""
    tokens = out.decode(errors="surrogateescape").split("\0")
    commit, i = "", 0
    while i < len(tokens) - 1:
        token = tokens[i]
        if token.startswith(":"):
            yield commit, token.split(), tokens[i + 1]
            i += 2
        else:
            commit = token
            i += 1


def commit_diffs(repo: Path, commits: list[str]) -> dict[str, list[tuple[str, str, str]]]:
    """(path, blob id before, blob id after) of every file each of `commits` (commits with one
    parent) changes against its parent, in one git process; "" for the side where it is absent.
    A commit that changes nothing maps to []."""
    out: dict[str, list[tuple[str, str, str]]] = {c: [] for c in commits}
    if not commits:
        return out
    listed = _stdin_lines(repo, ["diff-tree", "--stdin", "-r", "-z", "--no-renames", "--no-abbrev"], commits)
    for commit, meta, path in diff_records(listed):
        out.setdefault(commit, []).append(
            (path, meta[2].strip("0") and meta[2], meta[3].strip("0") and meta[3])
        )
    return out


def object_ids(repo: Path, specs: list[str]) -> dict[str, tuple[str, str] | None]:
    """(id, type) of the object each `rev:path` of `specs` names (None when absent), in one git
    process."""
    if not specs:
        return {}
    found = _stdin_lines(repo, ["cat-file", "--batch-check", "--buffer"], specs)
    lines = found.decode(errors="surrogateescape").splitlines()
    out: dict[str, tuple[str, str] | None] = {}
    for spec, line in zip(specs, lines, strict=True):
        fields = line.rsplit(" ", 2)
        out[spec] = (
            (fields[0], fields[1]) if line.endswith(tuple("0123456789")) and len(fields) == 3 else None
        )
    return out


def merge_base(repo: Path, one: str, other: str) -> str | None:
    """The best common ancestor of two commits, or None when their histories are unrelated."""
    proc = run_bytes(repo, "merge-base", one, other, check=False)
    if proc.returncode == 1 and not proc.stderr.strip():
        return None
    if proc.returncode != 0:
        raise GitError(["merge-base", one, other], proc.returncode, proc.stderr.decode(errors="replace"))
    return proc.stdout.decode().split()[0]


def merge_tree(repo: Path, ours: str, theirs: str) -> tuple[str, list[str]]:
    """(tree id, conflicted paths) of merging two commits the way `git merge` (ort) would, without
    touching a work tree or a ref (a forge merges the same way, with no custom merge driver)."""
    proc = run_bytes(
        repo, "merge-tree", "--write-tree", "--name-only", "-z", "--no-messages", ours, theirs, check=False
    )
    if proc.returncode not in (0, 1):
        raise GitError(["merge-tree", ours, theirs], proc.returncode, proc.stderr.decode(errors="replace"))
    tree, *paths = [p for p in proc.stdout.decode(errors="surrogateescape").split("\0") if p]
    return tree, sorted(set(paths)) if proc.returncode == 1 else []


def signed_commits(
    repo: Path, base: str, head: str, allowed_signers: Path
) -> list[tuple[str, tuple[str, ...], str, str, str, str]]:
    """(sha, parents, %G? status, key fingerprint, principal, tree id) of each commit in base..head
    (merges included), oldest first, checked by git against an SSH allowed-signers file."""
    fields = ["%H", "%P", "%G?", "%GF", "%GS", "%T"]
    rows = signature_log(repo, allowed_signers, ["--reverse", f"{base}..{head}"], fields)
    return [
        (sha, tuple(parents.split()), status, fingerprint, principal, tree)
        for sha, parents, status, fingerprint, principal, tree in rows
    ]


def ls_tree_ids(repo: Path, rev: str) -> dict[str, str]:
    """Every file path in the tree of `rev`, with its blob id."""
    out = run_bytes(repo, "ls-tree", "-r", "-z", rev).stdout.decode()
    entries = (line.split("\t", 1) for line in out.split("\0") if line)
    return {path: meta.split()[2] for meta, path in entries}


def is_ancestor(repo: Path, older: str, newer: str) -> bool:
    """Whether commit `older` is an ancestor of (or equal to) `newer`."""
    return run_bytes(repo, "merge-base", "--is-ancestor", older, newer, check=False).returncode == 0


def ssh_signing(key: Path) -> list[str]:
    """Options (before the git sub-command) making `commit -S` / `merge -S` sign with the SSH
    private key file `key`."""
    return ["-c", "gpg.format=ssh", "-c", f"user.signingkey={key}"]


def openpgp_signing(key_id: str) -> list[str]:
    """Options (before the git sub-command) making `commit -S` sign with the GnuPG key `key_id`
    (from the keyring of $GNUPGHOME)."""
    return ["-c", "gpg.format=openpgp", "-c", f"user.signingkey={key_id}"]


def commit_all_signed(repo: Path, message: str, key: Path, env: dict[str, str] | None = None) -> str | None:
    """Stage everything and commit, SSH-signed with `key`; the new sha, or None when nothing changed."""
    return commit_all(repo, message, env, ssh_signing(key))


def commit_files_signed(
    repo: Path, files: dict[str, bytes], parent: str | None, message: str, key: Path
) -> str:
    """A new commit (no work tree needed) whose tree is exactly `files` (flat names), on top of
    `parent`, SSH-signed with `key`; its sha. The caller moves a ref to it (push)."""
    rows = []
    for name in sorted(files):
        blob = run_bytes(repo, "hash-object", "-w", "--stdin", stdin=files[name]).stdout.decode().strip()
        rows.append(f"100644 blob {blob}\t{name}\n")
    tree = run_bytes(repo, "mktree", stdin="".join(rows).encode()).stdout.decode().strip()
    parents = ["-p", parent] if parent else []
    return run(repo, *ssh_signing(key), "commit-tree", "-S", *parents, "-m", message, tree)


def fetch_refs(repo: Path, url: str, *refspecs: str) -> None:
    """Fetch `refspecs` from `url` (forced, pruned where a refspec has a glob)."""
    run(repo, "fetch", "-q", "--prune", "--no-tags", url, *refspecs)


def remote_ref(repo: Path, url: str, ref: str) -> str | None:
    """Fetch one ref of `url` into FETCH_HEAD; its sha, or None when the remote has no such ref."""
    if not run(repo, "ls-remote", url, ref):
        return None
    run(repo, "fetch", "-q", "--no-tags", url, ref)
    return rev_parse(repo, "FETCH_HEAD")


def refs(repo: Path, prefix: str) -> dict[str, str]:
    """{ref name without `prefix`: sha} of the refs under `prefix` (e.g. "refs/heads/status/")."""
    out = run(repo, "for-each-ref", "--format=%(refname)%00%(objectname)", prefix)
    rows = (line.split("\0") for line in out.splitlines() if line)
    return {name.removeprefix(prefix): sha for name, sha in rows}


def first_parents(repo: Path, rev: str, limit: int | None = None) -> list[str]:
    """`rev` and its first-parent ancestors, newest first."""
    out = run(repo, "rev-list", "--first-parent", *([f"--max-count={limit}"] if limit else []), rev)
    return out.split()


def signatures(repo: Path, revs: list[str], allowed_signers: Path) -> list[tuple[str, str, str, str]]:
    """(sha, %G? status, key fingerprint, principal) of exactly the commits `revs`, in that order,
    checked by git against an SSH allowed-signers file."""
    rows = signature_log_of(repo, allowed_signers, revs, ["%H", "%G?", "%GF", "%GS"])
    return [(sha, status, fingerprint, principal) for sha, status, fingerprint, principal in rows]


# From this many commits on, signatures are checked in two git processes side by side: git starts
# ssh-keygen for each signature (~16 ms), which is most of a long PR's verify, and there are 2 cores.
SPLIT_SIGNATURES_AT = 32


def signature_log_of(
    repo: Path, allowed_signers: Path, commits: list[str], fields: list[str]
) -> list[list[str]]:
    """`signature_log` of exactly `commits`, in that order (a long list in two halves at once)."""
    if not commits:
        return []

    def rows(part: list[str]) -> list[list[str]]:
        return signature_log(repo, allowed_signers, ["--no-walk=unsorted"], fields, part)

    if len(commits) < SPLIT_SIGNATURES_AT:
        return rows(commits)
    from concurrent.futures import ThreadPoolExecutor

    half = len(commits) // 2
    with ThreadPoolExecutor(max_workers=2) as pool:
        return [row for part in pool.map(rows, (commits[:half], commits[half:])) for row in part]


def signature_log(
    repo: Path,
    allowed_signers: Path,
    revisions: list[str],
    fields: list[str],
    commits: list[str] | None = None,
) -> list[list[str]]:
    """One row of `fields` (git log placeholders such as %H, %G?, %GF) per commit of
    `revisions` (git log arguments), newest first; SSH signatures are checked by git against
    an allowed-signers file. `commits`: more revisions, fed on stdin (a PR of any length fits)."""
    fmt = "".join(f"{f}%x00" for f in fields)
    args = [
        "-c", "gpg.format=ssh",
        "-c", f"gpg.ssh.allowedSignersFile={allowed_signers}",
        "log", f"--format={fmt}", *revisions,
    ]  # fmt: skip
    if commits is None:
        out = run(repo, *args, "--")
    else:
        out = _stdin_lines(repo, [*args, "--stdin", "--"], commits).decode()
    values = out.split("\0")[:-1]  # every field ends with NUL
    width = len(fields)
    return [[v.strip() for v in values[i : i + width]] for i in range(0, len(values), width)]


def tree_of(repo: Path, rev: str) -> str:
    """The tree id of commit `rev`."""
    return run(repo, "rev-parse", "--verify", f"{rev}^{{tree}}")


def trees_of(repo: Path, commits: list[str]) -> dict[str, str]:
    """The tree id of each commit, in one git call."""
    unique = sorted(set(commits))
    if not unique:
        return {}
    out = run(repo, "rev-parse", *(f"{c}^{{tree}}" for c in unique)).split()
    return dict(zip(unique, out, strict=True))


def parents_of(repo: Path, rev: str) -> list[str]:
    """The parents of commit `rev`, first parent first."""
    return run(repo, "rev-list", "--parents", "-n", "1", rev).split()[1:]


def first_parent_steps(repo: Path, base: str, head: str) -> list[tuple[str, str]]:
    """(commit, first parent) of each first-parent step of base..head (each merge or direct
    commit on the branch), oldest first; a root commit's parent is ""."""
    out = run(repo, "rev-list", "--first-parent", "--reverse", "--parents", f"{base}..{head}")
    rows = []
    for line in out.splitlines():
        sha, *parents = line.split()
        rows.append((sha, parents[0] if parents else ""))
    return rows


def is_commit(repo: Path, rev: str) -> bool:
    """Whether `rev` names a commit present in `repo`."""
    return run_bytes(repo, "cat-file", "-e", f"{rev}^{{commit}}", check=False).returncode == 0


def last_trailer(repo: Path, key: str) -> str | None:
    """The `key:` trailer value of the newest first-parent commit of HEAD that carries one."""
    out = run(repo, "log", "--first-parent", "-1", f"--grep=^{key}:",
              f"--format=%(trailers:key={key},valueonly,separator=%x20)", "HEAD")  # fmt: skip
    values = out.split()
    return values[-1] if values else None
