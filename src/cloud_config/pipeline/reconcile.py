"""Reconcile one node repo with the chain repo's head: render, commit only on change, push, retry.

The chain repo holds the public facts; the node repo holds node_config.toml and the node's own
secrets. The node repo is cloned once under the work folder and reset to its remote head on each
run; the chain repo is read through a ChainSource (pipeline.chain_source): the node's own for one
`reconcile`, the pipeline's, shared by all its nodes, in `serve` (one fetch per push, one
snapshot and one parse per chain commit).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cloud_config import git
from cloud_config.app.node import Changes, refresh_node
from cloud_config.errors import CloudConfigError, GitError, NotFoundError
from cloud_config.model.node import NodeConfig
from cloud_config.model.paths import NODE_CONFIG
from cloud_config.pipeline.chain_source import ChainSource
from cloud_config.pipeline.receipt import TRAILER, Policy, ReceiptCache, ReceiptRefused, check, starting_point
from cloud_config.pipeline.signing import check_signing_key
from cloud_config.store.atomic import SECRET_DIR_MODE, locked
from cloud_config.store.files import read_toml_text

MAX_ATTEMPTS = 5


class Refresher(Protocol):
    """Renders one node folder from a chain folder and syncs it: `app.node.refresh_node`."""

    def __call__(
        self, chain_dir: Path, node_dir: Path, chain_name: str, domain: str, identity: Path | None = None
    ) -> Changes: ...


class ReconcileRefused(CloudConfigError):
    """The chain head `chain_sha` cannot be rendered for this node; nothing was pushed."""

    def __init__(self, message: str, chain_sha: str) -> None:
        super().__init__(message)
        self.chain_sha = chain_sha


@dataclass(frozen=True)
class Target:
    """What to reconcile: a node repo against a chain repo."""

    chain_repo: str
    node_repo: str
    domain: str
    chain_branch: str = "master"
    node_branch: str = "master"
    chain_name: str | None = None
    # The age identity file that decrypts the node repo's keys (None: sops' own lookup).
    age_identity_file: Path | None = None
    trust_root: str | None = None  # the chain commit to start the receipt check from, without a trailer
    require_members: bool = False  # refuse a chain without members.toml
    signing_key: str | None = None  # GnuPG key id that signs the node commits (OpenPGP)


@dataclass
class Outcome:
    """What one reconcile did."""

    domain: str
    chain_sha: str
    node_sha: str
    committed: bool
    attempts: int = 1
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    steps_checked: int = 0  # first-parent chain steps the receipt check judged
    warnings: list[str] = field(default_factory=list)

    def line(self) -> str:
        """The one line the command prints."""
        if self.committed:
            return f"{self.domain}: committed {self.node_sha} (chain {self.chain_sha})"
        return f"{self.domain}: up to date (chain {self.chain_sha})"


def redact(text: str) -> str:
    """`text` with the user:password part of any URL in it hidden (error lines, /status).

    Up to the last `@` before the path, as git and curl read it: a password may hold an `@`.
    """
    return re.sub(r"(\b[a-z][a-z0-9+.-]*://)[^/\s]+@", r"\1***@", text, flags=re.IGNORECASE)


def default_workdir() -> Path:
    """Where clones are cached when --workdir is not given."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cloud-config" / "reconcile"


def _location(repo: str) -> str:
    """A URL as given, a local path made absolute (so cached clones do not depend on cwd)."""
    if re.match(r"^[a-z][a-z0-9+.-]*://", repo) or re.match(r"^[^/]+@[^/]+:", repo):
        return repo
    return str(Path(repo).resolve())


def _cache_dir(workdir: Path, target: Target) -> Path:
    key = "\0".join((target.chain_repo, target.chain_branch, target.node_repo, target.node_branch))
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", target.domain)
    return workdir / f"{safe}-{digest}"


def shared_chain(workdir: Path, chain_repo: str, branch: str) -> ChainSource:
    """The ChainSource the nodes of a pipeline (chain repo and branch) share under `workdir`."""
    digest = hashlib.sha256(f"{chain_repo}\0{branch}".encode()).hexdigest()[:12]
    return ChainSource(workdir / "chains" / digest, _location(chain_repo), branch)


def _own_chain(cache: Path, target: Target) -> ChainSource:
    """The node's own ChainSource, in its cache folder."""
    return ChainSource(cache / "chain", _location(target.chain_repo), target.chain_branch)


def _drop_old_chain_clone(cache: Path) -> None:
    """Remove a node's own chain clone with a work tree: the cache layout before ChainSource."""
    if (cache / "chain" / ".git").exists():
        shutil.rmtree(cache / "chain")


