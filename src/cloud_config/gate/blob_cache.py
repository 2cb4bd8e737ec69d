"""chain_config.toml and members.toml parsed once per blob id, for the gate's commit-by-commit rules.

A blob id names exact bytes, so a parse kept under it is never stale: a commit that changes a file
gives it another id and another parse (a cache by path could let a changed file skip a check).

Most commits of a PR edit a few node-list entries of a large chain_config.toml. Such a version is
derived from its parent version's parse instead of parsed whole: both texts are cut before every
line that opens a table (`[`) into chunks; the chunks they share at either end are the parent's,
and each chunk in between must be one `[[node_network_address_list]]` entry on both sides. A chunk
that parses alone as TOML ends where a statement ends, so the cuts of such chunks are real table
headers (a cut inside a multi-line string or array leaves a chunk that does not parse): the new
text means the parent's data with those entries replaced. Anything else (the first chunk changed,
another table touched, a chunk that does not parse alone, a parent whose chunks do not add up to
its parse) is parsed whole, so an error is always the whole-file parse's, word for word.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from cloud_config import git
from cloud_config.errors import CloudConfigError
from cloud_config.model.chain import ChainConfig
from cloud_config.model.members import Members
from cloud_config.model.paths import CHAIN_CONFIG, MEMBERS_FILE
from cloud_config.model.schema import MAX_TOML_BYTES, UnknownFieldError, decode_toml, parse_toml

T = TypeVar("T")
Parsed = tuple[T | None, str | None, bool]  # (value, error, whether the error is an unknown field)
NODES = "node_network_address_list"
_CUT = re.compile(r"^(?=\[)", re.M)


@dataclass
class _Layout:
    """A chain_config.toml text that parses, cut into chunks: each chunk's node entry (None for a
    chunk that is not one), and the parsed data."""

    chunks: list[str]
    entries: list[dict[str, Any] | None]
    data: dict[str, Any]


class BlobCache:
    """Parses of chain_config.toml and members.toml by blob id, read from `repo` in batches.

    `whole_parses` and `derived` count the chain_config.toml versions parsed whole and derived
    from their parent's (what the gate's tests assert through)."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self._bytes: dict[str, bytes | None] = {}
        self._chain: dict[str, Parsed[ChainConfig]] = {}
        self._members: dict[str, Parsed[Members]] = {}
        self._layouts: dict[str, _Layout | None] = {}
        self._dicts: dict[str, dict[str, Any]] = {}  # the parsed TOML of the versions parsed whole
        # what a pair of versions (chain_config.toml and members.toml ids before, after) changes:
        # change_summary.commit_changes, once per pair however many commits leave both alone
        self.pairs: dict[tuple[str, ...], Any] = {}
        self.whole_parses = 0
        self.derived = 0

    def prefetch(self, ids: Iterable[str]) -> None:
        """Read the bytes of every blob of `ids` not parsed or read yet, in one git process."""
        wanted = sorted({i for i in ids if i and i not in self._bytes and i not in self._chain})
        self._bytes.update(git.read_objects(self.repo, wanted))

    def _data(self, blob: str) -> bytes | None:
        if blob not in self._bytes:
            self._bytes.update(git.read_objects(self.repo, [blob]))
        return self._bytes[blob]

    def members(self, blob: str | None, data: bytes | None = None) -> Parsed[Members]:
        """members.toml of blob id `blob` (None: the file is absent); `data`: its bytes, when read."""
        if not blob:
            return None, None, False
        if blob not in self._members:
            found = data if data is not None else self._data(blob)
            self._members[blob] = _load(found, MEMBERS_FILE, Members.loads)
        return self._members[blob]

    def chain(self, blob: str | None, parent: str | None = None) -> Parsed[ChainConfig]:
        """chain_config.toml of blob id `blob` (None: absent), derived from the version `parent`
        when only node-list entries differ (see the module docstring)."""
        if not blob:
            return None, None, False
        if blob not in self._chain:
            derived = self._derive(parent, blob) if parent and parent != blob else None
            if derived is not None:
                self.derived += 1
                self._chain[blob] = derived
            else:
                self._chain[blob] = self.parse_chain(blob, self._data(blob))
            self._bytes.pop(blob, None)  # its layout, if it has one, holds the text
        return self._chain[blob]

    def parse_chain(self, blob: str, data: bytes | None) -> Parsed[ChainConfig]:
        """chain_config.toml's bytes parsed whole (ChainConfig.loads, in its two steps, keeping the
        parsed TOML for `_layout`)."""
        if data is None:
            return None, None, False
        if blob in self._chain:
            return self._chain[blob]
        self.whole_parses += 1
        self._bytes.setdefault(blob, data)
        try:
            parsed = parse_toml(decode_toml(data, CHAIN_CONFIG), CHAIN_CONFIG)
            self._dicts[blob] = parsed
            chain = ChainConfig.from_dict(parsed, CHAIN_CONFIG)
        except CloudConfigError as exc:
            return None, str(exc), isinstance(exc, UnknownFieldError)
        self._chain[blob] = chain, None, False
        return self._chain[blob]

    def _layout(self, blob: str) -> _Layout | None:
        """The chunks of the version `blob`, checked against its whole parse (None: not cut-able)."""
        if blob not in self._layouts:
            self._layouts[blob] = None
            data, whole = self._data(blob), self._dicts.get(blob)
            if data is None or whole is None or not isinstance(whole.get(NODES), list) or not whole[NODES]:
                return None
            chunks = _CUT.split(data.decode("utf-8"))
            entries = [_entry(c) if i else None for i, c in enumerate(chunks)]
            listed = [e for e in entries if e is not None]
            if listed == whole[NODES] and all(
                e is not None or _plain(c) for c, e in zip(chunks, entries, strict=True)
            ):
                self._layouts[blob] = _Layout(chunks, entries, whole)
        return self._layouts[blob]

    def _derive(self, parent: str, blob: str) -> Parsed[ChainConfig] | None:
        """The parse of `blob` from the parse of `parent`, or None when it must be parsed whole."""
        old = self._layout(parent)
        data = self._data(blob)
        if old is None or data is None or len(data) > MAX_TOML_BYTES:
            return None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        chunks = _CUT.split(text)
        first = 0
        most = min(len(chunks), len(old.chunks))
        while first < most and chunks[first] == old.chunks[first]:
            first += 1
        last = 0  # chunks shared at the end
        while last < most - first and chunks[-1 - last] == old.chunks[-1 - last]:
            last += 1
        if first == 0:
            return None  # the first chunk (the top-level keys, a byte-order mark) changed
        gone = old.entries[first : len(old.chunks) - last]
        came = [_entry(c) for c in chunks[first : len(chunks) - last]]
        if any(e is None for e in gone) or any(e is None for e in came):
            return None
        before = sum(1 for e in old.entries[:first] if e is not None)
        nodes = [*old.data[NODES][:before], *came, *old.data[NODES][before + len(gone) :]]
        if not nodes:
            return None  # no entry left: the key itself is gone
        end = len(old.chunks) - last
        shared = [*old.chunks[:first], *chunks[first : len(chunks) - last], *old.chunks[end:]]
        new = {**old.data, NODES: nodes}
        self._layouts[blob] = _Layout(shared, [*old.entries[:first], *came, *old.entries[end:]], new)
        self._bytes.pop(blob, None)
        parent_chain = self._chain.get(parent, (None, None, False))[0]
        if parent_chain is not None:
            # ChainConfig.from_dict reads each node entry on its own: only the new entries are read,
            # in a copy of the parent's document that lists just them (an error: read it whole below)
            try:
                listed = ChainConfig.from_dict(
                    {**old.data, NODES: came}, CHAIN_CONFIG
                ).node_network_address_list
            except CloudConfigError:
                pass
            else:
                kept = parent_chain.node_network_address_list
                spliced = [*kept[:before], *listed, *kept[before + len(gone) :]]
                return replace(parent_chain, node_network_address_list=spliced), None, False
        try:
            return ChainConfig.from_dict(new, CHAIN_CONFIG), None, False
        except CloudConfigError as exc:
            return None, str(exc), isinstance(exc, UnknownFieldError)


def _entry(chunk: str) -> dict[str, Any] | None:
    """The node entry a chunk is when it parses alone as exactly one node-list entry, else None."""
    if not chunk.startswith(f"[[{NODES}]]"):
        return None
    try:
        data = parse_toml(chunk, CHAIN_CONFIG)
    except CloudConfigError:
        return None
    listed = data.get(NODES)
    if list(data) != [NODES] or not isinstance(listed, list) or len(listed) != 1:
        return None
    return listed[0] if isinstance(listed[0], dict) else None


def _plain(chunk: str) -> bool:
    """Whether a chunk that is not a node entry parses alone and leaves the node list alone."""
    try:
        return NODES not in parse_toml(chunk, CHAIN_CONFIG)
    except CloudConfigError:
        return False


def _load(data: bytes | None, source: str, loads: Callable[[str, str], T]) -> Parsed[T]:
    """(value, error, whether the error is an unknown field) of one TOML file's bytes."""
    if data is None:
        return None, None, False
    try:
        return loads(decode_toml(data, source), source), None, False
    except CloudConfigError as exc:
        return None, str(exc), isinstance(exc, UnknownFieldError)
