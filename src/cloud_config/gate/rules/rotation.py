"""CA rotation: the three phases of `rotate-ca`, the only ways the CA may change once it has issued.

The phase is read from `ca_cert/cert.pem` on both sides (crypto.pki.split_bundle):
* begin: one CA -> two, the old one kept byte for byte first, a new one (another subject, another
  key) last; no node certificate changes in the same PR (a node serving a new certificate before
  every node trusts the new CA would be refused by the ones that do not yet);
* reissue: the bundle of two unchanged; every certificate the PR adds or changes is the newer CA's;
* finish: two -> one, the newer kept, no node certificate changing, every one already the newer's.
`ca_change_problem` tells certs.py's `ca-changed` rule whether a CA change is one of these;
`rotation_findings` judges the certificates a PR changes during a rotation (`ca-rotation`).
"""

from __future__ import annotations

from collections.abc import Iterator

from cloud_config.gate.change_summary import Snapshot, node_file
from cloud_config.gate.findings import ERROR, Finding
from cloud_config.model.paths import CA_CERT

BEGIN, REISSUE, FINISH = "begin", "reissue", "finish"


def _cas(snapshot: Snapshot) -> list[str]:
    from cloud_config.crypto import pki

    return pki.split_bundle(snapshot.text(CA_CERT) or "")


def _der(pem: str) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    return x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)


def _changed_certs(base: Snapshot, head: Snapshot) -> list[str]:
    paths = {p for p in (*base.tree, *head.tree) if (node_file(p) or ("", ""))[1] == "cert"}
    return sorted(p for p in paths if base.tree.get(p) != head.tree.get(p) and p in head.tree)


def phase(base: Snapshot, head: Snapshot) -> str | None:
    """Which phase base..head is, by the CA file alone, or None."""
    before, after = _cas(base), _cas(head)
    try:
        if len(before) == 1 and len(after) == 2 and _der(after[0]) == _der(before[0]):
            return BEGIN
        if len(before) == 2 and len(after) == 1 and _der(after[0]) == _der(before[1]):
            return FINISH
        if len(before) == 2 and [_der(c) for c in before] == [_der(c) for c in after]:
            return REISSUE
    except ValueError:
        return None
    return None


def ca_change_problem(base: Snapshot, head: Snapshot) -> str | None:
    """None when the CA change base..head is a valid begin or finish; else why it is not one."""
    from cloud_config.crypto import pki

    found = phase(base, head)
    after = _cas(head)
    if found == BEGIN:
        old, new = after
        if _subject(old) == _subject(new):
            return "the new CA has the old CA's subject: a verifier could not tell them apart"
        if pki.public_key_matches(old, new):
            return "the new CA reuses the old CA's key (and so its key identifier)"
        if pki.ca_generation(new) <= pki.ca_generation(old):
            return "the new CA (appended last) must be of a later generation (CN=CA-<n>)"
        changed = _changed_certs(base, head)
        if changed:
            return (
                f"rotate-ca --begin changes only {CA_CERT}, but {len(changed)} node certificate(s) "
                "change too: reissue in the next PR, once every node trusts the new CA"
            )
        return None
    if found == FINISH:
        changed = _changed_certs(base, head)
        if changed:
            count = len(changed)
            return f"rotate-ca --finish changes only {CA_CERT}, but {count} node certificate(s) change too"
        stale = [p for p in head.tree if (node_file(p) or ("", ""))[1] == "cert"]
        stale = [p for p in stale if not pki.issued_by(head.text(p) or "", after[0])]
        if stale:
            return (
                f"the old CA is removed while {len(stale)} node certificate(s) are still its "
                "(rotate-ca --reissue first)"
            )
        return None
    return "it is not a phase of rotate-ca (begin: one CA -> old + new; finish: old + new -> new)"


def rotation_findings(base: Snapshot, head: Snapshot) -> Iterator[Finding]:
    """During a rotation (two CAs on both sides), every certificate a PR adds or changes is the newer CA's."""
    from cloud_config.crypto import pki

    if phase(base, head) != REISSUE:
        return
    newer = _cas(head)[1]
    for path in _changed_certs(base, head):
        if not pki.issued_by(head.text(path) or "", newer):
            yield Finding(
                "ca-rotation", ERROR, path,
                "is not issued by the newer CA while a rotation is under way (rotate-ca --reissue signs it)",
            )  # fmt: skip


def _subject(pem: str) -> bytes:
    from cryptography import x509

    return x509.load_pem_x509_certificate(pem.encode()).subject.public_bytes()
