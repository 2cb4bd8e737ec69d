"""Departures: a member removed from members.toml leaves nothing behind that others would trust.

`member leave` prepares the whole departure; this rule judges the end state of any PR that
removes a member, however it was made: any of the member's domains still in the node list, any
CSR or certificate of them, or (before Finalize) any of its validators is `departure-incomplete`.
"""

from __future__ import annotations

from collections.abc import Iterator

from cloud_config.gate.change_summary import Snapshot, node_file
from cloud_config.gate.findings import ERROR, Finding
from cloud_config.model.members import normalize_validator
from cloud_config.model.paths import CHAIN_CONFIG, MEMBERS_FILE
from cloud_config.model.stage import Stage


def departure_findings(base: Snapshot, head: Snapshot) -> Iterator[Finding]:
    """One error per thing a removed member left behind."""
    if base.members is None or head.members is None or head.chain is None:
        return
    listed = {n.domain for n in head.chain.node_network_address_list}
    validators = {normalize_validator(v) for v in head.chain.system_config.validators}
    left_files: dict[str, list[str]] = {}
    for path in head.tree:
        parsed = node_file(path)
        if parsed:
            left_files.setdefault(parsed[0], []).append(path)
    for gone in (m for m in base.members.members if head.members.get(m.name) is None):
        hint = f"member {gone.name!r} leaves {MEMBERS_FILE} but"
        fix = f"(`cloud-config member leave --name {gone.name}` prepares the whole departure)"
        for domain in gone.domains:
            if domain in listed:
                yield Finding(
                    "departure-incomplete", ERROR, CHAIN_CONFIG,
                    f"{hint} its node {domain!r} is still in the node list {fix}",
                    "node_network_address_list",
                )  # fmt: skip
            for path in sorted(left_files.get(domain, [])):
                yield Finding(
                    "departure-incomplete", ERROR, path,
                    f"{hint} the {node_file(path)[1]} of its node {domain!r} remains {fix}",  # type: ignore[index]
                )  # fmt: skip
        if head.chain.stage is Stage.FINALIZE:
            continue  # the genesis is frozen: the validator leaves consensus on chain
        for validator in gone.validators:
            if normalize_validator(validator) in validators:
                yield Finding(
                    "departure-incomplete", ERROR, CHAIN_CONFIG,
                    f"{hint} its validator {validator} is still in system_config.validators {fix}",
                    "system_config.validators",
                )  # fmt: skip
