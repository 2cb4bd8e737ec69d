"""A node's files on disk: the chain's configuration, node_config.toml and the node's account,
each read and checked with an error naming the file."""

from __future__ import annotations

from pathlib import Path

from cloud_config.errors import ConfigError, NotFoundError
from cloud_config.model.chain import ADDRESS_LEN, ChainConfig
from cloud_config.model.names import hex_problem
from cloud_config.model.node import NodeConfig
from cloud_config.model.paths import CHAIN_CONFIG, DEFAULT_CHAIN, NODE_CONFIG, ChainLayout
from cloud_config.store import account_files
from cloud_config.store.files import looks_like_hint, read_toml_text
from cloud_config.store.sops import Sops


def load_chain(chain_dir: Path, chain_name: str) -> tuple[ChainConfig, str]:
    """The chain folder's current, validated configuration and its text."""
    path = chain_dir / CHAIN_CONFIG
    text = read_toml_text(path, "is --config-dir / --chain-name right?" + looks_like_hint(chain_dir.parent))
    chain = ChainConfig.loads(text, str(path))
    chain.validate(chain_name, str(path))
    return chain, text


def load_node_config(
    node_dir: Path, domain: str, consensus: str | None = None, chain_name: str = DEFAULT_CHAIN
) -> tuple[NodeConfig, str]:
    """The node folder's node_config.toml, checked against what the chain's services accept
    (the log level only when the chain's `consensus` is given)."""
    path = node_dir / NODE_CONFIG
    hint = ChainLayout(node_dir.parent, chain_name).hint("init-node", "--domain", domain)
    text = read_toml_text(path, f"run `{hint} --account ...` first")
    node = NodeConfig.loads(text, str(path))
    for field, reason in node.problems(consensus):
        raise ConfigError(str(path), field, reason)
    return node, text


def read_keys(
    account_dir: Path, chain: ChainConfig, account: str, sops: Sops | None = None
) -> dict[str, str]:
    """The account's three files by name, checked to belong together and to this chain (never echoed);
    a key encrypted at rest is decrypted in memory."""
    reason = hex_problem(account, (ADDRESS_LEN,))
    if reason:
        raise ConfigError(NODE_CONFIG, "account", reason)
    if not account_dir.is_dir():
        raise NotFoundError(f"account folder {account_dir} does not exist (init-node copies it)")
    found = account_files.read_account(account_dir, sops)
    if found.node_address != account:
        raise ConfigError(str(account_dir), None, f"holds account {found.node_address}, not {account}")
    if len(found.validator_address) != chain.validator_length:
        raise ConfigError(
            str(account_dir / account_files.VALIDATOR_ADDRESS),
            None,
            f"must be {chain.validator_length} hex characters for consensus {chain.consensus}",
        )
    return account_files.account_texts(found)
