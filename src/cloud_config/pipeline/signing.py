"""The pipeline's OpenPGP key (GnuPG): checking the signing key is there, reading a public key.

Argo CD and Flux verify only OpenPGP signatures on the commits they sync, so reconcile signs its
node commits with a GnuPG key (`--signing-key`, from the keyring of $GNUPGHOME) that lives with
the pipeline alone; `argocd-app --verify-key` names the matching public key.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from cloud_config.errors import CloudConfigError, UsageError

_HEX_ID = re.compile(r"^(?:0x)?([0-9A-Fa-f]{16}|[0-9A-Fa-f]{40})$")
_TIMEOUT = 30


def _gpg(*args: str, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["gpg", "--batch", "--with-colons", *args],
            input=data,
            capture_output=True,
            timeout=_TIMEOUT,
            check=False,
        )
    except OSError:
        raise CloudConfigError("gpg (GnuPG) is not installed; install Debian's gnupg package") from None


def check_signing_key(key_id: str) -> None:
    """The GnuPG keyring ($GNUPGHOME) holds a secret key `key_id` (else one clear error)."""
    proc = _gpg("--list-secret-keys", "--", key_id)
    if proc.returncode != 0 or b"\nsec:" not in b"\n" + proc.stdout:
        raise UsageError(
            "--signing-key",
            f"no secret key {key_id!r} in GnuPG's keyring (GNUPGHOME); import the pipeline's key there",
        )


def verify_key(value: str) -> tuple[str, str | None]:
    """`--verify-key`: a key id or fingerprint, or a public key file; (16-hex upper-case key id as
    Argo CD and gpg print it, the armored public key when a file was given)."""
    found = _HEX_ID.match(value)
    if found:
        return found.group(1)[-16:].upper(), None
    path = Path(value)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(
            "--verify-key", f"{value}: not a key id or fingerprint, and {exc.strerror}"
        ) from None
    proc = _gpg("--show-keys", data=data)
    fingerprints = [
        line.split(":")[9]
        for line in proc.stdout.decode(errors="replace").splitlines()
        if line.startswith("fpr:")
    ]
    if proc.returncode != 0 or not fingerprints or b"-----BEGIN PGP PUBLIC KEY BLOCK-----" not in data:
        raise UsageError(
            "--verify-key", f"{value}: not an ASCII-armored OpenPGP public key (gpg --export --armor)"
        )
    if b"PRIVATE KEY" in data:
        raise UsageError("--verify-key", f"{value}: holds a private key; give the public key only")
    return fingerprints[0][-16:].upper(), data.decode("ascii", errors="replace")
