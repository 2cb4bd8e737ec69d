"""Rules on chain_config.toml: schema, duplicates, stage, the genesis freeze, consensus safety."""

from __future__ import annotations

from collections.abc import Iterator

from cloud_config.gate.change_summary import Snapshot, node_file
from cloud_config.gate.findings import ERROR, WARNING, Finding
from cloud_config.model.chain import OVERLORD, ChainConfig
from cloud_config.model.paths import CHAIN_CONFIG
from cloud_config.model.stage import Stage

MIN_OVERLORD_VALIDATORS = 4


def schema_findings(head: Snapshot, chain_name: str) -> Iterator[Finding]:
    """The head loads, and the model finds nothing wrong with it (formats, duplicates)."""
    if head.chain is None:
        reason = head.chain_error or "is missing"
        rule = "unknown-field" if head.chain_unknown else "schema"
        yield Finding(rule, ERROR, CHAIN_CONFIG, _after_source(reason))
        return
    for field, reason in head.chain.problems(chain_name):
        yield Finding(_problem_rule(field, reason), ERROR, CHAIN_CONFIG, reason, field)


def _after_source(message: str) -> str:
    """A ConfigError's text without its leading `chain_config.toml: `."""
    prefix = f"{CHAIN_CONFIG}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def _problem_rule(field: str, reason: str) -> str:
    """The rule id of one (field, reason) from ChainConfig.problems."""
    if field.endswith(".domain") and reason.startswith("duplicate domain"):
        return "duplicate-domain"
    if field.endswith(".port") and " is already used by " in reason:
        return "duplicate-endpoint"
    if field.startswith("system_config.validators[") and reason.startswith("duplicate of"):
        return "duplicate-validator"
    return "schema"


def stage_findings(base: ChainConfig, head: ChainConfig) -> Iterator[Finding]:
    """The stage moves forward only; after Finalize the genesis and the validators are frozen."""
    if head.stage.rank < base.stage.rank:
        yield Finding(
            "stage-backwards", ERROR, CHAIN_CONFIG,
            f"stage moves back from {base.stage.value} to {head.stage.value}; "
            "nodes already started from the later stage", "stage",
        )  # fmt: skip
    if base.stage is not Stage.FINALIZE:
        return
    for section in ("genesis_block", "system_config"):
        before, after = base.to_dict()[section], head.to_dict()[section]
        for key in sorted(before):
            if key == "validators" or before[key] == after[key]:
                continue
            yield Finding(
                "genesis-frozen", ERROR, CHAIN_CONFIG,
                f"changed after Finalize ({before[key]!r} -> {after[key]!r}): a node started "
                "from another genesis cannot join the chain", f"{section}.{key}",
            )  # fmt: skip
    old = [v.lower() for v in base.system_config.validators]
    new = [v.lower() for v in head.system_config.validators]
    if old != new:
        added = len([v for v in new if v not in old])
        removed = len([v for v in old if v not in new])
        yield Finding(
            "validators-frozen", ERROR, CHAIN_CONFIG,
            f"validators changed after Finalize ({added} added, {removed} removed): they are "
            "part of the genesis every node starts from", "system_config.validators",
        )  # fmt: skip


def consensus_findings(base: ChainConfig | None, head: ChainConfig) -> Iterator[Finding]:
    """No change removes a third or more of the validators; overlord wants at least 4."""
    field = "system_config.validators"
    new = {v.lower() for v in head.system_config.validators}
    if base is not None:
        old = {v.lower() for v in base.system_config.validators}
        gone = len(old - new)
        if gone and gone * 3 >= len(old):
            yield Finding(
                "validators-removed", ERROR, CHAIN_CONFIG,
                f"removes {gone} of {len(old)} validators at once; the remaining ones may not "
                "reach consensus (remove fewer than a third per change)", field,
            )  # fmt: skip
    count = len(new)
    if head.stage is Stage.FINALIZE and count == 0:
        yield Finding("validators-few", ERROR, CHAIN_CONFIG, "Finalize with no validator", field)
    elif head.consensus == OVERLORD and 0 < count < MIN_OVERLORD_VALIDATORS:
        yield Finding(
            "validators-few", WARNING, CHAIN_CONFIG,
            f"{count} validator(s) on an overlord chain: it stops if one fails "
            f"(tolerating a fault needs at least {MIN_OVERLORD_VALIDATORS})", field,
        )  # fmt: skip


def departed_findings(base: Snapshot, head: Snapshot) -> Iterator[Finding]:
    """A certificate whose node is not (or no longer) in the node list is an error: every node
    still trusts it (the CA signed it), so a departed member could still present it."""
    if head.chain is None:
        return
    listed = {n.domain for n in head.chain.node_network_address_list}
    before = {n.domain for n in base.chain.node_network_address_list} if base.chain else set()
    for path in sorted(head.tree):
        parsed = node_file(path)
        if not parsed or parsed[1] != "cert" or parsed[0] in listed:
            continue
        why = "was removed from the node list" if parsed[0] in before else "is not in the node list"
        yield Finding(
            "departed-cert", ERROR, path,
            f"node {parsed[0]!r} {why} but its certificate is still valid; delete "
            f"certs/{parsed[0]}/ so a departed member is not trusted",
        )  # fmt: skip
