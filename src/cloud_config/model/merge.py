"""Three-way merge of chain_config.toml / members.toml as data (what `merge-driver` runs).

Tables merge key by key; the node list, the services and the members are keyed sets (by domain,
image and name); validators, keys and domains are sets of strings. A side that changed something
the other side left alone wins; the same change on both sides is taken once; two different changes
to one value (a node moved two ways) are a conflict, named by its path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_ABSENT: Any = object()
# Arrays merged as keyed sets: the field that names an entry (or the entry itself).
_KEYED: dict[str, Callable[[Any], Any]] = {
    "node_network_address_list": lambda e: e.get("domain") if isinstance(e, dict) else e,
    "micro_service_list": lambda e: e.get("image") if isinstance(e, dict) else e,
    "member": lambda e: e.get("name") if isinstance(e, dict) else e,
    "validators": lambda e: e.lower().removeprefix("0x") if isinstance(e, str) else e,
    "ssh_keys": lambda e: " ".join(e.split()[:2]) if isinstance(e, str) else e,
    "pipeline_keys": lambda e: " ".join(e.split()[:2]) if isinstance(e, str) else e,
    "domains": lambda e: e,
}


def merge3(
    base: dict[str, Any], ours: dict[str, Any], theirs: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """(merged data, paths that conflict) of two edits of one parsed TOML document."""
    conflicts: list[str] = []
    merged = _merge(base, ours, theirs, "", "", conflicts)
    return merged, conflicts


def _merge(base: Any, ours: Any, theirs: Any, path: str, name: str, conflicts: list[str]) -> Any:
    if ours == theirs:
        return ours
    if ours == base:
        return theirs
    if theirs == base:
        return ours
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return _merge_tables(base if isinstance(base, dict) else {}, ours, theirs, path, conflicts)
    key = _KEYED.get(name)
    if key is not None and all(isinstance(v, list) for v in (ours, theirs)):
        return _merge_keyed(base if isinstance(base, list) else [], ours, theirs, key, path, name, conflicts)
    conflicts.append(path or "(the whole file)")
    return ours


def _merge_tables(
    base: dict[str, Any], ours: dict[str, Any], theirs: dict[str, Any], path: str, conflicts: list[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in [
        *ours,
        *(k for k in theirs if k not in ours),
        *(k for k in base if k not in ours and k not in theirs),
    ]:
        value = _merge(
            base.get(k, _ABSENT), ours.get(k, _ABSENT), theirs.get(k, _ABSENT), _join(path, k), k, conflicts
        )
        if value is not _ABSENT:
            out[k] = value
    return out


def _merge_keyed(
    base: list[Any],
    ours: list[Any],
    theirs: list[Any],
    key: Callable[[Any], Any],
    path: str,
    name: str,
    conflicts: list[str],
) -> list[Any]:
    by = [{key(e): e for e in side} for side in (base, ours, theirs)]
    order = [key(e) for e in ours] + [key(e) for e in theirs if key(e) not in by[1]]
    out = []
    for k in dict.fromkeys(order):
        value = _merge(
            by[0].get(k, _ABSENT),
            by[1].get(k, _ABSENT),
            by[2].get(k, _ABSENT),
            f"{path}[{k}]",
            name + "[]",
            conflicts,
        )
        if value is not _ABSENT:
            out.append(value)
    return out


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
