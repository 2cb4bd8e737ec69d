"""Secrets at rest: `init-node --encrypt-to` starts it; the `secrets` verbs change and extend it."""

from __future__ import annotations

import argparse

from cloud_config.cli.common import Subparsers, add_command, add_verb, layout, path_arg

IDENTITY_HELP = "age identity file that decrypts the keys (default: SOPS_AGE_KEY_FILE, as sops reads it)"


def register(sub: Subparsers) -> None:
    """Add the `secrets` group."""
    group = add_command(
        sub, "secrets", "node keys encrypted at rest (SOPS + age): recipients, migrate, encrypt"
    )
    verbs = group.add_subparsers(dest="secrets_verb", metavar="<verb>")
    verbs.required = True

    p = add_verb(
        verbs, "recipients", "re-encrypt a node's secrets to a changed set of age recipients", run_recipients
    )
    p.add_argument("--domain", required=True, help="the node's domain")
    p.add_argument(
        "--add", action="append", default=[], metavar="AGE1...", help="recipient to add (repeatable)"
    )
    p.add_argument(
        "--remove", action="append", default=[], metavar="AGE1...", help="recipient to remove (repeatable)"
    )
    p.add_argument("--age-identity-file", type=path_arg, default=None, help=IDENTITY_HELP)

    p = add_verb(verbs, "migrate", "encrypt a plaintext node folder in place", run_migrate)
    p.add_argument("--domain", required=True, help="the node's domain")
    add_encrypt_to(p, required=False)
    p.add_argument("--age-identity-file", type=path_arg, default=None, help=IDENTITY_HELP)

    p = add_verb(
        verbs, "encrypt", "encrypt the CA key, account keys and TLS keys of a chain folder", run_encrypt
    )
    add_encrypt_to(p, required=True)


def add_encrypt_to(p: argparse.ArgumentParser, required: bool) -> None:
    """`--encrypt-to age1...` (repeatable): init-node, secrets migrate, secrets encrypt."""
    p.add_argument(
        "--encrypt-to",
        action="append",
        default=[],
        required=required,
        metavar="AGE1...",
        help="age recipient to encrypt the secrets to (repeatable: operators, pipeline, cluster)",
    )


def run_recipients(args: argparse.Namespace) -> int:
    """secrets recipients."""
    from cloud_config.app.secrets import change_recipients

    if not args.add and not args.remove:
        from cloud_config.errors import UsageError

        raise UsageError("--add", "give at least one --add or --remove")
    changes = change_recipients(layout(args), args.domain, args.add, args.remove, args.age_identity_file)
    print(f"{args.domain}: re-encrypted {len(changes.written)} generated file(s) and the node's keys")
    return 0


def run_migrate(args: argparse.Namespace) -> int:
    """secrets migrate."""
    from cloud_config.app.secrets import migrate, purge_instructions

    where = layout(args)
    migrate(where, args.domain, args.encrypt_to, args.age_identity_file)
    print(f"{args.domain}: the node folder's secrets are encrypted at rest")
    print(purge_instructions(where.node_dir(args.domain)))
    return 0


def run_encrypt(args: argparse.Namespace) -> int:
    """secrets encrypt."""
    from cloud_config.app.secrets import encrypt_chain_folder

    changed = encrypt_chain_folder(layout(args), args.encrypt_to)
    for path in changed:
        print(f"encrypted {path}")
    if not changed:
        print("nothing to encrypt: every key is already encrypted to these recipients")
    return 0
