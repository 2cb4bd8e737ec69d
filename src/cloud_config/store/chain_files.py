"""Reading and editing the chain folder's `chain_config.toml` (under the folder's lock)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from cloud_config.errors import NotFoundError
from cloud_config.model.chain import ChainConfig
from cloud_config.model.paths import ChainLayout
from cloud_config.store.atomic import locked, write_bytes
from cloud_config.store.files import looks_like_hint, read_toml_text


def require_chain_dir(layout: ChainLayout) -> None:
    """Refuse to go on when the chain folder does not exist."""
    if not layout.chain_dir.is_dir():
        raise NotFoundError(
            f"chain folder {layout.chain_dir} does not exist; run `{layout.hint('init-chain')}` first "
            f"(or check --config-dir and --chain-name){looks_like_hint(layout.config_dir)}"
        )


def read_chain_text(layout: ChainLayout) -> str:
    """The text of chain_config.toml, or a clear error naming the missing file."""
    require_chain_dir(layout)
    return read_toml_text(layout.chain_config, f"run `{layout.hint('init-chain-config')}` first")


def read_chain(layout: ChainLayout) -> ChainConfig:
    """The chain configuration of the chain folder."""
    return ChainConfig.loads(read_chain_text(layout), str(layout.chain_config))


def write_chain(layout: ChainLayout, config: ChainConfig, old_text: str | None) -> bool:
    """Validate and write `config` (editing `old_text` in place); True when the bytes changed."""
    config.validate(layout.chain_name, str(layout.chain_config))
    text = config.dumps(old_text)
    if text == old_text:
        return False
    write_bytes(layout.chain_config, text.encode("utf-8"))
    return True


@contextlib.contextmanager
def editing(layout: ChainLayout) -> Iterator[ChainConfig]:
    """Yield the chain configuration to edit; on a clean exit validate it and write it back.

    The whole edit runs under the chain folder's lock. An exception leaves the file untouched.
    """
    require_chain_dir(layout)
    with locked(layout.chain_dir):
        text = read_chain_text(layout)
        config = ChainConfig.loads(text, str(layout.chain_config))
        yield config
        write_chain(layout, config, text)
