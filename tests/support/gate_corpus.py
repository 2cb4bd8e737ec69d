"""A chain repo built the walkthrough's way, one signed commit per step, for the PR-gate tests.

Every step runs the real `cloud-config` verbs in the chain folder (which is the git repo) and
commits with a real SSH signature (`git commit -S`, gpg.format=ssh). Tags mark the state after
each merged step, so a test branches from a tag, makes its change and runs `verify`.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cloud_config.cli.main import main
from cloud_config.crypto import pki
from cloud_config.demo.world import Person
from tests.support.cli import Result

Cli = Callable[..., Result]  # the `cli` fixture

CHAIN = "gitops-test-chain"
OWNERS = {"p1": ("node0", "node1"), "p2": ("node2", "node3")}
NODES = {f"node{i}": f"www.node{i}.com:{40000 + i}:node{i}:k8s" for i in range(5)}


def make_people(folder: Path, names: tuple[str, ...]) -> dict[str, Person]:
    """One person per name, each with a fresh ed25519 signing key (no passphrase)."""
    people = {name: Person(name, folder / name) for name in names}
    for person in people.values():
        assert person.key.is_file()  # made on first use
    return people


class ChainRepo:
    """The chain repo inside a workspace (the --config-dir); commands and commits on it."""

    def __init__(self, workspace: Path, people: dict[str, Person], validators: dict[str, str]) -> None:
        self.workspace = workspace
        self.repo = workspace / CHAIN
        self.people = people
        self.validators = validators  # domain -> validator address of the node's account

    def run(self, *args: str) -> None:
        """Run a cloud-config verb on this chain; it must succeed."""
        code = main([*args, "--chain-name", CHAIN, "--config-dir", str(self.workspace), "--quiet"])
        assert code == 0, f"cloud-config {' '.join(args)} exited {code}"

    def git(self, *args: str) -> str:
        """Run git in the repo and return its output."""
        proc = subprocess.run(
            ["git", "-C", str(self.repo), *args], capture_output=True, text=True, check=True
        )
        return proc.stdout.strip()

    def commit(self, message: str, signer: str | None, *, force_add: tuple[str, ...] = ()) -> str:
        """Commit everything (plus ignored `force_add` paths), signed by `signer` or unsigned."""
        self.git("add", "-A")
        if force_add:
            self.git("add", "-f", *force_add)
        if signer is None:
            self.git("commit", "-q", "--no-gpg-sign", "-m", message)
        else:
            key = str(self.people[signer].key)
            self.git(
                "-c", "gpg.format=ssh", "-c", f"user.signingkey={key}", "commit", "-q", "-S", "-m", message
            )
        return self.git("rev-parse", "HEAD")

    def step(self, tag: str, signer: str, *commands: tuple[str, ...]) -> None:
        """A merged PR: run the commands, commit signed by `signer`, tag the result."""
        for command in commands:
            self.run(*command)
        self.commit(tag, signer)
        self.git("tag", tag)

    def pr(self, start: str) -> None:
        """Start a pull request branch from the tag `start`."""
        self.git("checkout", "-q", "-b", f"pr-{start}-{self.git('rev-list', '--count', '--all')}", start)

    def parallel_validator_branches(self) -> None:
        """Branches p1-pr and p2-pr from `members`, each appending its owner's first validator."""
        for name, domain in (("p1", "node0"), ("p2", "node2")):
            self.git("checkout", "-q", "-b", f"{name}-pr", "members")
            self.run("append-validator", "--validator", self.validators[domain])
            self.commit(f"{name} validator", name)

    def output(self, *args: str) -> str:
        """Run a cloud-config verb on this chain and return what it printed."""
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            self.run(*args)
        return out.getvalue()

    def new_account(self) -> tuple[str, str]:
        """new-account: (node address, validator address); the key stays git-ignored."""
        words = self.output("new-account").split()
        return words[1], words[3]

    def forge_csr(self, domain: str, name: str) -> None:
        """A CSR for `domain` that names `name` (what create-csr never makes)."""
        csr, key = pki.create_csr(name)
        (self.repo / "certs" / domain / "csr.pem").write_text(csr)
        (self.repo / "certs" / domain / "key.pem").write_text(key)

    def sign_with_own_ca(self, domain: str) -> None:
        """certs/<domain>/cert.pem signed by a CA of the signer's own, not the chain's."""
        ca_cert, ca_key = pki.create_ca()
        csr = (self.repo / "certs" / domain / "csr.pem").read_text()
        cert = pki.sign_csr(ca_cert, ca_key, csr, f"{CHAIN}-{domain}", pki.host_names(csr)[1:])
        (self.repo / "certs" / domain / "cert.pem").write_text(cert)

    def edit_config(self, old: str, new: str, path: str = "chain_config.toml") -> None:
        """A hand edit of a file in the repo (what a careless or hostile member can do)."""
        file = self.repo / path
        text = file.read_text()
        assert old in text, f"{old!r} not in {path}"
        file.write_text(text.replace(old, new, 1))


