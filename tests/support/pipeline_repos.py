"""Helpers for the pipeline tests: a real chain on a local forge, writers, webhook posting."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from cloud_config import git
from cloud_config.demo.forge import Forge
from cloud_config.demo.world import CHAIN, Person, World, quick_chain

# node0 in cluster k8s; node1 in another cluster, reached through an ExternalName Service.
NODES = ["www.node0.com:40000:node0:k8s", "www.node1.com:40001:node1:k8s-b"]


class Writer:
    """A clone of one repo that writes files, commits and pushes (like a person at a shell)."""

    def __init__(self, url: str, where: Path, branch: str = "master") -> None:
        self.url, self.dir, self.branch = url, where, branch
        if not where.exists():
            git.run(None, "clone", "-q", url, str(where))

    def sync(self) -> None:
        """Catch up with the remote branch (when it exists)."""
        if git.run(self.dir, "ls-remote", "origin", f"refs/heads/{self.branch}"):
            git.reset_to_remote(self.dir, self.branch)

    def write(self, files: dict[str, bytes | None], message: str, signer: Person | None = None) -> str:
        """Write (or delete, for None) files, commit (signed by `signer`, if any), push; the new sha."""
        self.sync()
        for name, data in files.items():
            path = self.dir / name
            if data is None:
                path.unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
        sha = signer.commit(self.dir, message) if signer else git.commit_all(self.dir, message)
        assert sha is not None, "nothing to commit"
        assert git.push(self.dir, "origin", f"HEAD:refs/heads/{self.branch}")
        return sha

    def head(self) -> str:
        """The remote branch's sha."""
        return git.run(self.dir, "ls-remote", "origin", f"refs/heads/{self.branch}").split()[0]


def remote_log(url: str, where: Path, branch: str = "master") -> list[str]:
    """Commit shas of the remote branch, newest first (fetched into a scratch clone)."""
    if not where.exists():
        git.run(None, "clone", "-q", url, str(where))
    git.reset_to_remote(where, branch)
    return git.run(where, "rev-list", "HEAD").split()


def gitea_headers(secret: bytes, body: bytes) -> dict[str, str]:
    """Gitea's signature, computed here independently of the code under test."""
    return {"X-Gitea-Signature": hmac.new(secret, body, hashlib.sha256).hexdigest(), "X-Gitea-Event": "push"}


def push_event(branch: str, after: str, before: str = "0" * 40) -> bytes:
    """A push event body as forges send it."""
    return json.dumps({"ref": f"refs/heads/{branch}", "before": before, "after": after}).encode()


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """POST and return (status, body text), HTTP errors included."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def get(url: str) -> tuple[int, str]:
    """GET and return (status, body text)."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


SECRET = b"s3cret-for-tests"


def write_service_file(tmp: Path, chain_url: str, nodes: dict[str, str], **extra: str) -> Path:
    """A serve config watching `chain_url` (secret in a file beside it) for the given node repos."""
    (tmp / "hook-secret").write_bytes(SECRET + b"\n")
    lines = [f"{k} = {v}" for k, v in extra.items()]
    lines += ['workdir = "work"', "max_body_bytes = 4096", "", "[[pipeline]]", 'name = "chain"']
    lines += [f'chain_repo = "{chain_url}"', 'branch = "master"', 'secret_file = "hook-secret"']
    for domain, url in nodes.items():
        lines += ["", "[[pipeline.node]]", f'domain = "{domain}"', f'repo = "{url}"']
    path = tmp / "serve.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def build_template(root: Path, encrypt_to: tuple[str, ...] = ()) -> Path:
    """A real chain (NODES) and node0's repo, made by the real verbs, as bare repos; their folder.
    With `encrypt_to`, node0's secrets are encrypted at rest (SOPS_AGE_KEY_FILE reads them)."""
    world = World.create(root)
    try:
        quick_chain(world, NODES, encrypt_to=encrypt_to)
    finally:
        world.close()
    return root / "forge"


class Repos:
    """A served copy of the template: the chain repo, node0's repo, and a writer on the chain."""

    def __init__(self, template: Path, tmp: Path) -> None:
        shutil.copytree(template, tmp / "forge")
        self.tmp = tmp
        self.forge = Forge(tmp / "forge").start()
        self.chain_url = self.forge.url(CHAIN)
        self.node_url = self.forge.url(f"{CHAIN}-node0")
        self.node_bare = self.forge.path(f"{CHAIN}-node0")
        self.chain = Writer(self.chain_url, tmp / "chain-writer")

    def node_head(self) -> str:
        """node0's master on the forge."""
        return git.rev_parse(self.node_bare, "master")

    def edit_chain(self, old: str, new: str, message: str, signer: Person | None = None) -> str:
        """Push a text edit of chain_config.toml (as a merged PR would), signed by `signer` if any;
        the new chain sha."""
        self.chain.sync()
        text = (self.chain.dir / "chain_config.toml").read_text()
        assert old in text, old
        return self.chain.write({"chain_config.toml": text.replace(old, new, 1).encode()}, message, signer)

    def close(self) -> None:
        """Stop serving."""
        self.forge.stop()
