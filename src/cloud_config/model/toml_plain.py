"""A fast reader for TOML in the plain layout the tools write (`toml_format`), in front of tomllib.

tomllib reads a character at a time: a 1000-node chain_config.toml takes it about 35 ms, a quarter
of an `update-node`. Files the tools write use only a small part of TOML, which this module reads a
line at a time, about five times faster. It returns None for any text outside that part (the caller
then uses tomllib, whose result and errors are unchanged); for every text it reads, it returns what
`tomllib.loads` returns (tests/model/test_toml_plain.py compares them).

The part it reads, every line being one of:
* empty;
* `[name]` or `[[name]]`, a bare key (each table defined once, no name used twice in other forms);
* `name = value` (one space on each side), a bare key defined once in its table;
* inside an array opened by `name = [`: `value,` (any indentation), then `]`.
A value is a basic string with no escape, quote or control character, a decimal integer of at most
18 digits, `true`, `false`, `[]`, or `[value]`.
No comments, inline tables, dotted keys, literal or multi-line strings, floats or dates.
"""

from __future__ import annotations

import re
from typing import Any

_KEY = re.compile(r"[A-Za-z0-9_-]+")
_STRING = re.compile(r'"[^"\\\x00-\x1f\x7f]*"')
_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
_ITEM = re.compile(r"[ \t]*(.*?),[ \t]*")
# `key = value`, with the two common values (a plain string, a small integer) read by the match.
_ENTRY = re.compile(r'([A-Za-z0-9_-]+) = (?:"([^"\\\x00-\x1f\x7f]*)"|(-?(?:0|[1-9][0-9]{0,17}))|(.+))')
_NO = object()  # not a value of the plain layout


def _value(text: str) -> Any:
    """The value `text` holds, or _NO."""
    first = text[:1]
    if first == '"':
        return text[1:-1] if _STRING.fullmatch(text) else _NO
    if first == "[":
        if text == "[]":
            return []
        inner = text[1:-1]
        if not text.endswith("]") or inner[:1] == "[":  # an array in an array (however deep): not plain
            return _NO
        item = _value(inner)
        return _NO if item is _NO else [item]
    if text == "true":
        return True
    if text == "false":
        return False
    return int(text) if _INTEGER.fullmatch(text) else _NO


def _table(root: dict[str, Any], arrays: set[str], line: str) -> dict[str, Any] | None:
    """The table a header line opens (a new element for `[[name]]`), or None when it is outside
    the plain layout or defines a name again."""
    array = line.startswith("[[")
    name = line[2:-2] if array else line[1:-1]
    if not line.endswith("]]" if array else "]") or not _KEY.fullmatch(name):
        return None
    table: dict[str, Any] = {}
    if not array:
        if name in root:
            return None
        root[name] = table
    elif name not in root:
        root[name] = [table]
        arrays.add(name)
    elif name in arrays:
        root[name].append(table)
    else:
        return None
    return table


def _items(lines: list[str], i: int) -> tuple[list[Any], int] | None:
    """The items of an array whose lines start at `i`, and the index after its `]`; or None."""
    items: list[Any] = []
    while i < len(lines) and lines[i] != "]":
        item = _ITEM.fullmatch(lines[i])
        value = _NO if item is None else _value(item.group(1))
        if value is _NO or isinstance(value, list):
            return None
        items.append(value)
        i += 1
    return None if i == len(lines) else (items, i + 1)


def loads(text: str) -> dict[str, Any] | None:
    """`tomllib.loads(text)` for a text in the plain layout; None for any other text."""
    root: dict[str, Any] = {}
    table = root
    arrays: set[str] = set()  # names defined by [[name]]
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        if line[0] == "[":
            opened = _table(root, arrays, line)
            if opened is None:
                return None
            table = opened
            continue
        entry = _ENTRY.fullmatch(line)
        if entry is None:
            return None
        key, string, integer, rest = entry.groups()
        if key in table:
            return None
        if string is not None:
            table[key] = string
        elif integer is not None:
            table[key] = int(integer)
        elif rest == "[":
            found = _items(lines, i)
            if found is None:
                return None
            table[key], i = found
        else:
            value = _value(rest)
            if value is _NO:
                return None
            table[key] = value
    return root
