"""Certificates: the CA stays put once used; each node certificate is the CA's, for exactly its node.

The checks themselves are crypto.pki's (cert_problems, csr_problem, ca_problems, leaf_problem);
this module only decides which files to check and which rule id each problem belongs to. A
certificate the change adds or alters must name exactly `{chain}-{domain}` (plus a non-k8s node's
own host) and carry basicConstraints CA:false; one already on the base that lacks the extension
(as cloud-config 6.7.4 issues them) is a warning.
"""

from __future__ import annotations

from collections.abc import Iterator

from cloud_config.gate.change_summary import Snapshot, node_file
from cloud_config.gate.findings import ERROR, WARNING, Finding
from cloud_config.model.chain import ChainConfig
from cloud_config.model.network_address import NodeNetworkAddress
from cloud_config.model.paths import CA_CERT, node_name

# cert_problems' messages, by how they begin, to the rule each one breaks.
_CERT_RULES = (
    ("is not issued by", "cert-not-from-ca"),
    ("names ", "cert-wrong-name"),
    ("its public key does not match", "cert-key-mismatch"),
    ("expired on", "cert-expired"),
)


def cert_findings(base: Snapshot, head: Snapshot, chain_name: str) -> Iterator[Finding]:
    """The CA, every CSR and every node certificate of the head."""
    from cloud_config.crypto import pki

    ca_pem = head.text(CA_CERT)
    yield from _ca_findings(base, head, ca_pem)
    now, then = _by_domain(head.chain), _by_domain(base.chain)
    for path in sorted(p for p in head.tree if node_file(p)):
        domain, kind = node_file(path) or ("", "")
        pem = head.text(path) or ""
        name = node_name(chain_name, domain)
        listed = now.get(domain) or then.get(domain)  # a node that left: its names as they were
        hosts = pki.cert_hosts(listed)
        kept = base.tree.get(path) == head.tree.get(path)
        former = pki.cert_hosts(then.get(domain)) if kept else ()
        if former and not set(former) <= set(hosts):
            yield from _stale_host(head, path, pem, name, hosts, former)
        if kept:  # its names were judged when it came in; a moved host is cert-stale-host's
            hosts = (*hosts, *(h for h in pki.host_names(pem) if h != name))
        if kind == "csr":
            problem = pki.csr_problem(pem, name, hosts)
            if problem:
                yield Finding("csr-invalid", ERROR, path, f"the CSR {problem}")
        elif ca_pem is None:
            yield Finding("cert-not-from-ca", ERROR, path, f"there is no {CA_CERT} to issue it")
        else:
            csr = head.text(f"certs/{domain}/csr.pem")
            for problem in pki.cert_problems(pem, ca_pem, name, csr, hosts):
                rule = next((r for start, r in _CERT_RULES if problem.startswith(start)), "cert-invalid")
                if rule == "cert-key-mismatch":
                    problem = (
                        f"holds another public key than certs/{domain}/csr.pem (a new key was "
                        "made after signing: sign the new CSR)"
                    )
                yield Finding(rule, ERROR, path, f"the certificate {problem}")
            leaf = pki.leaf_problem(pem)
            if leaf:
                unchanged = base.tree.get(path) == head.tree[path]
                yield Finding(
                    "cert-basic-constraints", WARNING if unchanged else ERROR, path,
                    f"the certificate {leaf}"
                    + ("; it was issued before this change (re-sign it with sign-csr)" if unchanged else ""),
                )  # fmt: skip
            yield from _expiring(path, pem)


def _by_domain(chain: ChainConfig | None) -> dict[str, NodeNetworkAddress]:
    """Each domain's node-list entry (the first one, as ChainConfig.node finds it)."""
    found: dict[str, NodeNetworkAddress] = {}
    for node in chain.node_network_address_list if chain else []:
        found.setdefault(node.domain, node)
    return found


def _expiring(path: str, pem: str) -> Iterator[Finding]:
    """`cert-expiring`: a certificate with less than EXPIRING_DAYS left (an expired one is an error)."""
    from cloud_config.crypto import pki

    lifetime = pki.cert_lifetime(pem)
    if lifetime is not None and 0 <= lifetime[3] < pki.EXPIRING_DAYS:
        domain = _domain_of(path)
        yield Finding(
            "cert-expiring", WARNING, path,
            f"the certificate expires on {lifetime[2]} ({lifetime[3]} day(s) left): "
            f"`cloud-config renew-cert --domain {domain}` and merge it before then",
        )  # fmt: skip


def _ca_findings(base: Snapshot, head: Snapshot, ca_pem: str | None) -> Iterator[Finding]:
    from cloud_config.crypto import pki

    if ca_pem is not None:
        for problem in pki.ca_problems(ca_pem):
            yield Finding("ca-invalid", ERROR, CA_CERT, problem)
    issued = [p for p in base.tree if (node_file(p) or ("", ""))[1] == "cert"]
    if issued and base.tree.get(CA_CERT) != head.tree.get(CA_CERT):
        from cloud_config.gate.rules.rotation import ca_change_problem

        why = None if ca_pem is None else ca_change_problem(base, head)
        if ca_pem is not None and why is None:
            return  # a phase of rotate-ca (gate/rules/rotation.py)
        verb = "removed" if ca_pem is None else "replaced"
        yield Finding(
            "ca-changed", ERROR, CA_CERT,
            f"the CA certificate is {verb} while {len(issued)} node certificate(s) depend on it: "
            f"every node would stop trusting the others{f' ({why})' if why else ''}",
        )  # fmt: skip


def _stale_host(
    head: Snapshot, path: str, pem: str, name: str, hosts: tuple[str, ...], former: tuple[str, ...]
) -> Iterator[Finding]:
    """`cert-stale-host` (warning): a CSR or certificate this change keeps names the node's former
    host, and a node outside k8s dials peers by host: its name check of the moved node fails until
    the owner makes a new CSR (create-csr --force) and it is signed."""
    from cloud_config.crypto import pki

    if head.chain is None or all(n.is_k8s for n in head.chain.node_network_address_list):
        return  # only a node outside k8s dials a peer by its host
    if pki.names_only(pem, name, (*hosts, *former)) and not pki.names_only(pem, name, hosts):
        domain = _domain_of(path)
        yield Finding(
            "cert-stale-host", WARNING, path,
            f"names the node's former host {', '.join(former)}; it moved to {', '.join(hosts) or 'no host'}: "
            f"`cloud-config create-csr --domain {domain} --force`, then sign-csr",
        )  # fmt: skip


def _domain_of(path: str) -> str:
    """The node domain of a `certs/<domain>/...` path (for the fix hints), or ""."""
    return (node_file(path) or ("", ""))[0]
