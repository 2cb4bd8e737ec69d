"""The chain folder's TLS files on disk: `ca_cert/{cert,key}.pem` and `certs/<domain>/{csr,cert,key}.pem`.

Private keys are secret files (0600, folder 0700), staged where the chain folder's .gitignore
already ignores them, so a write killed half-way leaves nothing `git add -A` would pick up.
"""

from __future__ import annotations

import os
from pathlib import Path

from cloud_config.model.paths import KEY_FILE as KEY
from cloud_config.model.paths import ChainLayout
from cloud_config.store.atomic import SECRET_DIR_MODE, SECRET_MODE, create_file, write_many
from cloud_config.store.files import read_text
from cloud_config.store.sops import Sops, is_encrypted, read_secret_text


def read_pem(path: Path, hint: str = "", sops: Sops | None = None) -> str:
    """A PEM file's text, or NotFoundError naming the file and what creates it; a key encrypted
    at rest (`cloud-config secrets encrypt`) is decrypted in memory."""
    text = read_text(path, hint, "is not PEM text")
    if is_encrypted(text.encode("utf-8"), "binary"):
        return read_secret_text(path, "binary", sops, hint)
    return text


def write_tls(layout: ChainLayout, folder: Path, files: dict[str, tuple[str, int]]) -> None:
    """Write the files of one folder together; a folder holding a key is 0700.

    A key is first written whole under `certs/.<random>.partial/key.pem`, a path the chain
    folder's .gitignore (`certs/*/key.pem`) already covers, so even a write killed half-way leaves
    no key where `git add -A` would pick it up; then it is renamed into place.
    """
    import shutil  # here (and in stage_key), with tempfile: reading TLS files needs neither

    folder.mkdir(mode=SECRET_DIR_MODE, parents=True, exist_ok=True)
    keys = {name: text for name, (text, mode) in files.items() if mode == SECRET_MODE}
    public = {folder / n: (text.encode("utf-8"), mode) for n, (text, mode) in files.items() if n not in keys}
    if keys:
        os.chmod(folder, SECRET_DIR_MODE)
    staged: list[tuple[Path, Path]] = []
    try:
        for name, text in keys.items():
            staged.append((stage_key(layout, text.encode("utf-8")), folder / name))
        write_many(public)
        for temp, target in staged:
            os.replace(temp, target)
    finally:
        for temp, _ in staged:
            shutil.rmtree(temp.parent, ignore_errors=True)


def stage_key(layout: ChainLayout, data: bytes) -> Path:
    """Write `data` as a new 0600 `certs/.<random>.partial/key.pem` (git-ignored); return its path."""
    import shutil
    import tempfile

    layout.certs_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=layout.certs_dir, prefix=".", suffix=".partial"))  # mode 0700
    path = staging / KEY
    try:
        create_file(path, data, SECRET_MODE)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path
