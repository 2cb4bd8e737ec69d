"""The demo's world: a local forge, people with their own clones, pull requests, and `serve` pipelines.

Everyone runs the real `cloud-config` command as a process and signs their commits with their own
SSH key (`git commit -S`, gpg.format=ssh); the forge is `git http-backend` on loopback; a pull
request is a branch pushed to the forge, checked by `cloud-config verify` and merged by a scripted
reviewer only when the gate passes; each participant's pipeline is a real `cloud-config serve`
process woken by the chain repo's post-receive hook.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloud_config import git
from cloud_config.demo.forge import Forge
from cloud_config.errors import CloudConfigError
from cloud_config.model.paths import node_name

CHAIN = "gitops-test-chain"
TAGS = ("consensus", "controller", "executor", "network", "storage")
STEP_TIMEOUT = 60


class DemoError(CloudConfigError):
    """A demo step failed; the message says which command and why."""


def _src_path() -> str:
    import cloud_config

    return str(Path(cloud_config.__file__).resolve().parents[1])


def tool_env() -> dict[str, str]:
    """Environment for child processes: the same code as this process, a fixed git identity."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_src_path(), env.get("PYTHONPATH", "")]))
    return env


def run_tool(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `cloud-config ARGS` as a process (the same code as this one); whatever it did."""
    return subprocess.run(
        [sys.executable, "-m", "cloud_config", *args],
        env={**tool_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
        check=False,
    )


def cloud_config(*args: str, env: dict[str, str] | None = None) -> str:
    """Run `cloud-config ARGS` as a process; its stdout, or DemoError with its error line."""
    proc = run_tool(*args, env=env)
    if proc.returncode != 0:
        last = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        raise DemoError(f"`cloud-config {' '.join(args)}` failed ({proc.returncode}): {last[0]}")
    return proc.stdout


@dataclass
class Person:
    """Someone with a shell: a folder holding their clone of the chain repo (their --config-dir)
    and their SSH signing key. `git_name` is the name they put on their commits (anyone can
    claim any name there; only the signature tells who committed)."""

    name: str
    home: Path
    git_name: str = ""
    # Their age identity file (the demo's --encrypt), given to their commands as SOPS_AGE_KEY_FILE.
    age_key: Path | None = None

    @property
    def chain_dir(self) -> Path:
        """Their clone of the chain repo (cloud-config's chain folder)."""
        return self.home / CHAIN

    @property
    def key(self) -> Path:
        """Their SSH signing key (ed25519, private, 0600), made by ssh-keygen on first use."""
        key = self.home / "ssh" / "id_ed25519"
        if not key.exists():
            key.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            argv = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{self.name}@demo", "-f", str(key)]
            try:
                subprocess.run(argv, capture_output=True, timeout=STEP_TIMEOUT, check=True)
            except (OSError, subprocess.SubprocessError) as exc:
                raise DemoError(f"ssh-keygen could not make {self.name}'s key: {exc}") from None
        return key

    @property
    def public_key(self) -> Path:
        """The `.pub` file of their signing key (what they hand to the admins)."""
        return self.key.with_name(self.key.name + ".pub")

    @property
    def public(self) -> str:
        """Their public key line (what `member add --ssh-key` takes)."""
        return self.public_key.read_text(encoding="utf-8").strip()

    @property
    def git_env(self) -> dict[str, str]:
        """The author and committer identity they put on their commits."""
        who = self.git_name or self.name
        ident = {"NAME": who, "EMAIL": f"{who}@{CHAIN}.example"}
        return {f"GIT_{role}_{k}": v for role in ("AUTHOR", "COMMITTER") for k, v in ident.items()}

    def commit(self, repo: Path, message: str) -> str | None:
        """Commit everything in `repo`, signed with their key, under their git name; the sha."""
        return git.commit_all_signed(repo, message, self.key, env=self.git_env)

    def cc(self, verb: str, *args: str) -> str:
        """`cloud-config VERB --chain-name CHAIN --config-dir HOME ARGS` in their folder (VERB may
        be two words: "member add")."""
        env = {"SOPS_AGE_KEY_FILE": str(self.age_key)} if self.age_key else None
        return cloud_config(
            *verb.split(), "--chain-name", CHAIN, "--config-dir", str(self.home), *args, env=env
        )

    def age_recipient(self, folder: Path) -> tuple[Path, str]:
        """A new age identity file in `folder` (0600), made with pyrage; (its path, its recipient)."""
        import pyrage

        identity = pyrage.x25519.Identity.generate()
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = folder / "keys.agekey"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{identity}\n")
        return path, str(identity.to_public())


@dataclass
class PullRequest:
    """A proposed change of the chain repo, and what the gate said about it."""

    number: int
    title: str
    author: str
    branch: str
    base: str = ""  # chain master when the gate ran
    head: str = ""  # the PR's head commit
    report: dict[str, Any] = field(default_factory=dict)  # `verify --format json`
    merged: str | None = None  # the merge commit, once merged
    approvers: list[str] = field(default_factory=list)  # who ran `cloud-config approve` on it, in order

    @property
    def errors(self) -> list[dict[str, str]]:
        """The gate's error findings."""
        return [f for f in self.report.get("findings", []) if f["severity"] == "error"]


@dataclass
class World:
    """The forge, the people, and the running pipelines."""

    root: Path
    forge: Forge
    secret_file: Path
    people: dict[str, Person] = field(default_factory=dict)
    pipelines: list[subprocess.Popen[str]] = field(default_factory=list)
    prs: list[PullRequest] = field(default_factory=list)
    gate: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, root: Path) -> World:
        """Start the forge with an empty chain repo."""
        forge = Forge(root / "forge").start()
        secret_file = root / "webhook-secret"
        secret_file.write_text(secrets.token_hex(16) + "\n")
        secret_file.chmod(0o600)
        forge.create(CHAIN)
        return cls(root, forge, secret_file)

    def person(self, name: str) -> Person:
        """A person, created on first use with a clone of the chain repo (once it has a master)."""
        if name not in self.people:
            home = self.root / "people" / name
            home.mkdir(parents=True)
            self.people[name] = Person(name, home)
        return self.people[name]

    def pull(self, who: Person) -> None:
        """Bring `who`'s clone to the chain repo's master (cloning it the first time)."""
        if not (who.chain_dir / ".git").is_dir():
            git.clone(self.forge.url(CHAIN), who.chain_dir, branch="master")
        git.run(who.chain_dir, "checkout", "-q", "master")
        git.run(who.chain_dir, "pull", "-q", "--ff-only", "origin", "master")

    def pull_request(
        self, who: Person, title: str, edit: Sequence[Sequence[str]], approvers: Sequence[Person] = ()
    ) -> str:
        """Open a PR with the commands' changes, let `approvers` approve it; the reviewer merges it
        if the gate passes. The merge sha."""
        pr = self.open_pr(who, title, edit)
        for approver in approvers:
            self.approve(pr, approver)
        return self.merge(pr)

    def approve(self, pr: PullRequest, who: Person) -> str:
        """`who` checks out the PR branch, runs `cloud-config approve` (an empty commit signed
        with their key) and pushes it to the PR branch; what approve printed."""
        self.pull(who)
        repo = who.chain_dir
        git.run(repo, "fetch", "-q", "origin", pr.branch)
        git.run(repo, "checkout", "-q", "-B", pr.branch, f"origin/{pr.branch}")
        for key, value in (
            ("gpg.format", "ssh"),
            ("user.signingkey", str(who.key)),
            ("user.name", who.git_name or who.name),
            ("user.email", who.git_env["GIT_AUTHOR_EMAIL"]),
        ):
            git.run(repo, "config", key, value)
        out = cloud_config("approve", "--repo", str(repo), "--base", "origin/master")
        git.run(repo, "push", "-q", "origin", pr.branch)
        git.run(repo, "checkout", "-q", "master")
        pr.approvers.append(who.name)
        return out

    def open_pr(
        self, who: Person, title: str, edit: Sequence[Sequence[str]], revert: str | None = None
    ) -> PullRequest:
        """Branch from master, run the commands (or `git revert` a commit), commit (signed), push
        the branch."""
        self.pull(who)
        pr = PullRequest(len(self.prs) + 1, title, who.name, f"pr-{len(self.prs) + 1}-{who.name}")
        git.run(who.chain_dir, "checkout", "-q", "-b", pr.branch)
        for verb, *args in edit:
            who.cc(verb, *args)
        if revert is not None:
            git.run(
                who.chain_dir, *git.ssh_signing(who.key), "revert", "--no-edit", "-S", revert, env=who.git_env
            )
        elif who.commit(who.chain_dir, title) is None:
            raise DemoError(f"PR {title!r}: the commands changed nothing")
        git.run(who.chain_dir, "push", "-q", "origin", pr.branch)
        git.run(who.chain_dir, "checkout", "-q", "master")
        self.prs.append(pr)
        return pr

    def review(self, pr: PullRequest) -> bool:
        """The scripted reviewer fetches the PR and runs the gate on it; whether it passed."""
        reviewer = self.person("reviewer")
        if not (reviewer.chain_dir / ".git").is_dir():
            self.pull(reviewer)
        git.run(reviewer.chain_dir, "fetch", "-q", "origin", "master", pr.branch)  # one round trip
        git.run(reviewer.chain_dir, "checkout", "-q", "-B", "master", "origin/master")
        pr.base = git.rev_parse(reviewer.chain_dir, "master")
        pr.head = git.rev_parse(reviewer.chain_dir, f"origin/{pr.branch}")
        proc = run_tool(
            "verify", "--repo", str(reviewer.chain_dir), "--base", pr.base, "--head", pr.head,
            "--chain-name", CHAIN, "--format", "json",
        )  # fmt: skip
        if proc.returncode not in (0, 1):
            raise DemoError(f"verify of PR {pr.title!r} failed ({proc.returncode}): {proc.stderr.strip()}")
        pr.report = json.loads(proc.stdout)
        return proc.returncode == 0

    def merge(self, pr: PullRequest) -> str:
        """Merge a PR into master (firing the webhooks) once the gate passes; the merge sha."""
        if not self.review(pr):
            found = "; ".join(f"{f['rule']}: {f['message']}" for f in pr.errors)
            raise DemoError(f"the PR gate blocked {pr.title!r}: {found}")
        warnings = sorted({f["rule"] for f in pr.report["findings"]})
        self.gate.append("gate passed" + (f", warnings: {', '.join(warnings)}" if warnings else ""))
        reviewer = self.person("reviewer")
        message = f"Merge PR #{pr.number}: {pr.title}"
        git.run(reviewer.chain_dir, *git.ssh_signing(reviewer.key), "merge", "-q", "-S", "--no-ff",
                "-m", message, pr.head, env=reviewer.git_env)  # fmt: skip
        git.run(reviewer.chain_dir, "push", "-q", "origin", "master")
        pr.merged = git.rev_parse(reviewer.chain_dir, "HEAD")
        return pr.merged

    def start_pipeline(
        self,
        who: Person,
        domain: str,
        node_repo: str,
        trust_root: str,
        identity: Path | None = None,
        status_key: Path | None = None,
    ) -> str:
        """Write `who`'s serve config (the receipt check starts at `trust_root`, the chain commit
        the node repo was made from), start `cloud-config serve`, hook it to the chain repo; its URL.
        `identity`: the pipeline's age identity file, for a node repo encrypted at rest; with
        `status_key` (a pipeline key in members.toml) it writes signed status records."""
        folder = who.home / "pipeline"
        folder.mkdir(exist_ok=True)
        config = folder / "serve.toml"
        age = f'age_identity_file = "{identity}"\n' if identity else ""
        records = f'status_key_file = "{status_key}"\n' if status_key else ""
        config.write_text(
            f'workdir = "work"\n\n[[pipeline]]\nname = "{CHAIN}"\nchain_repo = "{self.forge.url(CHAIN)}"\n'
            f'branch = "master"\nsecret_file = "{self.secret_file}"\ntrust_root = "{trust_root}"\n'
            f"{age}{records}\n"
            f'[[pipeline.node]]\ndomain = "{domain}"\nrepo = "{node_repo}"\n'
        )
        from cloud_config.demo.serve_process import start_serve_process

        with (folder / "serve.log").open("w") as log:
            proc, url = start_serve_process(config, tool_env(), log)
        self.pipelines.append(proc)
        if url is None:
            raise DemoError(f"serve for {domain} did not start; see {folder / 'serve.log'}")
        self.forge.add_webhook(CHAIN, f"{url}/hooks/{CHAIN}", self.secret_file)
        return url

    def close(self) -> None:
        """Stop the pipelines and the forge."""
        for proc in self.pipelines:
            proc.terminate()
        for proc in self.pipelines:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()
        self.pipelines.clear()
        self.forge.stop()


def wait_for_new_commit(repo: Path, branch: str, old: str, timeout: float) -> tuple[str, float]:
    """Poll a bare repo's branch until it moves from `old`; (new sha, seconds waited)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        sha = git.rev_parse(repo, branch)
        if sha != old:
            return sha, time.monotonic() - started
        time.sleep(0.02)
    raise DemoError(f"{repo.name} got no new commit within {timeout:.0f}s")


def pipeline_nodes(urls: Sequence[str]) -> dict[str, Any]:
    """Each `serve`'s /status, merged: per node domain, its queue state and last run."""
    import urllib.request

    nodes: dict[str, Any] = {}
    for url in urls:
        with urllib.request.urlopen(f"{url}/status", timeout=10) as response:
            nodes.update(json.loads(response.read())[CHAIN])
    return nodes


def wait_pipelines_idle(
    urls: Sequence[str], timeout: float, after: dict[str, int] | None = None
) -> dict[str, int]:
    """Poll each `serve`'s /status until every node is idle (and, given `after`, has run more
    times than that); runs so far, per node domain."""
    deadline = time.monotonic() + timeout
    while True:
        nodes = pipeline_nodes(urls)
        runs = {domain: n["runs"] for domain, n in nodes.items()}
        more = after is None or all(runs[d] > n for d, n in after.items())
        if more and all(n["state"] == "idle" for n in nodes.values()):
            return runs
        if time.monotonic() > deadline:
            raise DemoError(f"pipelines still busy after {timeout:.0f}s")
        time.sleep(0.02)


def quick_chain(
    world: World, nodelist: Sequence[str], domain: str = "node0", encrypt_to: Sequence[str] = ()
) -> tuple[Person, str]:
    """Without pull requests: a finalized chain listing `nodelist` pushed to the forge, and `domain`'s
    node repo made by init-node/update-node/update-yaml; (the person who did it, the node repo URL).
    With `encrypt_to` (age recipients) the node repo's secrets are encrypted at rest (the age
    identity to read them back comes from SOPS_AGE_KEY_FILE).
    """
    me = world.person("operator")
    me.cc("init-chain")
    me.cc("init-chain-config", *[a for t in TAGS for a in (f"--{t}_tag", "v6.7.4")])
    me.cc("set-admin", "--admin", me.cc("new-account").split()[1])
    account = me.cc("new-account").split()
    me.cc("append-validator", "--validator", account[3])
    me.cc("set-nodelist", "--nodelist", ",".join(nodelist))
    me.cc("set-stage")
    me.cc("create-ca")
    me.cc("create-csr", "--domain", domain)
    me.cc("sign-csr", "--domain", domain)
    push_new_repo(me.chain_dir, world.forge.url(CHAIN), "chain")
    me.cc("init-node", "--domain", domain, "--account", account[1], *_encrypt_flags(encrypt_to))
    me.cc("update-node", "--domain", domain)
    me.cc("update-yaml", "--domain", domain, "--storage-class", "nfs-client")
    url = world.forge.create(node_name(CHAIN, domain))
    # The trailer records the chain commit the node was rendered from: the receipt check's start.
    chain_sha = git.rev_parse(me.chain_dir, "HEAD")
    push_new_repo(me.home / node_name(CHAIN, domain), url, f"init {domain}\n\nChain-Commit: {chain_sha}")
    return me, url


def _encrypt_flags(recipients: Sequence[str]) -> list[str]:
    return [a for r in recipients for a in ("--encrypt-to", r)]


def push_new_repo(folder: Path, url: str, message: str, signer: Person | None = None) -> None:
    """`git init` a folder, commit everything (signed by `signer`, if any), push it as master of
    the (empty) repo at `url`."""
    git.init(folder)
    if signer is None:
        git.commit_all(folder, message)
    else:
        signer.commit(folder, message)
    git.run(folder, "remote", "add", "origin", url)
    git.run(folder, "push", "-q", "origin", "master")
