"""Rewrite an existing TOML file to hold new data while keeping the user's comments and layout.

The old text is cut into blocks (the root, then one per header) and entries (`key = value`, which
may span lines), each carrying the comment and blank lines above it. The new data is laid out in
canonical blocks (`toml_format.blocks`). Old blocks and entries whose values did not change keep
their exact text; changed values are re-rendered in place; new ones go where the canonical order
puts them; removed ones disappear. If the result would not read back as the new data (a layout
this editor does not follow, such as dotted keys or inline tables), the canonical text is used.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cloud_config.model import toml_format, toml_plain
from cloud_config.model.toml_format import Block

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-]+)\s*\]\]?\s*(#.*)?$")

# Elements of these arrays of tables keep their identity through an edit by this key.
IDENTITY_KEYS: dict[tuple[str, ...], str] = {("node_network_address_list",): "domain", ("member",): "name"}


@dataclass
class _RawEntry:
    """One `key = value` of the old text: its key, parsed value and lines (trivia above included)."""

    key: str
    value: Any
    lines: list[str]


@dataclass
class _RawBlock:
    """One table of the old text (the root, or a header) and its entries."""

    path: tuple[str, ...]
    array: bool
    lines: list[str]  # trivia above the header, then the header ([] for the root)
    entries: list[_RawEntry] = field(default_factory=list)

    def values(self) -> dict[str, Any]:
        return {e.key: e.value for e in self.entries}


def _value_end(lines: list[str], i: int) -> int:
    """Index after the last line of the `key = value` starting at line i."""
    value = lines[i].split("=", 1)[1].lstrip() if "=" in lines[i] else ""
    for quote in ('"""', "'''"):
        if value.startswith(quote):
            if value.count(quote) >= 2:
                return i + 1
            end = i + 1
            while end < len(lines) and quote not in lines[end]:
                end += 1
            return end + 1
    if not value.startswith(("[", "{")):
        return i + 1
    return _bracket_end(lines, i)


def _bracket_end(lines: list[str], i: int) -> int:
    """Index after the line where the array or inline table opened on line i closes.

    One lexical pass that skips strings, escapes and comments; `_parse` then parses each block
    once, which refuses a wrong cut (and the caller falls back to the canonical layout)."""
    depth = 0
    quote = ""  # the string being read: a quote character or a triple quote
    for end in range(i, len(lines)):
        line = lines[end]
        pos = line.index("=") + 1 if end == i else 0
        if len(quote) == 1:
            raise tomllib.TOMLDecodeError("a one-line string runs past its line")
        while pos < len(line):
            if quote:
                pos, quote = _in_string(line, pos, quote)
                continue
            ch = line[pos]
            if ch == "#":
                break
            if ch in "\"'":
                quote = line[pos : pos + 3] if line.startswith(ch * 3, pos) else ch
                pos += len(quote)
                continue
            depth += (ch in "[{") - (ch in "]}")
            if depth == 0 and ch in "]}":
                return end + 1
            pos += 1
    raise tomllib.TOMLDecodeError("an array or inline table is not closed")


def _in_string(line: str, pos: int, quote: str) -> tuple[int, str]:
    """One step inside a string opened by `quote`: the next position, and the quote still open.

    The step goes straight to the next quote character (or backslash, in a basic string): the
    characters between can neither close the string nor escape."""
    stop = line.find(quote[0], pos)
    if quote[0] == '"':
        escape = line.find("\\", pos)
        if escape >= 0 and (stop < 0 or escape < stop):
            return escape + 2, quote  # an escape (basic strings only)
    if stop < 0:
        return len(line), quote
    if line.startswith(quote, stop):
        return stop + len(quote), ""
    return stop + 1, quote


def _parse(text: str) -> tuple[list[_RawBlock], list[str]]:
    """Old text as raw blocks plus the trailing trivia of the document."""
    lines = text.splitlines()
    out = [_RawBlock((), False, [])]
    spans: list[list[tuple[int, int]]] = [[]]
    pending: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _is_trivia(line):
            pending.append(line)
            i += 1
            continue
        header = _HEADER.match(line)
        if header:
            out.append(
                _RawBlock(tuple(header.group(2).split(".")), header.group(1) == "[[", [*pending, line])
            )
            spans.append([])
            pending = []
            i += 1
            continue
        end = _value_end(lines, i)
        out[-1].entries.append(_RawEntry("", None, [*pending, *lines[i:end]]))
        spans[-1].append((i, end))
        pending = []
        i = end
    for block, block_spans in zip(out, spans, strict=True):
        # One parse per block: the entries in order, each a single top-level key.
        parsed = _loads("\n".join("\n".join(lines[a:b]) for a, b in block_spans))
        if len(parsed) != len(block.entries):
            raise ValueError("dotted or repeated keys")
        for entry, (key, value) in zip(block.entries, parsed.items(), strict=True):
            entry.key, entry.value = key, value
    return out, pending


def _loads(text: str) -> dict[str, Any]:
    """tomllib.loads, through toml_plain's fast reading when the text is in the plain layout."""
    plain = toml_plain.loads(text)
    return tomllib.loads(text) if plain is None else plain


