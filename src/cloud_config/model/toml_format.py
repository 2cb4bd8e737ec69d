"""Canonical TOML output, byte-for-byte the layout cloud-config 6.7.4 writes (toml 0.8 `to_string_pretty`).

Rules: keys sorted; in each table plain values first, then arrays of tables, then sub-tables; a
table with no plain values prints no header; every header but a leading one follows one empty line;
arrays of two or more items go one item a line, indented four spaces, with a trailing comma;
strings holding a newline become multi-line strings. The file ends with an extra empty line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Table = Mapping[str, Any]

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


@dataclass(slots=True)
class Entry:
    """One `key = value` of a block, with the value it renders."""

    key: str
    value: Any
    text: str


@dataclass
class Block:
    """A table header (none for the root) and its plain values, in output order."""

    path: tuple[str, ...]
    array: bool
    entries: list[Entry] = field(default_factory=list)

    @property
    def header(self) -> str | None:
        """The header line, or None for the root."""
        if not self.path:
            return None
        name = ".".join(self.path)
        return f"[[{name}]]" if self.array else f"[{name}]"

    def values(self) -> dict[str, Any]:
        """The plain values of this block."""
        return {e.key: e.value for e in self.entries}


_SCALARS = frozenset({str, int, bool})


def _is_mapping(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)  # the exact type first: ABC checks are slow


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list | tuple) and len(value) > 0 and all(_is_mapping(v) for v in value)


# Text with nothing to escape in either form (the common case: names, hex, ports) skips the loop.
_NOTHING_TO_ESCAPE = re.compile(r'[^"\\\x00-\x1f\x7f]*')


def _escape(text: str, multiline: bool) -> str:
    if _NOTHING_TO_ESCAPE.fullmatch(text):
        return text
    out = []
    for ch in text:
        if multiline and ch in '\n"':
            out.append(ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return "".join(out)


def _literal_ok(text: str, quote: str) -> bool:
    return quote not in text and all(ch in "\n\t" or (ord(ch) >= 0x20 and ch != "\x7f") for ch in text)


def render_string(text: str) -> str:
    """A string as toml 0.8 writes it: literal when it holds a backslash or quote, else basic."""
    if _NOTHING_TO_ESCAPE.fullmatch(text):
        return f'"{text}"'  # no newline, quote or backslash: the basic form as it is
    if "\n" in text:
        if ("\\" in text or '"' in text) and _literal_ok(text, "'''"):
            return f"'''\n{text}'''"
        body = _escape(text, multiline=True).replace('"""', '""\\"')
        return f'"""\n{body}"""'
    if ("\\" in text or '"' in text) and _literal_ok(text, "'"):
        return f"'{text}'"
    return f'"{_escape(text, multiline=False)}"'


def render_value(value: Any) -> str:
    """One value in canonical layout (multi-line for arrays of two or more items)."""
    kind = type(value)
    if kind is str:
        return render_string(value)
    if kind is int:
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return render_string(value)
    if isinstance(value, Sequence):
        items = [render_value(v) for v in value]
        if len(items) < 2:
            return f"[{', '.join(items)}]"
        return "[\n" + "".join(f"    {item},\n" for item in items) + "]"
    if _is_mapping(value):
        inner = ", ".join(f"{k} = {render_value(v)}" for k, v in sorted(value.items()))
        return f"{{ {inner} }}" if inner else "{}"
    raise TypeError(f"cannot render {type(value).__name__} as TOML")


def blocks(data: Table) -> list[Block]:
    """The document as blocks, in output order (the root block first, always)."""
    out: list[Block] = []
    _collect((), data, False, out)
    return out


def _collect(path: tuple[str, ...], table: Table, array: bool, out: list[Block]) -> None:
    plain: list[Entry] = []
    arrays: list[tuple[str, Any]] = []
    tables: list[tuple[str, Table]] = []
    for key in sorted(table):
        value = table[key]
        if value is None:
            continue
        if type(value) in _SCALARS:
            plain.append(Entry(key, value, f"{key} = {render_value(value)}"))
        elif _is_mapping(value):
            tables.append((key, value))
        elif _is_table_array(value):
            arrays.append((key, value))
        else:
            plain.append(Entry(key, value, f"{key} = {render_value(value)}"))
    if not path or plain or array or not (arrays or tables):
        out.append(Block(path, array, plain))
    for key, value in arrays:
        inner = (*path, key)
        for element in value:
            _collect(inner, element, True, out)
    for key, value in tables:
        _collect((*path, key), value, False, out)


def join_blocks(parts: Sequence[Block]) -> str:
    """Blocks to text: headers after one empty line, the trailing empty line cloud-config adds."""
    lines: list[str] = []
    for block in parts:
        if block.header is not None:
            if lines:
                lines.append("")
            lines.append(block.header)
        lines.extend(e.text for e in block.entries)
    return "\n".join(lines) + "\n\n"


def dumps(data: Table) -> str:
    """`data` as cloud-config 6.7.4 writes a fresh TOML file."""
    return join_blocks(blocks(data))
