"""Chain-level use cases that need more than an edit: a fresh chain configuration."""

from __future__ import annotations

from cloud_config.crypto.hashes import sm3_hex
from cloud_config.model import edits
from cloud_config.model.chain import ChainConfig
from cloud_config.model.paths import ChainLayout
from cloud_config.store import chain_files
from cloud_config.store.atomic import locked


def fresh_chain_config(chain_name: str, opts: edits.GenesisOptions, now_ms: int) -> ChainConfig:
    """A new configuration at stage Init; the chain id defaults to SM3(chain name), as cloud-config's."""
    return edits.new_chain_config(opts, now_ms, sm3_hex(chain_name.encode()))


def init_chain_config(layout: ChainLayout, opts: edits.GenesisOptions, now_ms: int, force: bool) -> None:
    """init-chain-config: write a fresh chain_config.toml; never wipes admin, validators or nodes
    without `force`."""
    chain_files.require_chain_dir(layout)
    with locked(layout.chain_dir):
        if layout.chain_config.exists():
            old_text = chain_files.read_chain_text(layout)
            edits.check_reinit(ChainConfig.loads(old_text, str(layout.chain_config)), force)
        chain_files.write_chain(layout, fresh_chain_config(layout.chain_name, opts, now_ms), None)
