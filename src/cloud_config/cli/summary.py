"""The one line an edit prints to say what it changed (`set-admin: admin = ...; stage Init -> Public`).

Cheap on purpose (it runs after every edit, so it imports nothing new): settings are compared as
flat `section.key` values of `ChainConfig.to_dict()`; `diff` (gate.change_summary) is the full story.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cloud_config.model.chain import ChainConfig

# Longer lists of validators are counted, not listed.
_LISTED = 3


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        elif key not in ("validators", "node_network_address_list", "stage"):
            out[f"{prefix}{key}"] = value
    return out


def _listed(sign: str, items: list[str], what: str) -> list[str]:
    if len(items) > _LISTED:
        return [f"{what}s {sign}{len(items)}"]
    return [f"{what} {sign} {item}" for item in items]


def chain_words(before: ChainConfig, after: ChainConfig) -> str:
    """What changed between two chain configurations, in one line ('no change' when nothing did)."""
    old, new = _flat(before.to_dict()), _flat(after.to_dict())
    words = [f"{key.rsplit('.', 1)[-1]} = {new.get(key)}" for key in new if old.get(key) != new.get(key)]
    if before.micro_service_list != after.micro_service_list and not words:
        words.append("micro_service_list changed")
    was = [v.lower() for v in before.system_config.validators]
    now = [v.lower() for v in after.system_config.validators]
    words += _listed("+", [v for v in now if v not in was], "validator")
    words += _listed("-", [v for v in was if v not in now], "validator")
    nodes_was = {n.domain: str(n) for n in before.node_network_address_list}
    nodes_now = {n.domain: str(n) for n in after.node_network_address_list}
    words += _listed("+", [t for d, t in nodes_now.items() if d not in nodes_was], "node")
    words += _listed("-", [d for d in nodes_was if d not in nodes_now], "node")
    words += [f"node {nodes_was[d]} -> {t}" for d, t in nodes_now.items() if nodes_was.get(d, t) != t]
    if before.stage is not after.stage:
        words.append(f"stage {before.stage.value} -> {after.stage.value}")
    return "; ".join(words) or "no change"