def _checkout(url: str, branch: str, dest: Path) -> None:
    """Clone once, then fetch and hard-reset to the remote head."""
    if (dest / ".git").is_dir():
        git.reset_to_remote(dest, branch)
        return
    tmp = dest.with_name(dest.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    git.clone(url, tmp, branch=branch)
    tmp.rename(dest)


def _chain_name(node_dir: Path, target: Target) -> str:
    if target.chain_name:
        return target.chain_name
    path, repo = node_dir / NODE_CONFIG, redact(target.node_repo)
    if not path.is_file():
        raise NotFoundError(
            f"node repo {repo} has no node_config.toml on {target.node_branch}; "
            "run init-node and push the node folder first, or pass --chain-name"
        )
    return NodeConfig.loads(read_toml_text(path), f"{repo}:node_config.toml").exporter_chain_name


def reconcile(
    target: Target,
    workdir: Path,
    render: Refresher | None = None,
    receipts: ReceiptCache | None = None,
    chain: ChainSource | None = None,
    asked: int | None = None,
) -> Outcome:
    """Bring the node repo up to date with the chain repo's head; see the module docstring.

    Before rendering, the receipt check (pipeline.receipt) judges every chain step since the
    node's last applied chain commit; a refusal raises ReceiptRefused and pushes nothing.
    `receipts` shares verdicts between the nodes of one pipeline (serve), `chain` the chain
    repo's fetch, snapshot and parse (default: the node's own); `asked` is when this run was
    asked for (`time.monotonic_ns()`; default now): the chain head is fetched at or after it.
    `render` (default `app.node.refresh_node` with the chain parsed once per commit) secures the
    node folder's key files (a clone or reset gives them the umask's mode) before it renders:
    once per attempt.
    """
    if target.signing_key is not None:
        check_signing_key(target.signing_key)
    started = time.monotonic()
    asked = time.monotonic_ns() if asked is None else asked
    cache = _cache_dir(workdir, target)
    cache.mkdir(mode=SECRET_DIR_MODE, parents=True, exist_ok=True)
    os.chmod(cache, SECRET_DIR_MODE)  # the node clone below holds the node's keys, in .git too
    with locked(cache), _redacted_git_errors():
        _drop_old_chain_clone(cache)
        source = chain or _own_chain(cache, target)
        node_dir = cache / "node"
        # The two fetches are independent network round trips: run them side by side.
        with ThreadPoolExecutor(max_workers=2) as pool:
            chain_job = pool.submit(source.head, asked)
            node_job = pool.submit(_checkout, _location(target.node_repo), target.node_branch, node_dir)
            chain_sha = chain_job.result()
            node_job.result()
        chain_name = _chain_name(node_dir, target)
        start, missing = starting_point(source.repo, node_dir, target.trust_root)
        if missing is not None:
            raise ReceiptRefused(target.domain, chain_sha, missing)
        policy = Policy(chain_name, target.require_members)
        receipt = (receipts.check if receipts else check)(source.repo, start, chain_sha, policy)
        if receipt.refusal is not None:
            raise ReceiptRefused(target.domain, chain_sha, receipt.refusal)
        with source.tree(chain_sha) as chain_dir:
            if render is None:
                render = functools.partial(_render_parsed, source, chain_sha)
            outcome = _render_commit_push(target, chain_dir, node_dir, chain_name, chain_sha, render)
        outcome.steps_checked, outcome.warnings = receipt.steps, list(receipt.warnings)
    outcome.seconds = time.monotonic() - started
    return outcome


def _render_parsed(
    source: ChainSource,
    sha: str,
    chain_dir: Path,
    node_dir: Path,
    chain_name: str,
    domain: str,
    identity: Path | None = None,
) -> Changes:
    """`refresh_node` with the chain configuration of commit `sha` parsed once for every node."""
    loaded = source.loaded(sha, chain_name, chain_dir)
    return refresh_node(chain_dir, node_dir, chain_name, domain, identity, loaded=loaded)


@contextlib.contextmanager
def _redacted_git_errors() -> Iterator[None]:
    try:
        yield
    except GitError as exc:
        raise GitError([redact(a) for a in exc.argv], exc.returncode, redact(exc.stderr)) from None


def _render(
    render: Refresher, chain_dir: Path, node_dir: Path, chain_name: str, target: Target, sha: str
) -> Changes:
    try:
        return render(chain_dir, node_dir, chain_name, target.domain, target.age_identity_file)
    except CloudConfigError as exc:
        raise ReconcileRefused(
            f"{target.domain}: refusing chain {sha[:12]}: {exc}; nothing pushed", sha
        ) from exc


def _render_commit_push(
    target: Target, chain_dir: Path, node_dir: Path, chain_name: str, chain_sha: str, render: Refresher
) -> Outcome:
    message = f"update {target.domain} config from chain {chain_sha[:7]}\n\n{TRAILER}: {chain_sha}"
    for attempt in range(1, MAX_ATTEMPTS + 1):
        changes = _render(render, chain_dir, node_dir, chain_name, target, chain_sha)
        signing = git.openpgp_signing(target.signing_key) if target.signing_key else ()
        sha = git.commit_all(node_dir, message, signing=signing)
        if sha is None:
            head = git.rev_parse(node_dir, "HEAD")
            return Outcome(target.domain, chain_sha, head, False, attempt)
        if git.push(node_dir, "origin", f"HEAD:refs/heads/{target.node_branch}"):
            return Outcome(
                target.domain, chain_sha, sha, True, attempt, list(changes.written), list(changes.removed)
            )
        # Someone else pushed to the node repo meanwhile: start again from their head.
        git.reset_to_remote(node_dir, target.node_branch)
    raise CloudConfigError(
        f"{target.domain}: the node repo rejected {MAX_ATTEMPTS} pushes in a row (other writers?); "
        "nothing pushed, try again"
    )
