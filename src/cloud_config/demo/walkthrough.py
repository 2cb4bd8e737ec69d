"""`cloud-config demo`: the "Blockchain and GitOps" walkthrough, end to end, on a local forge.

Step 1 creates the chain repo with its `members.toml` (who may sign, who owns which node, and the
approval policy: a validator change needs 2 members, a members change every admin); steps 2-8
build the chain through pull requests, every commit SSH-signed by its author and every PR merged
only when `cloud-config verify` passes (step 3 shows a participant's validator PR waiting for a
second member, who runs `cloud-config approve`); step 9 creates node0's and node1's private node
repos; step 10 starts each participant's pipeline (`serve`, woken by the chain repo's webhooks);
step 11 writes their Argo CD Applications; step 12 a forge account that is no member pushes
straight to master, both pipelines refuse it on receipt, and an admin's signed revert PR clears
it; step 13 an admin registers participant 3, who adds node2; step 14 node0's and node1's repos
receive their new commits from the pipelines; step 15 `cloud-config status` shows both at the
chain head with the same digest (node2 runs no pipeline, so it has no status record); step 16 an
impostor signing as participant 1 with an unregistered key is refused by the gate; step 17 (with
--encrypt) an auditor finds no plaintext key in any node repo's history.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import tempfile
import time
import tomllib
from collections.abc import Callable
from functools import partial
from pathlib import Path

from cloud_config import git
from cloud_config.demo.world import (
    CHAIN,
    TAGS,
    DemoError,
    Person,
    World,
    pipeline_nodes,
    push_new_repo,
    run_tool,
    wait_for_new_commit,
    wait_pipelines_idle,
)
from cloud_config.model.members import Members
from cloud_config.model.paths import MEMBERS_FILE, node_name
from cloud_config.store.sops import Sops

Say = Callable[[str], None]
PIPELINE_TIMEOUT = 60
NODES = {
    "participant1": ("node0", "www.node0.com:40000:node0:k8s"),
    "participant2": ("node1", "www.node1.com:40000:node1:k8s"),
}
NODE2 = "www.node2.com:60000:node2:k8s"  # as in the walkthrough
EVIL_HOST = "www.evil.example"
# The members' approval policy (members.toml [policy.approvals]): docs/members.md.
POLICY = 'validator = 2\nmembers = "admins"'


def _address(new_account_output: str) -> tuple[str, str]:
    found = re.search(r"node_address: (\w+) validator_address: (\w+)", new_account_output)
    if not found:
        raise DemoError(f"new-account printed {new_account_output!r}")
    return found.group(1), found.group(2)


class Demo:
    """The walkthrough, step by step, with a line of narrative per step."""

    def __init__(
        self,
        world: World,
        say: Say,
        nodes: dict[str, tuple[str, str]] | None = None,
        node2: str = NODE2,
        encrypt: bool = False,
    ) -> None:
        self.w = world
        self.encrypt = encrypt
        self.age_identities: dict[str, Path] = {}
        self.say = say
        self.nodes = nodes or NODES
        self.node2 = node2
        self.started = time.monotonic()
        self.accounts: dict[str, tuple[str, str]] = {}
        self.node_repos: dict[str, str] = {}
        self.pipelines: dict[str, str] = {}
        self.heads_before_node2: dict[str, str] = {}
        self.keep = False  # print the status page's URL
        self.leave = False  # the last act: participant 3 leaves (member leave), then rotate-ca
        self.before_leave = ""  # the chain master before the departure (rehearse --base)

    def step(self, number: int, who: str, what: str, action: Callable[[], str | None]) -> None:
        """Run one step and print `[n] who  what  detail  seconds`."""
        begun, reviews = time.monotonic(), len(self.w.gate)
        detail = action()
        took = time.monotonic() - begun
        notes = [n for n in (detail, *self.w.gate[reviews:]) if n]
        suffix = f" ({'; '.join(notes)})" if notes else ""
        self.say(f"[{number:>2}] {who:<13} {what}{suffix}  {took:.2f}s")

    def p(self, name: str) -> Person:
        """A person of the world."""
        return self.w.person(name)

    def phases(self) -> list[Callable[[], None]]:
        """The walkthrough's phases, in order."""
        return [
            self.init_step,
            self.chain_steps,
            self.pki_steps,
            self.node_steps,
            self.intruder_step,
            self.join_node2,
            self.status_step,
            self.impostor_step,
            *([self.plaintext_step] if self.encrypt else []),
            *([self.leave_step] if self.leave else []),
        ]

    def init_step(self) -> None:
        """Step 1: the initiator creates the chain repo and registers the members."""
        owners = ", ".join(f"{who}: {domain}" for who, (domain, _) in self.nodes.items())
        policy = POLICY.replace("\n", ", ")
        what = (
            f"init-chain, init-chain-config, member add (admins initiator, admin; {owners}), "
            f"approval policy {policy}; push master"
        )
        self.step(1, "initiator", what, self.s1_init)

    def chain_steps(self) -> None:
        """Steps 2-5: the chain configuration, through pull requests."""
        self.step(2, "admin", "new-account, set-admin; PR merged", self.s2_admin)
        for who in self.nodes:
            self.step(
                3,
                who,
                "new-account; sends the validator address to the admins",
                partial(self.s3_account, who),
            )
        owners = ", ".join(self.nodes)
        what = f"member add --validator for {owners}; initiator approves (every admin); PR merged"
        self.step(3, "admin", what, self.s3_register)
        names = list(self.nodes)
        for i, who in enumerate(names):
            self.step(3, who, "append-validator; PR opened", partial(self.s3_validator, who))
            other = names[(i + 1) % len(names)]
            self.step(
                3,
                other,
                f"cloud-config approve ({who}'s validator); PR merged",
                partial(self.s3_approve, other),
            )
        self.step(4, "initiator", "set-stage (finalize); PR merged", self.s4_stage)
        for who, (_, node) in self.nodes.items():
            self.step(5, who, f"append-node {node}; PR merged", partial(self.s5_node, who, node))

    def s1_init(self) -> str:
        me = self.p("initiator")
        me.cc("init-chain")
        tags = [arg for t in TAGS for arg in (f"--{t}_tag", "v6.7.4")]
        me.cc("init-chain-config", *tags)
        for admin in ("initiator", "admin"):
            key = str(self.p(admin).public_key)
            me.cc("member add", "--name", admin, "--role", "admin", "--ssh-key-file", key)
        for who, (domain, _) in self.nodes.items():
            key = str(self.p(who).public_key)
            me.cc("member add", "--name", who, "--ssh-key-file", key, "--domain", domain)
        self._register_pipeline_keys(me.chain_dir / MEMBERS_FILE)
        members = me.chain_dir / MEMBERS_FILE  # the policy, written by hand (docs/members.md)
        members.write_text(members.read_text(encoding="utf-8") + f"\n[policy.approvals]\n{POLICY}\n")
        push_new_repo(me.chain_dir, self.w.forge.url(CHAIN), "init gitops-test-chain", signer=me)
        return f"{self.w.forge.url(CHAIN)}, signed"

    def pipeline_key(self, who: str) -> Person:
        """The key `who`'s pipeline signs status records with (people/<who>/pipeline-key/ssh/)."""
        return Person(f"{who}-pipeline", self.p(who).home / "pipeline-key")

    def _register_pipeline_keys(self, path: Path) -> None:
        """members.toml `pipeline_keys`: each participant's pipeline key (status records only)."""
        text = path.read_text(encoding="utf-8")
        members = Members.loads(text, MEMBERS_FILE)
        for who in self.nodes:
            member = members.get(who)
            assert member is not None
            member.pipeline_keys = [self.pipeline_key(who).public]
        path.write_text(members.dumps(text), encoding="utf-8")

    def s2_admin(self) -> str:
        admin = self.p("admin")
        self.w.pull(admin)
        address, _ = _address(admin.cc("new-account"))
        self.w.pull_request(admin, "set admin", [("set-admin", "--admin", address)])
        return f"admin {address[:10]}..."

    def s3_account(self, who: str) -> str:
        me = self.p(who)
        self.w.pull(me)
        node_address, validator = _address(me.cc("new-account"))
        self.accounts[who] = (node_address, validator)
        return f"account {node_address[:10]}..., validator {validator[:10]}..."

    def s3_register(self) -> None:
        edits = [("member add", "--name", who, "--validator", v) for who, (_, v) in self.accounts.items()]
        self.w.pull_request(self.p("admin"), "register validators", edits, approvers=[self.p("initiator")])

    def s3_validator(self, who: str) -> str:
        """The owner's PR: signed by the owner alone, the gate says it waits for a second member."""
        edit = [("append-validator", "--validator", self.accounts[who][1])]
        pr = self.w.open_pr(self.p(who), f"{who} validator", edit)
        if self.w.review(pr) or {f["rule"] for f in pr.errors} != {"approvals-missing"}:
            raise DemoError(f"PR {pr.title!r} should wait for approvals only: {pr.errors}")
        t = pr.report["approvals"]["validator"]
        return (
            f"waiting: validator {t['have']} of {t['required']} approvals ({', '.join(t['approvers'])}); "
            f"one of {', '.join(t['candidates'])} to approve"
        )

    def s3_approve(self, who: str) -> str:
        pr = self.w.prs[-1]
        self.w.approve(pr, self.p(who))
        self.w.merge(pr)
        t = pr.report["approvals"]["validator"]
        return f"validator {t['have']} of {t['required']}: {', '.join(t['approvers'])}"

    def s4_stage(self) -> None:
        self.w.pull_request(self.p("initiator"), "finalize", [("set-stage",)])

    def s5_node(self, who: str, node: str) -> None:
        self.w.pull_request(self.p(who), f"add {node.split(':')[2]}", [("append-node", "--node", node)])

    def pki_steps(self) -> None:
        """Steps 6-8: the CA, the CSRs, the signed certificates."""
        self.step(6, "admin", "create-ca (key stays local); PR merged", self.s6_ca)
        for who, (domain, _) in self.nodes.items():
            self.step(7, who, f"create-csr --domain {domain}; PR merged", partial(self.s7_csr, who, domain))
        self.step(8, "admin", "sign-csr node0, node1; PR merged", self.s8_sign)

    def s6_ca(self) -> None:
        self.w.pull_request(self.p("admin"), "create CA", [("create-ca",)])

    def s7_csr(self, who: str, domain: str) -> None:
        self.w.pull_request(self.p(who), f"csr {domain}", [("create-csr", "--domain", domain)])

    def s8_sign(self) -> None:
        edits = [("sign-csr", "--domain", domain) for domain, _ in self.nodes.values()]
        self.w.pull_request(self.p("admin"), "sign node0, node1", edits)

    def node_steps(self) -> None:
        """Steps 9-11: node repos, pipelines, Argo CD Applications."""
        for who, (domain, _) in self.nodes.items():
            self.step(
                9,
                who,
                f"init-node, update-node, update-yaml; push {domain}'s repo",
                partial(self.s9_node, who, domain),
            )
        for who, (domain, _) in self.nodes.items():
            self.step(
                10,
                who,
                f"start pipeline (serve) for {domain}",
                partial(self.s10_pipeline, who, domain),
            )
        self.step(11, "participants", "argocd-app for node0, node1", self.s11_argocd)

    def s9_node(self, who: str, domain: str) -> str:
        me = self.p(who)
        self.w.pull(me)
        encrypt: list[str] = []
        if self.encrypt:  # the operator's and the pipeline's age identities, made with pyrage
            me.age_key, mine = me.age_recipient(me.home / "age")
            self.age_identities[domain], pipeline = me.age_recipient(me.home / "pipeline" / "age")
            encrypt = ["--encrypt-to", mine, "--encrypt-to", pipeline]
        me.cc("init-node", "--domain", domain, "--account", self.accounts[who][0], *encrypt)
        me.cc("update-node", "--domain", domain)
        me.cc("update-yaml", "--domain", domain, "--storage-class", "nfs-client")
        node_dir = me.home / node_name(CHAIN, domain)
        url = self.w.forge.create(node_name(CHAIN, domain))
        push_new_repo(node_dir, url, f"init {domain}", signer=me)
        self.node_repos[domain] = url
        return url

    def s10_pipeline(self, who: str, domain: str) -> str:
        identity, key = self.age_identities.get(domain), self.pipeline_key(who).key
        root = git.rev_parse(self.w.forge.path(CHAIN), "master")  # what the node repo was made from
        self.pipelines[domain] = self.w.start_pipeline(
            self.p(who), domain, self.node_repos[domain], root, identity, key
        )
        return self.pipelines[domain]

    def s11_argocd(self) -> str:
        out = self.w.root / "argocd"
        out.mkdir(exist_ok=True)
        for domain, url in self.node_repos.items():
            text = self.p("participant1").cc("argocd-app", "--domain", domain, "--repo-url", url)
            (out / f"{node_name(CHAIN, domain)}.yaml").write_text(text)
        return f"argocd/{node_name(CHAIN, 'node*')}.yaml in the work folder"

    def join_node2(self) -> None:
        """Steps 13-14: participant 3 adds node2; the pipelines update node0 and node1."""
        heads = {d: git.rev_parse(self.w.forge.path(node_name(CHAIN, d)), "master") for d in self.node_repos}
        self.heads_before_node2 = dict(heads)
        merged: list[float] = []
        domain = self.node2.split(":")[2]
        self.step(
            13,
            "admin",
            f"member add participant3 (key, {domain}); initiator approves; PR merged",
            partial(self.s12_register, domain),
        )

        def s12() -> str:
            edit = [("append-node", "--node", self.node2)]
            sha = self.w.pull_request(self.p("participant3"), "add node2", edit)
            merged.append(time.monotonic())
            return f"chain master {sha[:12]}"

        self.step(13, "participant3", f"append-node {self.node2}; PR merged", s12)
        for domain in self.node_repos:
            bare = self.w.forge.path(node_name(CHAIN, domain))
            sha, _ = wait_for_new_commit(bare, "master", heads[domain], PIPELINE_TIMEOUT)
            took = time.monotonic() - merged[0]
            summary = self._summary(sha, domain)
            self.say(
                f"[14] pipeline      {domain}'s repo got {sha[:12]} {took:.2f}s after the merge: {summary}"
            )

    def status_step(self) -> None:
        """Step 15: `cloud-config status` once both pipelines recorded the chain head."""
        self.step(
            15, "participant1", "cloud-config status (signed records on status/<domain>)", self.s15_status
        )
        table = run_tool("status", "--remote", self.w.forge.url(CHAIN)).stdout
        for line in table.splitlines():
            self.say(f"     {line}")
        if self.keep:
            first = next(iter(self.pipelines.values()))
            self.say(f"     status page: {first}/ (served while the demo runs)")

    def s15_status(self) -> str:
        head = git.rev_parse(self.w.forge.path(CHAIN), "master")
        deadline = time.monotonic() + PIPELINE_TIMEOUT
        while True:
            # Exit 1 (a node lags) is an answer too while the pipelines catch up: poll again.
            proc = run_tool("status", "--remote", self.w.forge.url(CHAIN), "--format", "json")
            if proc.returncode not in (0, 1) or not proc.stdout:
                last = proc.stderr.strip().splitlines()[-1:] or ["no output"]
                raise DemoError(f"`cloud-config status` failed ({proc.returncode}): {last[0]}")
            report = json.loads(proc.stdout)
            rows = {n["domain"]: n for n in report["nodes"]}
            if all(rows[d]["chain_commit"] == head for d in self.node_repos):
                break
            if time.monotonic() > deadline:
                raise DemoError(f"no status records at the chain head {head[:12]}: {report['failing']}")
            time.sleep(0.05)
        digests = {rows[d]["digest"] for d in self.node_repos}
        if len(digests) != 1:
            raise DemoError(f"the nodes' digests differ: {digests}")
        missing = [d for d, row in rows.items() if not row["record"]]
        return (
            f"{', '.join(self.node_repos)} at {head[:12]}, digest {next(iter(digests))[7:19]}; "
            f"no record: {', '.join(missing) or 'none'}"
        )

    def s12_register(self, domain: str) -> None:
        p3 = self.p("participant3")
        edit = [("member add", "--name", p3.name, "--ssh-key-file", str(p3.public_key), "--domain", domain)]
        self.w.pull_request(self.p("admin"), "register participant3", edit, approvers=[self.p("initiator")])

    def impostor_step(self) -> None:
        """Step 16: someone signs as participant 1 with a key no member registered; the gate refuses."""
        victim, (domain, spec) = next(iter(self.nodes.items()))
        moved = ":".join([EVIL_HOST, *spec.split(":")[1:]])
        what = f"commits as {victim}, moves {domain} to {EVIL_HOST}; PR refused"
        self.step(16, "impostor", what, partial(self.s16_impostor, victim, domain, moved))

    def s16_impostor(self, victim: str, domain: str, moved: str) -> str:
        runs = wait_pipelines_idle(list(self.pipelines.values()), PIPELINE_TIMEOUT)
        chain = self.w.forge.path(CHAIN)
        master = git.rev_parse(chain, "master")
        impostor = self.p("impostor")
        impostor.git_name = victim  # anyone can write any name; only a registered key signs as the victim
        specs = [moved if d == domain else spec for d, spec in self.nodes.values()] + [self.node2]
        pr = self.w.open_pr(impostor, f"move {domain}", [("set-nodelist", "--nodelist", ",".join(specs))])
        if self.w.review(pr) or not pr.errors:
            raise DemoError(f"the PR gate let the impostor's PR {pr.title!r} through")
        after = wait_pipelines_idle(list(self.pipelines.values()), PIPELINE_TIMEOUT)
        if git.rev_parse(chain, "master") != master or after != runs:
            raise DemoError("the refused PR reached master or the pipelines")
        first = pr.errors[0]
        return f"{first['rule']}: {first['message']}; not merged, pipelines idle"

    def intruder_step(self) -> None:
        """Step 12: a push straight to master by a forge account that is no member; both pipelines
        refuse it on receipt; an admin's signed revert PR clears it."""
        domain, spec = next(iter(self.nodes.values()))
        what = f"pushes straight to master (no PR, no member): moves {domain} to {EVIL_HOST}"
        bad: list[str] = []
        self.step(12, "intruder", what, partial(self.s12_intruder, domain, spec, bad))
        self.step(
            12,
            "admin",
            "git revert of the intruder's commit, signed; PR merged",
            partial(self.s12_revert, bad),
        )

    def s12_intruder(self, domain: str, spec: str, bad: list[str]) -> str:
        urls = list(self.pipelines.values())
        runs = wait_pipelines_idle(urls, PIPELINE_TIMEOUT)
        heads = self._node_heads()
        intruder = self.p("intruder")
        self.w.pull(intruder)
        moved = ":".join([EVIL_HOST, *spec.split(":")[1:]])
        specs = [moved if d == domain else s for d, s in self.nodes.values()]
        intruder.cc("set-nodelist", "--nodelist", ",".join(specs))
        sha = intruder.commit(intruder.chain_dir, f"move {domain}")
        git.run(intruder.chain_dir, "push", "-q", "origin", "master")  # the forge does not protect master
        bad.append(sha or "")
        wait_pipelines_idle(urls, PIPELINE_TIMEOUT, after=runs)
        nodes = pipeline_nodes(urls)
        refusals = {d: (n["last"] or {}).get("refusal") or {} for d, n in nodes.items()}
        if any(r.get("commit") != sha for r in refusals.values()) or self._node_heads() != heads:
            raise DemoError(f"the pipelines did not refuse the intruder's push: {nodes}")
        said = "; ".join(f"{d}: {r['rule']} in {r['commit'][:12]}" for d, r in sorted(refusals.items()))
        return f"refused on receipt ({said}); nothing pushed"

    def s12_revert(self, bad: list[str]) -> str:
        urls = list(self.pipelines.values())
        runs = wait_pipelines_idle(urls, PIPELINE_TIMEOUT)
        admin = self.p("admin")
        pr = self.w.open_pr(admin, "revert the intruder's push", [], revert=bad[0])
        self.w.merge(pr)
        wait_pipelines_idle(urls, PIPELINE_TIMEOUT, after=runs)
        results = {d: (n["last"] or {}).get("result") for d, n in pipeline_nodes(urls).items()}
        if any(r != "up to date" for r in results.values()):
            raise DemoError(f"the pipelines did not accept the admin's revert: {results}")
        return "pipelines accept the chain again: " + ", ".join(
            f"{d} {r}" for d, r in sorted(results.items())
        )

    def _node_heads(self) -> dict[str, str]:
        return {d: git.rev_parse(self.w.forge.path(node_name(CHAIN, d)), "master") for d in self.node_repos}

    def _summary(self, sha: str, domain: str) -> str:
        bare = self.w.forge.path(node_name(CHAIN, domain))
        subject = git.run(bare, "log", "-1", "--format=%s", sha)
        files = git.changed_paths(bare, f"{sha}~1", sha)
        data = git.show(bare, sha, "config.toml") or b""
        if domain in self.age_identities:  # encrypted at rest: decrypted in memory, as the pipeline does
            data = Sops(self.age_identities[domain]).decrypt(data, "binary", f"{domain}:config.toml")
        config = tomllib.loads(data.decode())
        peers = [p["domain"] for p in config.get("network_zenoh", {}).get("peers", [])]
        return f'"{subject}"; changed {", ".join(files)}; peers now {", ".join(peers)}'

    def plaintext_step(self) -> None:
        """Step 17 (--encrypt): no commit of any node repo holds a key in plain text or base64."""
        self.step(17, "auditor", "git log -p --all of every node repo: no plaintext key", self.s17_audit)

    def s17_audit(self) -> str:
        keys: list[str] = []
        for who in self.accounts:
            home = self.p(who).chain_dir
            for path in [*home.glob("accounts/*/private_key"), *home.glob("certs/*/key.pem")]:
                text = path.read_text(encoding="utf-8")
                lines = [line for line in text.splitlines() if line and not line.startswith("-----")]
                keys += [text, *lines, base64.b64encode(text.encode()).decode()]
        for domain in self.node_repos:
            history = git.run(self.w.forge.path(node_name(CHAIN, domain)), "log", "-p", "--all")
            if any(key in history for key in keys):
                raise DemoError(f"{domain}'s node repo holds a plaintext key")
        return f"{len(self.node_repos)} node repos, {len(keys)} key strings checked, none found"

    def leave_step(self) -> None:
        """The last act (--leave): participant 3 leaves in one admin PR; both pipelines drop node2
        from every peer list and NetworkPolicy; the status table again, without node2."""
        domain = self.node2.split(":")[2]
        heads = {d: git.rev_parse(self.w.forge.path(node_name(CHAIN, d)), "master") for d in self.node_repos}
        self.step(
            18,
            "admin",
            "member leave --name participant3; initiator approves; PR merged",
            partial(self.s18_leave, heads, domain),
        )
        self.step(18, "participant1", "cloud-config status after the departure", self.s15_status)
        table = run_tool("status", "--remote", self.w.forge.url(CHAIN)).stdout
        for line in table.splitlines():
            self.say(f"     {line}")
        if any(line.split()[:1] == [domain] for line in table.splitlines()):
            raise DemoError(f"the status table still lists {domain}")
        # The departed certificate is still trusted until the CA is rotated: three phases, three PRs.
        for number, phase in ((19, "--begin"), (20, "--reissue"), (21, "--finish")):
            what = f"rotate-ca {phase}; PR merged; both pipelines apply it"
            self.step(number, "admin", what, partial(self.s19_rotate, phase))
        before = self.before_leave[:12]
        self.step(22, "admin", f"rehearse --base {before} --head HEAD", self.s22_rehearse)

    def s19_rotate(self, phase: str) -> str:
        wait_pipelines_idle(list(self.pipelines.values()), PIPELINE_TIMEOUT)
        heads = {d: git.rev_parse(self.w.forge.path(node_name(CHAIN, d)), "master") for d in self.node_repos}
        sha = self.w.pull_request(self.p("admin"), f"rotate-ca {phase}", [("rotate-ca", phase)])
        for d in self.node_repos:
            wait_for_new_commit(self.w.forge.path(node_name(CHAIN, d)), "master", heads[d], PIPELINE_TIMEOUT)
        return f"chain master {sha[:12]}; {', '.join(self.node_repos)} repos updated"

    def s22_rehearse(self) -> str:
        admin = self.p("admin")
        self.w.pull(admin)
        proc = run_tool(
            "rehearse", "--chain-name", CHAIN, "--config-dir", str(admin.home),
            "--base", self.before_leave, "--head", "HEAD", "--format", "json",
        )  # fmt: skip
        if proc.returncode != 0 or not proc.stdout:
            raise DemoError(f"rehearse failed ({proc.returncode}): {proc.stdout[-500:]} {proc.stderr[-300:]}")
        report = json.loads(proc.stdout)
        pairs = report["pairs"]
        gone = sorted({d["node"] for d in report["departed"]})
        checks = sum(d["ok"] for d in report["departed"])
        return (
            f"{sum(p['ok'] for p in pairs)}/{len(pairs)} pairs OK; departed {', '.join(gone) or 'none'}: "
            f"{checks}/{len(report['departed'])} checks OK (no peer list, no policy, certificate refused)"
        )

    def s18_leave(self, heads: dict[str, str], domain: str) -> str:
        wait_pipelines_idle(list(self.pipelines.values()), PIPELINE_TIMEOUT)
        self.before_leave = git.rev_parse(self.w.forge.path(CHAIN), "master")
        sha = self.w.pull_request(
            self.p("admin"),
            "participant3 leaves",
            [("member leave", "--name", "participant3")],
            approvers=[self.p("initiator")],  # a members change needs every admin (the policy)
        )
        gone = node_name(CHAIN, domain)
        for d in self.node_repos:
            bare = self.w.forge.path(node_name(CHAIN, d))
            new, _ = wait_for_new_commit(bare, "master", heads[d], PIPELINE_TIMEOUT)
            files = {
                p: git.show(bare, new, p) or b""
                for p in git.run(bare, "ls-tree", "-r", "--name-only", new).split()
            }
            config = files.get("config.toml", b"")
            if d in self.age_identities:
                config = Sops(self.age_identities[d]).decrypt(config, "binary", f"{d}:config.toml")
            mentions = [p for p, data in files.items() if p != "config.toml" and gone.encode() in data]
            if gone.encode() in config or mentions:
                raise DemoError(f"{d}'s repo still names {gone}: {', '.join(mentions) or 'config.toml'}")
        return f"chain master {sha[:12]}; node0 and node1 repos name {domain} nowhere (peers, policies)"


def run_demo(workdir: Path | None, keep: bool, say: Say, encrypt: bool = False, leave: bool = False) -> int:
    """Run the whole walkthrough; 0 on success. A failed run keeps its files for inspection."""
    root = workdir or Path(tempfile.mkdtemp(prefix="cloud-config-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()):
        raise DemoError(f"work folder {root} is not empty")
    world = World.create(root)
    say(f"cloud-config demo: the 'Blockchain and GitOps' walkthrough, forge at {world.forge.url('')[:-5]}")
    demo, finished = Demo(world, say, encrypt=encrypt), False
    demo.keep = keep
    demo.leave = leave
    try:
        for phase in demo.phases():
            phase()
        say(f"done in {time.monotonic() - demo.started:.1f}s")
        finished = True
    finally:
        world.close()
        if keep or workdir is not None or not finished:
            say(
                f"files: {root} (forge/ bare repos; people/<who>/ clones, node folders, ssh/ signing "
                "keys; people/participant*/pipeline/ serve config and log; argocd/ Applications)"
            )
        else:
            shutil.rmtree(root, ignore_errors=True)
            say("files: removed (run with --keep to keep them)")
    return 0
