"""Run the rehearsal: start every node's listener, dial every rendered peer, check the departed.

`rehearse(layout, base, head)` returns a Report: one Pair per (dialer, dialled peer) with its
outcome, and for each node that left between base and head the checks that it is gone: in no
rendered peer list, in no rendered NetworkPolicy, and its certificate refused by every remaining
node's CA bundle (a real handshake against a listener serving it).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloud_config.model.paths import ChainLayout, node_name
from cloud_config.rehearse import link
from cloud_config.rehearse.mesh import ChainFiles, Mesh, Node, chain_files_at, resolve

PARALLEL_DIALS = 12  # handshakes in flight: more only lengthens each one (one event loop)
ROTATE = "rotate-ca --begin, --reissue, --finish"
TRANSPORT = "QUIC (aioquic), TLS 1.3, ALPN hq-29, no client certificate, SAN-only name check"


@dataclass(frozen=True)
class Pair:
    """One dial: who dialled whom, by which name and port, and how it ended."""

    dialer: str
    peer: str  # the domain:port as rendered
    target: str | None  # the node that answers there
    outcome: link.Outcome


@dataclass(frozen=True)
class Departed:
    """One check that a departed node is gone."""

    domain: str
    check: str
    ok: bool
    detail: str


@dataclass
class Report:
    """What the rehearsal found."""

    chain_name: str
    source: str
    pairs: list[Pair] = field(default_factory=list)
    departed: list[Departed] = field(default_factory=list)
    unstarted: list[tuple[str, str]] = field(default_factory=list)  # (domain, why)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """No failed pair, no departed check failed, every node started."""
        return (
            all(p.outcome.ok for p in self.pairs) and all(d.ok for d in self.departed) and not self.unstarted
        )


def rehearse(layout: ChainLayout, base: str | None = None, head: str | None = None) -> Report:
    """The rehearsal of the chain folder (working tree), or of its revisions base..head."""
    from cloud_config.rehearse import mesh as meshes

    started = time.perf_counter()
    if head is None:
        files = meshes.working_tree_files(layout)
        mesh = meshes.real_mesh(layout, files) or meshes.mirrored_mesh(layout.chain_name, files)
    else:
        head_files = files_at(layout.chain_dir, head, "--head", layout.chain_name)
        base_files = files_at(layout.chain_dir, base or head, "--base", layout.chain_name)
        mesh = meshes.mirrored_mesh(layout.chain_name, head_files, base_files)
    report = asyncio.run(_run(layout.chain_name, mesh))
    report.departed = [*_gone_checks(layout.chain_name, mesh), *report.departed]
    report.seconds = time.perf_counter() - started
    return report


def files_at(repo: Path, rev: str, flag: str, chain_name: str) -> ChainFiles:
    """The chain folder's public files at a git revision (the chain folder is the repo)."""
    from cloud_config import git
    from cloud_config.errors import ConfigError, UsageError
    from cloud_config.gate.change_summary import load_snapshot, resolve

    if not repo.is_dir() or git.run_bytes(repo, "rev-parse", "--git-dir", check=False).returncode != 0:
        raise UsageError(flag, f"is a revision of the chain folder's git repo, but {repo} is not one")
    snapshot = load_snapshot(repo, resolve(repo, rev, flag))
    if snapshot.chain is None:
        raise ConfigError(f"chain_config.toml at {rev}", None, snapshot.chain_error or "is missing")
    snapshot.chain.validate(chain_name, f"chain_config.toml at {rev}")
    return chain_files_at(snapshot.chain, snapshot.text("chain_config.toml") or "", snapshot.text)


async def _run(chain_name: str, mesh: Mesh) -> Report:
    report = Report(chain_name, mesh.source)
    ports: dict[str, int] = {}
    servers = []
    for node in [*mesh.nodes, *mesh.departed]:
        if node.cert is None or node.key is None:
            if node in mesh.nodes:
                report.unstarted.append((node.domain, node.problem or "cannot listen"))
            continue
        server, ports[node.name] = await link.listen(node.cert, node.key)
        servers.append(server)
    limit = asyncio.Semaphore(PARALLEL_DIALS)

    async def dial(dialer: Node, name: str, port: int, target: Node | None) -> link.Outcome:
        async with limit:
            return await _dial(ports, dialer, name, port, target)

    jobs = [
        (dialer, f"{name}:{port}", target)
        for dialer in mesh.nodes
        for name, port in dialer.peers
        for target in [resolve(chain_name, mesh.nodes, name, port)]
    ]
    gone_jobs = [(gone, node) for gone in mesh.departed if gone.name in ports for node in mesh.nodes]
    try:
        outcomes = await asyncio.gather(
            *(dial(dialer, *_split(peer), target) for dialer, peer, target in jobs),
            *(dial(node, gone.name, gone.address.port, gone) for gone, node in gone_jobs),
        )
    finally:
        for server in servers:
            server.close()
    report.pairs = [
        Pair(dialer.domain, peer, target.domain if target else None, outcome)
        for (dialer, peer, target), outcome in zip(jobs, outcomes, strict=False)
    ]
    report.departed = [
        _certificate_check(gone, node, outcome)
        for (gone, node), outcome in zip(gone_jobs, outcomes[len(jobs) :], strict=True)
    ]
    return report


