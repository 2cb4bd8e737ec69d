"""Helpers for the pipeline tests: writers that push to forge repos, and webhook posting."""

from __future__ import annotations

import hashlib
import hmac
import json
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from cloud_config.errors import ConfigError, NotFoundError
from cloud_config.gitops import git


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

    def write(self, files: dict[str, bytes | None], message: str) -> str:
        """Write (or delete, for None) files, commit, push; return the new sha."""
        self.sync()
        for name, data in files.items():
            path = self.dir / name
            if data is None:
                path.unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
        sha = git.commit_all(self.dir, message)
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


@dataclass
class Changes:
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def peers_render(chain_dir: Path, node_dir: Path, chain_name: str, domain: str) -> Changes:
    """Stand-in renderer for tests of the git side: peers.txt lists the chain's other domains."""
    try:
        data = tomllib.loads((chain_dir / "chain_config.toml").read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("chain_config.toml", None, f"not valid TOML: {exc}") from None
    domains = [n["domain"] for n in data["node_network_address_list"]]
    if domain not in domains:
        raise NotFoundError(f"node {domain} is no longer in the chain's node list")
    text = f"{chain_name}\n" + "".join(f"{d}\n" for d in domains if d != domain)
    target = node_dir / "peers.txt"
    if target.exists() and target.read_text() == text:
        return Changes()
    target.write_text(text)
    return Changes(written=["peers.txt"])


def chain_toml(*domains: str) -> bytes:
    return "".join(f'[[node_network_address_list]]\ndomain = "{d}"\n\n' for d in domains).encode()


NODE_CONFIG = b'account = "00"\n\n[exporter]\nbase_path = ""\nchain_name = "toy-chain"\n'


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
