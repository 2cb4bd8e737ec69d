"""Typed reading of parsed TOML, with errors that name the file and the dotted field."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar

from cloud_config.errors import ConfigError
from cloud_config.model import toml_plain

T = TypeVar("T")
U32_MAX = 2**32 - 1
U64_MAX = 2**63 - 1  # TOML integers stop at i64
# Bounds checked before a TOML file is parsed (docs/verify.md): hostile files fail with one line.
MAX_TOML_BYTES = 4 * 1024 * 1024
MAX_TOML_DEPTH = 32
MAX_KEY_PARTS = 32
# Comments, strings (multi-line first) and the brackets that nest; strings hide their brackets.
_LEXEME = re.compile(
    "|".join(
        (
            r"#[^\n]*",  # a comment
            r'"""(?:[^\\]|\\.)*?"""{1,3}',  # a multi-line basic string (may end in up to 5 quotes)
            r"'''.*?'''{1,3}",  # a multi-line literal string
            r'"(?:[^"\\\n]|\\.)*"',  # a basic string
            r"'[^'\n]*'",  # a literal string
            r"[\[\]{}]",  # what nests
            rf"(?:\.[ \t]*[A-Za-z0-9_-]+[ \t]*){{{MAX_KEY_PARTS},}}",  # a too-long dotted key
        )
    ),
    re.S,
)


class UnknownFieldError(ConfigError):
    """A key or table the model does not know (the schema is closed)."""


def decode_toml(data: bytes, source: str) -> str:
    """The text of a TOML file's bytes, or a ConfigError naming `source` (size, encoding)."""
    if len(data) > MAX_TOML_BYTES:
        raise ConfigError(source, None, f"is {len(data)} bytes, more than the {MAX_TOML_BYTES} allowed")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(source, None, f"is not UTF-8 text (byte {exc.start})") from None


def parse_toml(text: str, source: str) -> dict[str, Any]:
    """Parsed TOML, or a ConfigError naming `source` and the reason.

    Size, byte-order mark, line endings and nesting depth are checked before tomllib runs, so a
    hostile file is one clear error instead of a RecursionError. A text in the layout the tools
    write is read by `toml_plain` (same result, five times faster).
    """
    if len(text) > MAX_TOML_BYTES:
        raise ConfigError(source, None, f"is {len(text)} characters, more than the {MAX_TOML_BYTES} allowed")
    if text.startswith("\ufeff"):
        raise ConfigError(source, None, "starts with a byte-order mark (BOM); save it as UTF-8 without BOM")
    if "\r" in text:
        line = text.count("\n", 0, text.index("\r")) + 1
        raise ConfigError(
            source, None, f"line {line}: has a carriage return (CRLF); save it with LF line ends"
        )
    plain = toml_plain.loads(text)  # the layout the tools write, read fast (nests 2 deep at most)
    if plain is not None:
        return plain
    depth = _nesting_problem(text)
    if depth:
        raise ConfigError(source, None, depth)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, None, f"not valid TOML: {exc}") from None


def _nesting_problem(text: str) -> str | None:
    """Why `text` nests too deep (arrays, inline tables, dotted keys), or None."""
    depth = 0
    for match in _LEXEME.finditer(text):
        lexeme = match.group()
        if lexeme in ("[", "{"):
            depth += 1
            if depth > MAX_TOML_DEPTH:
                line = text.count("\n", 0, match.start()) + 1
                return f"line {line}: nested more than {MAX_TOML_DEPTH} levels deep"
        elif lexeme in ("]", "}"):
            depth = max(0, depth - 1)
        elif lexeme[0] not in "#\"'":
            line = text.count("\n", 0, match.start()) + 1
            return f"line {line}: a dotted key of more than {MAX_KEY_PARTS} parts"
    return None


class Reader:
    """Reads fields of one TOML document, raising ConfigError(source, field, reason)."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, field: str, reason: str) -> ConfigError:
        """An error about `field` of this document."""
        return ConfigError(self.source, field, reason)

    def known(self, table: Mapping[str, Any], keys: Iterable[str], path: str = "") -> None:
        """Refuse a key of `table` that is not one of `keys` (the schema is closed)."""
        allowed = set(keys)
        for key in table:
            if key not in allowed:
                field = f"{path}.{key}" if path else key
                raise UnknownFieldError(
                    self.source, field, f"unknown field (known here: {', '.join(sorted(allowed))})"
                )

    def _get(self, table: Mapping[str, Any], key: str, path: str, default: Any) -> Any:
        if key in table:
            return table[key]
        if default is _REQUIRED:
            raise self.fail(path, "is missing")
        return default

    def table(self, table: Mapping[str, Any], key: str, path: str, required: bool = False) -> Any:
        """A sub-table; a missing optional one reads as empty."""
        value = self._get(table, key, path, _REQUIRED if required else {})
        if not isinstance(value, Mapping):
            raise self.fail(path, f"must be a table, got {type(value).__name__}")
        return value

    def string(self, table: Mapping[str, Any], key: str, path: str, default: Any = None) -> str:
        """A string field; `default=None` makes it required."""
        value = self._get(table, key, path, _REQUIRED if default is None else default)
        if not isinstance(value, str):
            raise self.fail(path, f"must be a string, got {_kind(value)}")
        return value

    def integer(
        self,
        table: Mapping[str, Any],
        key: str,
        path: str,
        default: int | None = None,
        low: int = 0,
        high: int = U64_MAX,
    ) -> int:
        """An integer field within [low, high]; `default=None` makes it required."""
        value = self._get(table, key, path, _REQUIRED if default is None else default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"must be an integer, got {_kind(value)}")
        if not low <= value <= high:
            raise self.fail(path, f"must be {low}-{high}, got {value}")
        return value

    def boolean(self, table: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
        """A boolean field."""
        value = self._get(table, key, path, default)
        if not isinstance(value, bool):
            raise self.fail(path, f"must be true or false, got {_kind(value)}")
        return value

    def array(self, table: Mapping[str, Any], key: str, path: str, default: Any = None) -> list[Any]:
        """An array field; `default=None` makes it required."""
        value = self._get(table, key, path, _REQUIRED if default is None else default)
        if not isinstance(value, list):
            raise self.fail(path, f"must be an array, got {_kind(value)}")
        return value

    def tables(
        self, table: Mapping[str, Any], key: str, path: str, default: Any = None
    ) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """(dotted path, entry) for each table of an array of tables; `default=None` makes it required."""
        for i, entry in enumerate(self.array(table, key, path, default)):
            if not isinstance(entry, Mapping):
                raise self.fail(f"{path}[{i}]", "must be a table")
            yield f"{path}[{i}]", entry

    def strings(self, table: Mapping[str, Any], key: str, path: str) -> list[str]:
        """A required array of strings."""
        items = self.array(table, key, path)
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise self.fail(f"{path}[{i}]", f"must be a string, got {_kind(item)}")
        return items


class _Required:
    pass


_REQUIRED = _Required()


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, int):
        return f"integer {value}"
    return type(value).__name__
