"""PKI verbs: create-ca, create-csr, sign-csr, renew-cert, certs, import-ca, import-cert (reference §4)."""

from __future__ import annotations

import argparse
from typing import Any

from cloud_config.cli.common import (
    Subparsers,
    add_format,
    add_verb,
    complete_files,
    layout,
    path_arg,
    print_json,
    say,
)


def register(sub: Subparsers) -> None:
    """Add the CA and certificate verbs."""
    p = add_verb(sub, "create-ca", "create CA", run_create_ca)
    p.add_argument("--force", action="store_true", help="replace an existing CA")

    p = add_verb(sub, "create-csr", "create csr", run_create_csr)
    p.add_argument("--domain", required=True, help="the node's domain")
    p.add_argument("--force", action="store_true", help="replace a key that already has a certificate")

    p = add_verb(sub, "sign-csr", "sign csr", run_sign_csr)
    p.add_argument("--domain", required=True, help="the node's domain")
    _days(p)

    p = add_verb(sub, "renew-cert", "sign the node's CSR again: a fresh lifetime (admin)", run_renew_cert)
    p.add_argument("--domain", required=True, help="the node's domain")
    _days(p)

    p = add_verb(sub, "certs", "list every certificate: issuer, not-after, days left", run_certs)
    add_format(p)

    p = add_verb(sub, "import-ca", "import CA", run_import_ca)
    complete_files(p.add_argument("--ca-cert", required=True, type=path_arg, help="the CA certificate (PEM)"))
    complete_files(p.add_argument("--ca-key", required=True, type=path_arg, help="the CA key (PKCS#8 PEM)"))
    p.add_argument("--force", action="store_true", help="replace an existing, different CA")

    p = add_verb(sub, "import-cert", "import cert", run_import_cert)
    p.add_argument("--domain", required=True, help="the node's domain")
    complete_files(p.add_argument("--cert", required=True, type=path_arg, help="the node certificate (PEM)"))
    complete_files(p.add_argument("--key", required=True, type=path_arg, help="the node key (PKCS#8 PEM)"))


def _days(p: Any) -> None:
    if not isinstance(p, argparse.ArgumentParser):
        return  # another verb runs (cli.main's stand-in parser): crypto.pki is not imported for it
    from cloud_config.crypto.pki import DEFAULT_DAYS

    p.add_argument(
        "--days",
        type=int,
        default=DEFAULT_DAYS,
        help=f"the certificate's lifetime in days (default: {DEFAULT_DAYS}; "
        "0: 6.7.4's 1975-01-01 to 4096-01-01)",
    )


def run_create_ca(args: argparse.Namespace) -> int:
    """create-ca."""
    from cloud_config.app import pki

    where = layout(args)
    pki.create_ca(where, args.force)
    say(args, f"create-ca: {where.ca_dir} holds the new CA (cert.pem shared, key.pem git-ignored)")
    return 0


def run_create_csr(args: argparse.Namespace) -> int:
    """create-csr."""
    from cloud_config.app import pki

    path = pki.create_csr(layout(args), args.domain, args.force)
    say(args, f"create-csr: {path} for node {args.domain} (its key.pem stays here, git-ignored)")
    return 0


def run_sign_csr(args: argparse.Namespace) -> int:
    """sign-csr."""
    from cloud_config.app import pki

    path = pki.sign_csr(layout(args), args.domain, args.days)
    say(args, f"sign-csr: {path} for node {args.domain}")
    return 0


def run_renew_cert(args: argparse.Namespace) -> int:
    """renew-cert."""
    from cloud_config.app import pki
    from cloud_config.crypto.pki import cert_not_after

    path = pki.renew_cert(layout(args), args.domain, args.days)
    say(args, f"renew-cert: {path} for node {args.domain}, valid until {cert_not_after(path.read_text())}")
    return 0


def run_certs(args: argparse.Namespace) -> int:
    """certs: one line per certificate (each CA of a bundle on its own line)."""
    import dataclasses

    from cloud_config.app import pki

    found = pki.list_certs(layout(args))
    if args.format == "json":
        print_json({"certificates": [dataclasses.asdict(c) for c in found]})
        return 0
    for c in found:
        print(
            f"{c.path}\t{c.subject}\tissuer: {c.issuer}\tnot after: {c.not_after}\tdays left: {c.days_left}"
        )
    return 0


def run_import_ca(args: argparse.Namespace) -> int:
    """import-ca."""
    from cloud_config.app import pki

    where = layout(args)
    pki.import_ca(where, args.ca_cert, args.ca_key, args.force)
    say(args, f"import-ca: {where.ca_dir} holds the imported CA")
    return 0


def run_import_cert(args: argparse.Namespace) -> int:
    """import-cert."""
    from cloud_config.app import pki

    where = layout(args)
    pki.import_cert(where, args.domain, args.cert, args.key)
    say(args, f"import-cert: {where.cert_dir(args.domain)} holds node {args.domain}'s certificate and key")
    return 0
