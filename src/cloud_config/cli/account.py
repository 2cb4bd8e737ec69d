"""Account verbs: new-account, import-account (reference §3)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from cloud_config.cli.common import Subparsers, add_format, add_verb, layout, print_json

if TYPE_CHECKING:
    from cloud_config.crypto.accounts import Account

_FLAVOURS = ("sm", "eth")


def register(sub: Subparsers) -> None:
    """Add new-account and import-account."""
    p = add_verb(sub, "new-account", "new account", run_new_account)
    _add_crypto_flag(p)
    add_format(p)

    p = add_verb(sub, "import-account", "import account", run_import_account)
    p.add_argument(
        "--privkey",
        required=True,
        help="the 32-byte private key as 64 hex (0x optional); '-' reads it from standard input "
        "(one line; keeps the key out of `ps` and shell history)",
    )
    _add_crypto_flag(p)
    add_format(p)


def _add_crypto_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--crypto",
        choices=_FLAVOURS,
        default="sm",
        help="sm: SM2 key, SM3 address (default); eth: secp256k1 key, Keccak-256 address",
    )


def run_new_account(args: argparse.Namespace) -> int:
    """new-account: a random key; prints its addresses."""
    from cloud_config.crypto.accounts import generate_account
    from cloud_config.store.chain_files import read_chain

    where = layout(args)
    account = generate_account(read_chain(where).consensus, args.crypto)
    return _save_and_print(args, account)


def run_import_account(args: argparse.Namespace) -> int:
    """import-account: a given key; prints its addresses."""
    from cloud_config.crypto.accounts import derive_account, secret_from_hex
    from cloud_config.store.chain_files import read_chain

    text = _key_from_stdin() if args.privkey == "-" else args.privkey
    secret = secret_from_hex(text)
    account = derive_account(secret, read_chain(layout(args)).consensus, args.crypto)
    return _save_and_print(args, account)


def _save_and_print(args: argparse.Namespace, account: Account) -> int:
    from cloud_config.store.account_files import write_account

    folder = write_account(layout(args), account)
    if args.format == "json":
        print_json(
            {
                "node_address": account.node_address,
                "validator_address": account.validator_address,
                "account_dir": str(folder),
            }
        )
    else:  # cloud-config 6.7.4's line, which scripts parse
        print(f"node_address: {account.node_address} validator_address: {account.validator_address}")
    return 0


# A key line is 66 characters at most; anything much longer is not a key.
_STDIN_LIMIT = 4096


def _key_from_stdin() -> str:
    """`--privkey -`: one line from standard input (not echoed when it is a terminal)."""
    from cloud_config.errors import UsageError

    if sys.stdin is None:
        raise UsageError("--privkey", "'-' reads the key from standard input, which is closed")
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("private key: ")
    raw = sys.stdin.buffer.read(_STDIN_LIMIT + 1)
    if len(raw) > _STDIN_LIMIT:
        raise UsageError(
            "--privkey", f"standard input holds more than {_STDIN_LIMIT} bytes; expected one line"
        )
    try:
        text = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise UsageError("--privkey", "standard input is not ASCII text; expected one line of hex") from None
    if not text:
        raise UsageError("--privkey", "standard input is empty; expected the key as one line of hex")
    if "\n" in text or "\r" in text:
        raise UsageError("--privkey", "standard input holds more than one line; expected the key alone")
    return text
