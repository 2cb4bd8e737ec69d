"""argocd-app's use case: the Argo CD / Flux objects of a node of the chain the flags name."""

from __future__ import annotations

import re
from dataclasses import replace

from cloud_config.app.secrets import flux_decryption_secret
from cloud_config.errors import NotFoundError, UsageError
from cloud_config.model.paths import ChainLayout
from cloud_config.render.argocd import AppSpec, argocd_objects, flux_notify_objects, flux_objects
from cloud_config.store.node_files import load_chain

# What `git clone` accepts as a remote: scheme://[user@]host[:port]/path (ssh, git, http(s), file)
# or scp-like user@host:path. git's own rules are broader; these are the forms a forge gives.
_URL = re.compile(r"^(https?|ssh|git)://([^@/\s]+@)?[A-Za-z0-9.-]+(:\d{1,5})?/[^\s]+$|^file:///[^\s]+$")
_SCP = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!/)[^\s]+$")


def repo_url_problem(url: str) -> str | None:
    """Why git cannot use `url` as a remote, or None."""
    if _URL.match(url) or _SCP.match(url):
        return None
    return (
        f"{url!r} is not a git remote URL (https://host/org/repo.git, ssh://git@host/org/repo.git "
        "or git@host:org/repo.git)"
    )


def delivery_objects(
    layout: ChainLayout, spec: AppSpec, flux: bool, notify_url: str | None = None
) -> list[dict[str, object]]:
    """The objects for `spec`, once the domain is a node of the chain at `layout` and the URLs parse:
    Flux's decryption Secret defaults to `sops-age` for a node folder encrypted at rest; with
    `notify_url`, the engine's sync reports to `serve` too."""
    problem = repo_url_problem(spec.repo_url)
    if problem:
        raise UsageError("--repo-url", problem)
    if notify_url is not None and not notify_url.startswith(("http://", "https://")):
        raise UsageError("--notify-url", f"expected an http:// or https:// URL, got {notify_url!r}")
    chain, _ = load_chain(layout.chain_dir, layout.chain_name)
    if chain.node(spec.domain) is None:
        listed = ", ".join(n.domain for n in chain.node_network_address_list) or "none"
        raise NotFoundError(
            f"--domain: {spec.domain!r} is not in the node list of {layout.chain_dir} (listed: {listed})"
        )
    spec = replace(spec, sops_secret=flux_decryption_secret(layout, spec.domain, spec.sops_secret))
    if flux:
        return [*flux_objects(spec), *(flux_notify_objects(spec, notify_url) if notify_url else [])]
    return argocd_objects(spec, notify_url)
