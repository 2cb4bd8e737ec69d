"""Kubernetes objects to YAML in cloud-config's form (reference §6.2).

`apiVersion` and `kind` first, every other key in alphabetical order, block style, sequences not
indented under their key, multi-line strings as literal blocks. PyYAML resolves YAML 1.1, so words
such as `yes` and `on` come out quoted and go-yaml tools cannot misread them as booleans.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

_FIRST = ("apiVersion", "kind")

try:
    _Base: type[yaml.SafeDumper] = yaml.CSafeDumper  # type: ignore[assignment]
except AttributeError:  # PyYAML built without libyaml
    _Base = yaml.SafeDumper


class _Dumper(_Base):  # type: ignore[valid-type,misc]
    """SafeDumper with literal blocks for multi-line strings."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def ordered(value: Any) -> Any:
    """`value` with every mapping's keys in output order (apiVersion, kind, then alphabetical)."""
    if isinstance(value, Mapping):
        keys = [k for k in _FIRST if k in value] + sorted(k for k in value if k not in _FIRST)
        return {k: ordered(value[k]) for k in keys}
    if isinstance(value, list | tuple):
        return [ordered(v) for v in value]
    return value


def dump(obj: Mapping[str, Any]) -> str:
    """One object as a YAML document."""
    text: str = yaml.dump(
        ordered(obj),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=2**31 - 1,
    )
    return text