def same(a: Any, b: Any) -> bool:
    """Equal values of equal types (so `true` is not `1`)."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


_ANY = object()  # the bucket of blocks whose identity is not a string (or who have none)


def _bucket(path: tuple[str, ...], array: bool, values: Mapping[str, Any]) -> tuple[object, ...]:
    """Blocks that can pair: same table, and for an array element the same identity string.

    Two blocks in different buckets are never a match in `_match` (equal values mean an equal
    identity), so each new block looks only at its bucket: linear, not quadratic, in the node list."""
    ident = IDENTITY_KEYS.get(path) if array else None
    value = values.get(ident) if ident is not None else None
    return (path, array, value if isinstance(value, str) else _ANY)


def _match(old: list[_RawBlock], new: list[Block]) -> dict[int, int]:
    """new block index -> old block index, for blocks that are the same table."""
    pairs: dict[int, int] = {}
    used: set[int] = set()
    old_values = [ob.values() for ob in old]
    buckets: dict[tuple[object, ...], list[int]] = {}
    for o, ob in enumerate(old):
        buckets.setdefault(_bucket(ob.path, ob.array, old_values[o]), []).append(o)
    new_values = [nb.values() for nb in new]
    for strict in (True, False):
        for n, nb in enumerate(new):
            if n in pairs:
                continue
            ident = IDENTITY_KEYS.get(nb.path)
            for o in buckets.get(_bucket(nb.path, nb.array, new_values[n]), ()):
                if o in used:
                    continue
                if nb.array:
                    if strict:
                        hit = same(old_values[o], new_values[n])
                    else:
                        hit = ident is not None and same(old_values[o].get(ident), new_values[n].get(ident))
                else:
                    hit = True
                if hit:
                    pairs[n] = o
                    used.add(o)
                    break
    return pairs


def _interleave(kept: list[tuple[int, list[str]]], added: list[tuple[int, list[str]]]) -> list[str]:
    """The lines of `kept` chunks (new index, lines), in the old file's order, with each `added`
    chunk placed right after the chunk that precedes it in the new order."""
    order = [n for n, _ in kept]
    chunks = [lines for _, lines in kept]
    for n, lines in added:
        at = max((i + 1 for i, item in enumerate(order) if item < n), default=0)
        order.insert(at, n)
        chunks.insert(at, lines)
    return [ln for chunk in chunks for ln in chunk]


def _merge_entries(old: _RawBlock, new: Block) -> list[str]:
    old_by_key = {e.key: e for e in old.entries}
    old_pos = {e.key: i for i, e in enumerate(old.entries)}
    kept: list[tuple[int, list[str]]] = []
    added: list[tuple[int, list[str]]] = []
    for n, entry in enumerate(new.entries):
        prev = old_by_key.get(entry.key)
        if prev is None:
            added.append((n, entry.text.split("\n")))
        elif same(prev.value, entry.value):
            kept.append((n, prev.lines))
        else:
            kept.append((n, [*_leading_trivia(prev.lines), *entry.text.split("\n")]))
    kept.sort(key=lambda item: old_pos[new.entries[item[0]].key])
    return [*old.lines, *_interleave(kept, added)]


def _is_trivia(line: str) -> bool:
    """A blank or comment line: it belongs to the entry or header below it."""
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _leading_trivia(lines: list[str]) -> list[str]:
    lead = []
    for ln in lines:
        if not _is_trivia(ln):
            break
        lead.append(ln)
    return lead


def update(old_text: str | None, data: Mapping[str, Any]) -> str:
    """`old_text` rewritten to hold `data`, keeping comments and untouched formatting.

    With no old text (a file written fresh) the result is the canonical layout.
    """
    new_blocks = toml_format.blocks(data)
    if old_text is None:
        return toml_format.join_blocks(new_blocks)
    try:
        old_blocks, trailing = _parse(old_text)
    except (tomllib.TOMLDecodeError, ValueError):
        return toml_format.join_blocks(new_blocks)
    pairs = _match(old_blocks, new_blocks)
    kept = [
        (n, _merge_entries(old_blocks[o], new_blocks[n]))
        for n, o in sorted(pairs.items(), key=lambda p: p[1])
    ]
    added = [
        (
            n,
            [
                *([] if b.header is None else ["", b.header]),
                *(ln for e in b.entries for ln in e.text.split("\n")),
            ],
        )
        for n, b in enumerate(new_blocks)
        if n not in pairs
    ]
    lines = _interleave(kept, added)
    if not old_text.startswith(("\n", "\r")):
        while lines and not lines[0].strip():
            lines.pop(0)
    text = "\n".join([*lines, *trailing]) + "\n"
    try:
        if same(_loads(text), _plain(data)):
            return text
    except tomllib.TOMLDecodeError:
        pass
    return toml_format.join_blocks(new_blocks)


def _plain(value: Any) -> Any:
    """`value` as tomllib would read it back (tuples as lists, None values dropped)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