def build_walkthrough(workspace: Path, people: dict[str, Person]) -> ChainRepo:
    """The walkthrough up to signed certificates, each step a signed, merged, tagged commit."""
    chain = ChainRepo(workspace, people, {})
    chain.run("init-chain")
    chain.run("init-chain-config", "--timestamp", "1709695109593", "--consensus_tag", "v6.7.4")
    chain.run("member", "add", "--name", "admin", "--role", "admin", "--ssh-key", people["admin"].public)
    subprocess.run(["git", "init", "-q", str(chain.repo)], check=True)
    chain.commit("init chain", "admin")
    chain.git("tag", "init")
    admin, _ = chain.new_account()
    chain.step("public", "admin", ("set-admin", "--admin", admin))
    members = []
    for name, domains in OWNERS.items():
        for domain in domains:
            chain.validators[domain] = chain.new_account()[1]
        flags = [f for d in domains for f in ("--domain", d, "--validator", chain.validators[d])]
        members.append(("member", "add", "--name", name, "--ssh-key", people[name].public, *flags))
    chain.step("members", "admin", *members)
    for name, domains in OWNERS.items():
        appends = (("append-validator", "--validator", chain.validators[d]) for d in domains)
        chain.step(f"validators-{name}", name, *appends)
    chain.step("finalized", "admin", ("set-stage",))
    for name, domains in OWNERS.items():
        chain.step(f"nodes-{name}", name, *(("append-node", "--node", NODES[d]) for d in domains))
    chain.step("ca", "admin", ("create-ca",))
    for name, domains in OWNERS.items():
        chain.step(f"csrs-{name}", name, *(("create-csr", "--domain", d) for d in domains))
    chain.step("certs", "admin", *(("sign-csr", "--domain", d) for d in chain.validators))
    return chain


def copy_chain(prepared: ChainRepo, dest: Path) -> ChainRepo:
    """A private copy of a prepared workspace, for one test to change."""
    shutil.copytree(prepared.workspace, dest, symlinks=True)
    return ChainRepo(dest, prepared.people, dict(prepared.validators))


def rules_of(json_text: str) -> set[str]:
    """The rule ids in `verify --format json` output."""
    return {f["rule"] for f in json.loads(json_text)["findings"]}


def verify_json(
    cli: Cli, chain: ChainRepo, base: str, head: str = "HEAD", *flags: str
) -> tuple[int, dict[str, Any]]:
    """Run `cloud-config verify --format json [FLAGS]`; (exit code, parsed report)."""
    where = ("--repo", str(chain.repo), "--base", base, "--head", head)
    result = cli("verify", *where, "--format", "json", *flags)
    assert result.err == ""
    return result.code, json.loads(result.out)


def assert_fails_with(cli: Cli, chain: ChainRepo, base: str, rule: str) -> dict[str, Any]:
    """verify base..HEAD exits 1 with an error of `rule`; return the report."""
    code, report = verify_json(cli, chain, base)
    rules = {f["rule"] for f in report["findings"] if f["severity"] == "error"}
    assert code == 1 and rule in rules, report
    return report
