"""The `secrets` verbs: a node's recipients, migrating a plaintext node folder, and the secrets left
in a creator's chain folder (CA key, account keys, node TLS keys), all with the real sops and age."""

from __future__ import annotations

from pathlib import Path

from cloud_config.app.node import Changes, set_recipients
from cloud_config.errors import CloudConfigError, UsageError
from cloud_config.model.node import recipient_problem
from cloud_config.model.paths import CHAIN_ENCRYPTED_GLOBS, NODE_CONFIG, ChainLayout
from cloud_config.store.atomic import SECRET_MODE, locked, write_many
from cloud_config.store.chain_files import require_chain_dir
from cloud_config.store.node_files import load_node_config
from cloud_config.store.sops import Sops
from cloud_config.store.sync import AtRest


def checked_recipients(flag: str, values: list[str]) -> list[str]:
    """`values` as given, refused in one line (naming `flag`) when one is not an age recipient."""
    for value in values:
        reason = recipient_problem(value)
        if reason:
            raise UsageError(flag, reason)
    return values


def change_recipients(
    layout: ChainLayout, domain: str, add: list[str], remove: list[str], identity: Path | None = None
) -> Changes:
    """`secrets recipients`: the node's recipients plus `add` minus `remove`, every secret re-encrypted."""
    node_dir = layout.node_dir(domain)
    node, _ = load_node_config(node_dir, domain)
    if not node.recipients:
        raise CloudConfigError(
            f"node {domain} is not encrypted at rest; run "
            f"`cloud-config secrets migrate --domain {domain} --encrypt-to age1...` first"
        )
    checked_recipients("--add", add)
    unknown = [r for r in remove if r not in node.recipients]
    if unknown:
        raise UsageError("--remove", f"{unknown[0]} is not a recipient of node {domain}")
    new = [r for r in node.recipients if r not in remove] + [r for r in add if r not in node.recipients]
    if not new:
        raise UsageError("--remove", "would leave no recipient (a node stays encrypted to at least one)")
    return set_recipients(layout.chain_dir, node_dir, layout.chain_name, domain, new, identity)


def migrate(layout: ChainLayout, domain: str, encrypt_to: list[str], identity: Path | None = None) -> Changes:
    """`secrets migrate`: encrypt a plaintext node folder in place (recipients from `--encrypt-to`,
    else those already saved)."""
    node_dir = layout.node_dir(domain)
    node, _ = load_node_config(node_dir, domain)
    recipients = checked_recipients("--encrypt-to", encrypt_to) or node.recipients
    if not recipients:
        raise UsageError("--encrypt-to", "is required (node_config.toml has no [secrets] recipients yet)")
    return set_recipients(layout.chain_dir, node_dir, layout.chain_name, domain, recipients, identity)


DEFAULT_SOPS_SECRET = "sops-age"


def flux_decryption_secret(layout: ChainLayout, domain: str, given: str | None) -> str | None:
    """The Secret a Flux Kustomization decrypts with: `given`, else `sops-age` when the node folder
    (if it is here) is encrypted at rest, else none."""
    if given is not None:
        return given
    config = layout.node_dir(domain) / NODE_CONFIG
    if config.is_file() and load_node_config(layout.node_dir(domain), domain)[0].recipients:
        return DEFAULT_SOPS_SECRET
    return None


def purge_instructions(node_dir: Path) -> str:
    """How to remove the old plaintext from the node repo's history (printed, never run by us)."""
    paths = " ".join(f"'{p}'" for p in _history_paths())
    return "\n".join(
        [
            f"The old plaintext keys are still in the history of {node_dir}. After committing and",
            "pushing the encrypted tree, purge them from every branch (this rewrites history: every",
            "clone must re-clone; forges keep old objects until their own garbage collection):",
            "",
            f"  cd {node_dir}",
            f"  git log --all --no-renames --format= --raw --no-abbrev -- {paths} \\",
            "    | awk '{print $4}' | sort -u > ../plaintext-blobs.txt",
            "  git ls-tree -r HEAD | awk '{print $3}' | sort -u > ../current-blobs.txt",
            "  comm -23 ../plaintext-blobs.txt ../current-blobs.txt > ../strip-blobs.txt",
            "  git filter-repo --force --strip-blobs-with-ids ../strip-blobs.txt",
            "  git push --force --all origin",
            "",
            "Anyone who could read the repository before may have copied the keys: rotate them too",
            "(a new account and TLS key for the node) if that access was not limited to you.",
        ]
    )


def _history_paths() -> list[str]:
    """git pathspecs of the secret-path list (where plaintext may lie in old commits)."""
    return [
        "config.toml",
        "private_key",
        "accounts/*/private_key",
        "certs/*/key.pem",
        "yamls/secret-*.yaml",
        "yamls/cm-*.yaml",
    ]


def encrypt_chain_folder(layout: ChainLayout, recipients: list[str]) -> list[str]:
    """`secrets encrypt`: encrypt the CA key, account keys and node TLS keys of a creator's chain
    folder to `recipients` (those already encrypted to them are left alone); returns what changed."""
    require_chain_dir(layout)
    checked_recipients("--encrypt-to", recipients)
    sops = Sops()
    sealed = AtRest(sops, frozenset(recipients))
    with locked(layout.chain_dir):
        found = sorted(
            p.relative_to(layout.chain_dir).as_posix()
            for glob in CHAIN_ENCRYPTED_GLOBS
            for p in layout.chain_dir.glob(glob)
            if p.is_file() and not p.is_symlink()
        )
        plain = {rel: sops.read(layout.chain_dir / rel, "binary") for rel in found}
        stored = sealed.many(layout.chain_dir, plain)
        changed = {
            layout.chain_dir / p: (data, SECRET_MODE) for p, data in stored.items() if data is not None
        }
        write_many(changed)
    return sorted(p.relative_to(layout.chain_dir).as_posix() for p in changed)


__all__ = ["change_recipients", "encrypt_chain_folder", "migrate", "purge_instructions"]
