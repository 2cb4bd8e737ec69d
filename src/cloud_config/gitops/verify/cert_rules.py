"""Certificates: the CA stays put once used; each node certificate is the CA's, for its node."""

from __future__ import annotations

from collections.abc import Iterator

from cloud_config.gitops.change_summary import Snapshot
from cloud_config.gitops.verify.findings import Finding


def cert_findings(base: Snapshot, head: Snapshot, chain_name: str) -> Iterator[Finding]:
    """Filled in once crypto.pki lands on main."""
    del base, head, chain_name
    return iter(())
