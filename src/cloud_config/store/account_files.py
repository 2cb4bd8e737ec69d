"""An account's three files, `accounts/<node_address>/{private_key,validator_address,node_address}`.

Lowercase hex, no `0x`, no newline (reference §3.2): consensus_overlord and consensus_raft fail on
anything else. Every file is a secret file (0600 in a 0700 folder); an account folder appears whole
or not at all.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from cloud_config.crypto.accounts import OVERLORD, Account, derive_account
from cloud_config.errors import CloudConfigError, ConfigError
from cloud_config.model.names import hex_problem
from cloud_config.model.paths import ChainLayout
from cloud_config.store.atomic import SECRET_DIR_MODE, locked, write_secret
from cloud_config.store.sops import Sops, is_encrypted

PRIVATE_KEY = "private_key"
VALIDATOR_ADDRESS = "validator_address"
NODE_ADDRESS = "node_address"
ACCOUNT_FILES = (PRIVATE_KEY, VALIDATOR_ADDRESS, NODE_ADDRESS)


def account_texts(account: Account) -> dict[str, str]:
    """The contents of the three files, by file name."""
    return {
        PRIVATE_KEY: account.private_key_hex,
        VALIDATOR_ADDRESS: account.validator_address,
        NODE_ADDRESS: account.node_address,
    }


def write_account(layout: ChainLayout, account: Account) -> Path:
    """Write the account into `accounts/<node_address>/` of the chain folder; return that folder."""
    layout.accounts_dir.mkdir(parents=True, exist_ok=True)
    with locked(layout.accounts_dir):
        return write_account_dir(layout.account_dir(account.node_address), account)


def write_account_dir(target: Path, account: Account) -> Path:
    """Write the three files into `target`: staged beside it, then moved in (all or nothing)."""
    import shutil  # here: reading an account needs neither
    import tempfile

    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial"))
    try:
        os.chmod(staging, SECRET_DIR_MODE)
        for name, text in account_texts(account).items():
            write_secret(staging / name, text.encode("ascii"))
        if not target.exists():
            staging.rename(target)
            return target
        # Importing a key again refreshes the folder in place (its validator address may change).
        os.chmod(target, SECRET_DIR_MODE)
        for name in ACCOUNT_FILES:
            os.replace(staging / name, target / name)
        return target
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(staging)


def read_account(account_dir: Path, sops: Sops | None = None) -> Account:
    """The account in `account_dir`, after checking that its three files agree with each other.

    A private key encrypted at rest is decrypted in memory (`sops`' identity)."""
    texts = {name: _read(account_dir / name, sops) for name in ACCOUNT_FILES}
    where = str(account_dir / PRIVATE_KEY)
    reason = hex_problem(texts[PRIVATE_KEY], (64,))
    if reason:
        # hex_problem would quote the value; the key must never reach a message.
        raise ConfigError(where, None, "must be exactly 64 hex characters, no 0x, no newline")
    secret = bytes.fromhex(texts[PRIVATE_KEY])
    node = texts[NODE_ADDRESS]
    consensus = OVERLORD if len(texts[VALIDATOR_ADDRESS]) == 96 else "consensus_raft"
    for flavour in ("sm", "eth"):
        try:
            account = derive_account(secret, consensus, flavour)
        except CloudConfigError as exc:
            raise ConfigError(
                where, None, "is not a valid key (zero, or above its curve's group order)"
            ) from exc
        if account.node_address == node and account.validator_address == texts[VALIDATOR_ADDRESS]:
            if account_dir.name != node:
                raise ConfigError(str(account_dir), None, f"folder name must be the node address {node}")
            return account
    raise ConfigError(
        str(account_dir), None, "node_address and validator_address do not belong to private_key"
    )


def _read(path: Path, sops: Sops | None) -> str:
    try:
        data = path.read_bytes()
        if path.name == PRIVATE_KEY and is_encrypted(data, "binary"):
            data = (sops or Sops()).decrypt(data, "binary", str(path))
        return data.decode("ascii")
    except FileNotFoundError:
        raise ConfigError(str(path), None, "is missing (an account folder holds three files)") from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), None, "must hold lowercase hex only") from None
