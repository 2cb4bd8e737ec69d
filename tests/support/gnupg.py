"""A real OpenPGP signing key made by GnuPG in a throwaway GNUPGHOME, and its agent stopped after."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_GPG = ["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", ""]


@dataclass(frozen=True)
class GnupgKey:
    """An ed25519 signing key in `home`: its fingerprint and armored public key file."""

    home: Path
    fingerprint: str
    public: Path

    @property
    def env(self) -> dict[str, str]:
        """The environment that makes gpg (and git) use this keyring."""
        return {**os.environ, "GNUPGHOME": str(self.home)}


@contextlib.contextmanager
def gnupg_key(home: Path, uid: str = "cloud-config pipeline <pipeline@example.com>") -> Iterator[GnupgKey]:
    """Make the key in a new `home`; on leaving, stop the gpg-agent that making it started."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    env = {**os.environ, "GNUPGHOME": str(home)}
    try:
        subprocess.run([*_GPG, "--quick-gen-key", uid, "ed25519", "sign", "never"],
                       env=env, capture_output=True, check=True)  # fmt: skip
        listing = subprocess.run(["gpg", "--batch", "--with-colons", "--list-secret-keys"],
                                 env=env, capture_output=True, text=True, check=True).stdout  # fmt: skip
        fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
        public = home / "public.asc"
        public.write_bytes(subprocess.run(["gpg", "--batch", "--armor", "--export", fingerprint],
                                          env=env, capture_output=True, check=True).stdout)  # fmt: skip
        yield GnupgKey(home, fingerprint, public)
    finally:
        subprocess.run(["gpgconf", "--kill", "all"], env=env, capture_output=True, check=False)
