"""member leave: one departure, prepared in the chain folder as one PR.

The member's nodes leave the node list (flows.delete: folders, certificates, and before Finalize
their validators), any CSR or certificate of its domains left without a node goes too, its other
validators leave `system_config.validators` while the stage allows it, and the member leaves
members.toml (model.members.remove_member). After Finalize the genesis stays as it is and the
result names the on-chain step per validator.
"""

from __future__ import annotations

import shutil

from cloud_config.app import flows
from cloud_config.errors import NotFoundError
from cloud_config.model.members import normalize_validator, remove_member
from cloud_config.model.paths import ChainLayout
from cloud_config.model.stage import Stage
from cloud_config.store import chain_files
from cloud_config.store.members_file import editing_members, read_members


def leave(layout: ChainLayout, name: str, progress: flows.Progress | None = None) -> flows.FlowResult:
    """Everything the departure of member `name` needs, in the chain folder."""
    member = read_members(layout).get(name)
    if member is None:
        remove_member(read_members(layout), name)  # raises the one NotFoundError with the member list
        raise NotFoundError(f"--name: no member {name!r}")
    result = flows.FlowResult()
    listed = {n.domain for n in chain_files.read_chain(layout).node_network_address_list}
    leaving = {normalize_validator(v) for v in member.validators}
    for domain in member.domains:
        if domain in listed:
            validator = flows.node_validator(layout, domain)
            leaving |= {validator} if validator else set()
            result.warnings.extend(flows.delete(layout, domain, progress).warnings)
        shutil.rmtree(layout.cert_dir(domain), ignore_errors=True)
    with chain_files.editing(layout) as config:
        validators = config.system_config.validators
        mine = [v for v in validators if normalize_validator(v) in leaving]
        rest = [v for v in validators if normalize_validator(v) not in leaving]
        if config.stage is not Stage.FINALIZE:
            config.system_config.validators = rest
        else:
            result.next_steps.extend(
                f"{name}'s validator {v} stays in system_config.validators (the genesis is frozen after "
                "Finalize); to take it out of consensus the admin sends, on chain: "
                f"cldi admin update-validators {' '.join(rest)}"
                for v in mine
            )
    with editing_members(layout) as members:
        remove_member(members, name)
    return result
