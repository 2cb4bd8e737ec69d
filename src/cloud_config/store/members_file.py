"""Reading and editing the chain folder's `members.toml` (under the folder's lock)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from cloud_config.model.members import Members
from cloud_config.model.paths import MEMBERS_FILE, ChainLayout
from cloud_config.store.atomic import locked, write_bytes
from cloud_config.store.chain_files import require_chain_dir
from cloud_config.store.files import read_toml_text


def read_members(layout: ChainLayout) -> Members:
    """The members of the chain folder (none when members.toml does not exist yet)."""
    require_chain_dir(layout)
    path = layout.chain_dir / MEMBERS_FILE
    if not path.exists():
        return Members()
    return Members.loads(read_toml_text(path), str(path))


@contextlib.contextmanager
def editing_members(layout: ChainLayout) -> Iterator[Members]:
    """Yield the members to edit; on a clean exit write members.toml back (comments kept)."""
    require_chain_dir(layout)
    path = layout.chain_dir / MEMBERS_FILE
    with locked(layout.chain_dir):
        old_text = read_toml_text(path) if path.exists() else None
        members = Members.loads(old_text, str(path)) if old_text is not None else Members()
        yield members
        text = members.dumps(old_text)
        if text != old_text:
            write_bytes(path, text.encode("utf-8"))