def _split(peer: str) -> tuple[str, int]:
    name, port = peer.rsplit(":", 1)
    return name, int(port)


async def _dial(
    ports: dict[str, int], dialer: Node, name: str, port: int, target: Node | None
) -> link.Outcome:
    if target is None:
        return link.Outcome(link.UNRESOLVED, f"no node of the chain answers at {name}:{port}")
    if target.name not in ports:
        return link.Outcome(link.NO_ANSWER, f"{target.domain} {target.problem or 'is not running'}")
    outcome = await link.dial(ports[target.name], name, dialer.bundle)
    if outcome.ok and not _has_cn(target.cert or ""):
        return link.Outcome(
            link.OTHER, "the certificate has no subject CN: zenoh 1.0.x panics on it (fixed in 1.8.0)"
        )
    return outcome


def _certificate_check(gone: Node, node: Node, outcome: link.Outcome) -> Departed:
    refused = outcome.reason == link.UNKNOWN_CA
    if refused:
        detail = f"{node.domain}'s CA bundle refuses it ({outcome.detail})"
    elif outcome.ok:
        detail = f"{node.domain}'s CA bundle still trusts it: rotate the CA ({ROTATE})"
    else:
        detail = f"{node.domain}: {outcome.reason} ({outcome.detail})"
    return Departed(gone.domain, "certificate", refused, detail)


def _gone_checks(chain_name: str, mesh: Mesh) -> list[Departed]:
    found = []
    for gone in mesh.departed:
        name, addr = node_name(chain_name, gone.domain), gone.address
        listed = [
            f"{n.domain} dials it as {d}:{p}"
            for n in mesh.nodes
            for d, p in n.peers
            if d == name or (d, p) == (addr.host, addr.port)
        ]
        found.append(Departed(gone.domain, "peer lists", not listed, "; ".join(listed) or "in no peer list"))
        in_policy = [
            f"{n.domain}'s NetworkPolicy {p.get('metadata', {}).get('name', '?')}"
            for n in mesh.nodes
            for p in n.policies
            if _mentions(p, name, addr.host, {m.address.host for m in mesh.nodes})
        ]
        found.append(
            Departed(
                gone.domain, "NetworkPolicy", not in_policy, "; ".join(in_policy) or "in no NetworkPolicy"
            )
        )
    return found


def _mentions(obj: Any, name: str, host: str, shared_hosts: set[str]) -> bool:
    """Whether a rendered object names `name` anywhere, or admits `host` as an address (unless a
    remaining node shares that host)."""
    if isinstance(obj, dict):
        return any(_mentions(v, name, host, shared_hosts) for v in obj.values())
    if isinstance(obj, list):
        return any(_mentions(v, name, host, shared_hosts) for v in obj)
    if isinstance(obj, str):
        return obj == name or (host not in shared_hosts and obj.split("/")[0] == host)
    return False


def _has_cn(cert_pem: str) -> bool:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    return bool(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME))


# ---- output ------------------------------------------------------------------------------


def render_text(report: Report) -> str:
    """The matrix: one line per failure, a count of OK pairs, the departed checks, the verdict."""
    lines = [
        f"rehearse {report.chain_name}: {len(report.pairs)} link(s) over {TRANSPORT}",
        f"certificates: {report.source}",
    ]
    for domain, why in report.unstarted:
        lines.append(f"FAIL {domain}: not started: {why}")
    for p in report.pairs:
        if p.outcome.ok:
            lines.append(f"ok   {p.dialer} -> {p.peer} ({p.target})")
        else:
            lines.append(
                f"FAIL {p.dialer} -> {p.peer} ({p.target or '?'}): {p.outcome.reason}: {p.outcome.detail}"
            )
    lines += [
        f"{'ok  ' if d.ok else 'FAIL'} departed {d.domain}: {d.check}: {d.detail}" for d in report.departed
    ]
    good = sum(1 for p in report.pairs if p.outcome.ok)
    verdict = "passed" if report.passed else "FAILED"
    lines.append(f"rehearse: {verdict}: {good}/{len(report.pairs)} pair(s) OK in {report.seconds:.2f} s")
    return "\n".join(lines) + "\n"


def render_json(report: Report) -> str:
    """The same as JSON."""
    doc = {
        "version": 1,
        "chain_name": report.chain_name,
        "transport": TRANSPORT,
        "certificates": report.source,
        "passed": report.passed,
        "seconds": round(report.seconds, 3),
        "unstarted": [{"node": d, "reason": why} for d, why in report.unstarted],
        "pairs": [
            {
                "dialer": p.dialer,
                "peer": p.peer,
                "node": p.target,
                "ok": p.outcome.ok,
                "reason": p.outcome.reason,
                "detail": p.outcome.detail,
            }
            for p in report.pairs
        ],
        "departed": [
            {"node": d.domain, "check": d.check, "ok": d.ok, "detail": d.detail} for d in report.departed
        ],
    }
    return json.dumps(doc, indent=2) + "\n"
