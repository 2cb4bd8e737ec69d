"""Rule on the chain's service images: each tag carries a digest (`image-unpinned`).

A tag such as `latest` or `v6.7.4` is a name the registry can move: a push to it changes every
member's running code with no change to the chain repo, so no gate ever sees it. A tag pinned as
`v6.7.4@sha256:...` cannot move. By default a warning on the images the change sets (so an old
chain is told once, when someone touches its images, not on every PR); with `verify
--require-digests` an error on every unpinned image of head.
"""

from __future__ import annotations

from collections.abc import Iterator

from cloud_config.gate.change_summary import Snapshot
from cloud_config.gate.findings import ERROR, WARNING, Finding
from cloud_config.model.paths import CHAIN_CONFIG


def unpinned_findings(base: Snapshot, head: Snapshot, require_digests: bool) -> Iterator[Finding]:
    """One finding per unpinned service image of head (all of them with `require_digests`, else
    those the change adds or edits)."""
    if head.chain is None:
        return
    severity = ERROR if require_digests else WARNING
    listed = base.chain.micro_service_list if base.chain is not None else []
    before = {(m.image, m.tag) for m in listed}
    for i, service in enumerate(head.chain.micro_service_list):
        if not service.pinned and (require_digests or (service.image, service.tag) not in before):
            yield Finding(
                "image-unpinned", severity, CHAIN_CONFIG,
                f"{service.image}:{service.tag} has no digest; a registry push to the tag changes what "
                f"every node runs: pin it as {service.tag}@sha256:<digest> "
                "(init-chain-config --<slot>_tag)", f"micro_service_list[{i}].tag",
            )  # fmt: skip
