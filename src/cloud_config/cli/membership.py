"""Membership verbs: rehearse (the mesh on loopback), rotate-ca (the CA in three phases) and peers
(who may reach a node)."""

from __future__ import annotations

import argparse

from cloud_config.cli.common import Subparsers, add_format, add_verb, layout, print_json, warn


def register(sub: Subparsers) -> None:
    """Add rehearse and rotate-ca."""
    p = add_verb(
        sub,
        "rehearse",
        "start every node's link on loopback and dial every peer (exit 1 on a failure)",
        run_rehearse,
    )
    p.add_argument(
        "--base", help="a revision of the chain folder's git repo: nodes there but not at --head are departed"
    )
    p.add_argument("--head", help="the revision to rehearse (default: the chain folder as it is)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")

    p = add_verb(sub, "rotate-ca", "replace the CA in three phases, each one PR (admin)", run_rotate_ca)
    phase = p.add_mutually_exclusive_group(required=True)
    phase.add_argument(
        "--begin", action="store_true", help="add a new CA beside the old one in ca_cert/cert.pem"
    )
    phase.add_argument("--reissue", action="store_true", help="sign every node CSR again with the new CA")
    phase.add_argument("--finish", action="store_true", help="remove the old CA from ca_cert/cert.pem")

    p = add_verb(
        sub,
        "peers",
        "the peers a node admits on its p2p port, for a cloud firewall (its NetworkPolicy's list)",
        run_peers,
    )
    p.add_argument("--domain", required=True, help="the node's domain")
    add_format(p)


def run_rehearse(args: argparse.Namespace) -> int:
    """rehearse."""
    from cloud_config.errors import UsageError
    from cloud_config.rehearse.run import rehearse, render_json, render_text

    if (args.base is None) != (args.head is None):
        raise UsageError("--base" if args.base is None else "--head", "--base and --head go together")
    report = rehearse(layout(args), args.base, args.head)
    print((render_json if args.format == "json" else render_text)(report), end="")
    return 0 if report.passed else 1


def run_rotate_ca(args: argparse.Namespace) -> int:
    """rotate-ca --begin | --reissue | --finish."""
    from cloud_config.app import rotation

    where = layout(args)
    if args.begin:
        done = rotation.begin(where)
        print("rotate-ca --begin: ca_cert/cert.pem holds the old and the new CA; commit it as one PR")
        print(f"the old CA key left the chain folder: {done.retired_key} (0600; --finish deletes it)")
    elif args.reissue:
        done = rotation.reissue(where)
        print(
            f"rotate-ca --reissue: {len(done.reissued)} certificate(s) signed by the new CA: "
            f"{', '.join(done.reissued) or 'none'}; commit them as one PR"
        )
        for domain in done.skipped:
            warn(f"certs/{domain}/csr.pem is not re-signed: {domain} is not in the node list")
    else:
        done = rotation.finish(where)
        print("rotate-ca --finish: ca_cert/cert.pem holds the new CA only; commit it as one PR")
        if done.retired_key is not None:
            print(f"deleted the old CA key {done.retired_key}")
    return 0


def run_peers(args: argparse.Namespace) -> int:
    """peers: one line per current peer (how it is admitted), or one JSON document."""
    from cloud_config.app.allowlist import peers

    found = peers(layout(args), args.domain)
    if args.format == "json":
        print_json(
            {
                "domain": found.domain,
                "port": found.port,
                "protocol": found.protocol,
                "peers": [s.to_dict() for s in found.sources],
                "warnings": found.warnings,
            }
        )
    else:
        for s in found.sources:
            how = f"pods of namespace {s.namespace}" if s.same_cluster else (s.cidr or "nowhere")
            print(f"{s.domain}\t{s.name}\t{found.protocol} {found.port} from {how}")
    for message in found.warnings:
        warn(message)
    return 0
