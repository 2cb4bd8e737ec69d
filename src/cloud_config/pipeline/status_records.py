"""Writing a node's status record: an SSH-signed commit on `status/<domain>` of the chain repo
(or the pipeline's `status_repo`), pushed after every reconcile. See model.status_record.

The commit is made with git plumbing in a bare scratch repository (no work tree, no checkout of
the chain), on top of the branch's current tip, so the branch keeps its history; a rejected push
(another writer moved the branch) is retried from the new tip.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from cloud_config import __version__, git
from cloud_config.crypto.pki import cert_not_after
from cloud_config.errors import CloudConfigError
from cloud_config.model.members import Members
from cloud_config.model.paths import MEMBERS_FILE, encrypted_at_rest, node_cert
from cloud_config.model.status_record import RECORD_FILE, StatusRecord, branch_of
from cloud_config.pipeline.receipt import ReceiptRefused
from cloud_config.pipeline.reconcile import Target, _cache_dir, _location
from cloud_config.store.atomic import SECRET_DIR_MODE, locked
from cloud_config.store.sops import Sops, read_secret_text

PUSH_ATTEMPTS = 3
CONFIG_TOML = "config.toml"


@dataclass(frozen=True)
class RecordSettings:
    """Where a pipeline writes its records and the pipeline key that signs them."""

    repo: str
    key: Path


def now() -> str:
    """The current UTC time as records hold it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def chain_digest(config_toml: bytes) -> str:
    """`sha256:<hex>` of the `genesis_block` and `system_config` tables of a rendered config.toml
    (canonical JSON of the two): the same on every node of a healthy chain."""
    data = tomllib.loads(config_toml.decode("utf-8"))
    part = {k: data.get(k) for k in ("genesis_block", "system_config")}
    canonical = json.dumps(part, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def build_record(
    target: Target,
    workdir: Path,
    result: str,
    started: str,
    chain: tuple[Path, str],
    refusal: dict[str, str] | None = None,
    sync: dict[str, str] | None = None,
) -> StatusRecord:
    """The record of the reconcile that just ran for `target`, read from its cached node clone and
    `chain`: (the chain repo, the chain commit the run read)."""
    chain_repo, chain_sha = chain
    node_dir = _cache_dir(workdir, target) / "node"
    files = git.read_objects(
        chain_repo, [f"{chain_sha}:{MEMBERS_FILE}", f"{chain_sha}:{node_cert(target.domain)}"]
    )
    members, cert = files[f"{chain_sha}:{MEMBERS_FILE}"], files[f"{chain_sha}:{node_cert(target.domain)}"]
    owner = None
    if members is not None:
        owner = Members.loads(members.decode("utf-8"), MEMBERS_FILE).owner_of_domain(target.domain)
    config = node_dir / CONFIG_TOML
    return StatusRecord(
        domain=target.domain,
        owner=owner.name if owner else "unknown",
        result=result,
        chain_commit=chain_sha,
        node_commit=git.rev_parse(node_dir, "HEAD"),
        digest=chain_digest(_config_text(config, target)) if config.is_file() else "none",
        tool_version=__version__,
        started=started,
        finished=now(),
        cert_not_after=cert_not_after(cert.decode("ascii")) if cert is not None else "",
        refusal=dict(refusal or {}),
        sync=dict(sync or {}),
    )


def _config_text(config: Path, target: Target) -> bytes:
    """The node's rendered config.toml, decrypted in memory when it is encrypted at rest."""
    kind = encrypted_at_rest(CONFIG_TOML) or "binary"
    return read_secret_text(config, kind, Sops(target.age_identity_file)).encode("utf-8")


def push_record(record: StatusRecord, settings: RecordSettings, workdir: Path) -> str:
    """Commit `record` on top of its branch's tip, signed, and push it; the new commit's sha.

    Raises:
        CloudConfigError (GitError): when the repository cannot be reached or keeps rejecting.
    """
    url = _location(settings.repo)
    scratch = workdir / "status-records" / hashlib.sha256(url.encode()).hexdigest()[:12]
    scratch.parent.mkdir(mode=SECRET_DIR_MODE, parents=True, exist_ok=True)
    branch = branch_of(record.domain)
    message = f"status: {record.domain} {record.result} chain {record.chain_commit[:12]}"
    with locked(scratch.parent):
        if not (scratch / "HEAD").is_file():
            git.init(scratch, bare=True)
        for _ in range(PUSH_ATTEMPTS):
            parent = git.remote_ref(scratch, url, f"refs/heads/{branch}")
            files = {RECORD_FILE: record.dumps().encode()}
            sha = git.commit_files_signed(scratch, files, parent, message, settings.key)
            if git.push(scratch, url, f"{sha}:refs/heads/{branch}"):
                return sha
    raise CloudConfigError(f"{record.domain}: the status branch {branch} rejected {PUSH_ATTEMPTS} pushes")


def refusal_of(exc: BaseException, chain_sha: str) -> dict[str, str]:
    """The (rule, refused commit, message) of a refused reconcile: a receipt refusal names its rule
    and the refused step; any other refusal is `render`, of the chain head."""
    if isinstance(exc, ReceiptRefused):
        rule, commit = exc.refusal.rule, exc.refusal.commit or exc.chain_sha
    else:
        rule, commit = "render", chain_sha
    return {"rule": rule, "commit": commit, "message": re.sub(r"\s+", " ", str(exc))[:500]}
