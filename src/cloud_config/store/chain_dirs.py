"""Creating and deleting a chain's folders (init-chain, delete-chain)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from cloud_config.errors import CloudConfigError, ConflictError, NotFoundError
from cloud_config.model.names import dns_label_problem
from cloud_config.model.paths import GITIGNORE, NODE_CONFIG, ChainLayout
from cloud_config.model.schema import parse_toml
from cloud_config.store.atomic import write_bytes
from cloud_config.store.files import read_toml_text


def init_chain(layout: ChainLayout) -> None:
    """Create the chain folder with accounts/, ca_cert/, certs/ and the .gitignore of secrets."""
    reason = dns_label_problem(layout.chain_name)
    if reason:
        raise ConflictError(
            f"--chain-name: {layout.chain_name!r} {reason} (it names certificates and Kubernetes objects)"
        )
    if layout.chain_dir.exists():
        raise ConflictError(f"chain folder {layout.chain_dir} already exists")
    layout.config_dir.mkdir(parents=True, exist_ok=True)
    staging = layout.config_dir / f".{layout.chain_name}.init"
    shutil.rmtree(staging, ignore_errors=True)
    for sub in ("accounts", "ca_cert", "certs"):
        (staging / sub).mkdir(parents=True)
        (staging / sub / ".gitkeep").touch()
    write_bytes(staging / ".gitignore", GITIGNORE.encode())
    staging.rename(layout.chain_dir)


def _parse(path: Path) -> dict[str, Any]:
    return parse_toml(read_toml_text(path), str(path))


def _node_dirs(layout: ChainLayout) -> list[Path]:
    """Node folders of this chain: listed in chain_config.toml or recording this chain's name."""
    found: list[Path] = []
    try:
        data = _parse(layout.chain_config)
        listed = data.get("node_network_address_list", [])
        found = [layout.node_dir(str(n.get("domain", ""))) for n in listed if isinstance(n, dict)]
    except (OSError, CloudConfigError):
        pass
    for candidate in layout.config_dir.glob(layout.node_dir("*").name):
        try:
            node = _parse(candidate / NODE_CONFIG)
        except (OSError, CloudConfigError):
            continue
        if node.get("exporter", {}).get("chain_name") == layout.chain_name:
            found.append(candidate)
    return sorted({p for p in found if p.is_dir() and p != layout.chain_dir})


def delete_chain(layout: ChainLayout) -> list[Path]:
    """Remove the chain folder and its node folders; a node folder never created is no error."""
    if not layout.chain_dir.is_dir():
        raise NotFoundError(f"chain folder {layout.chain_dir} does not exist")
    removed = _node_dirs(layout)
    for folder in removed:
        shutil.rmtree(folder)
    shutil.rmtree(layout.chain_dir)
    return [*removed, layout.chain_dir]
