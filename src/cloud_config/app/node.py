"""A node's use cases: init-node, and the refresh every render runs through (load + render + sync).

Public facts (chain_config.toml, the CA certificate, the node's certificate) come from the chain
folder, always its current version; the node's settings and its own secrets from the node folder.
`update-node`, `update-yaml`, `create`/`append`/`delete` and the pipeline's reconcile all call
`refresh_node` (or `update_deployment`), so a node renders the same whoever asks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from cloud_config.app.pki import read_node_tls
from cloud_config.crypto import pki
from cloud_config.errors import CloudConfigError, ConfigError, NotFoundError, UsageError
from cloud_config.model.chain import ChainConfig
from cloud_config.model.network_address import merge_peer_cidrs
from cloud_config.model.node import NODE_PORT_RANGE, Deployment, NodeConfig
from cloud_config.model.paths import (
    ACCOUNTS,
    CA_CERT,
    CHAIN_CONFIG,
    NODE_CONFIG,
    PRIVATE_KEY,
    ChainLayout,
    node_cert,
    node_csr,
    node_key,
    node_name,
)
from cloud_config.model.stage import Stage, require
from cloud_config.render.config_toml import p2p_port
from cloud_config.render.inputs import NodeInputs
from cloud_config.render.node import render_node
from cloud_config.store.atomic import (
    PUBLIC_MODE,
    SECRET_DIR_MODE,
    SECRET_MODE,
    locked,
    write_bytes,
    write_many,
)
from cloud_config.store.files import looks_like_hint, read_text, read_toml_text
from cloud_config.store.node_files import LoadedChain, load_chain, load_node_config, read_keys
from cloud_config.store.sops import Sops, is_encrypted, read_secret_text
from cloud_config.store.sync import AtRest, Changes, protect_secrets, sync_tree

__all__ = ["Changes", "init_node", "load_inputs", "refresh_node", "set_recipients", "update_deployment"]


def check_tls(chain_name: str, domain: str, tls: dict[str, tuple[Path, str]]) -> None:
    """The node's certificate must be issued by the CA, name the node and match its TLS key.

    Host SANs are the gate's to judge (`cert-wrong-name`, `cert-stale-host`): a node whose
    certificate still names its former host renders, so the move itself can be applied."""
    key_path, key = tls["key"]
    problem = pki.private_key_problem(key)
    if problem:
        raise ConfigError(str(key_path), None, problem)
    cert_path, cert = tls["cert"]
    problems = pki.cert_problems(
        cert, tls["ca_cert"][1], node_name(chain_name, domain), key, pki.host_names(cert)
    )
    if problems:
        raise ConfigError(str(cert_path), None, "; ".join(problems))


def _check_p2p_port(chain: ChainConfig, domain: str, node: NodeConfig, source: Path) -> None:
    """The network service's p2p port must not be one of the node's gRPC or metrics ports."""
    me = chain.node(domain)
    assert me is not None  # load_inputs checked it
    p2p = p2p_port(me)
    for table, ports in (("grpc_ports", node.grpc_ports), ("metrics_ports", node.metrics_ports)):
        for name, port in ports.items():
            if port == p2p:
                raise ConfigError(
                    str(source), f"{table}.{name}", f"port {port} is the node's network (p2p) port"
                )


def load_inputs(
    chain_dir: Path,
    node_dir: Path,
    chain_name: str,
    domain: str,
    sops: Sops | None = None,
    loaded: LoadedChain | None = None,
) -> NodeInputs:
    """Everything `render_node` needs for one node, checked before anything is rendered; the node's
    keys are decrypted in memory when they are encrypted at rest (`sops`' identity). `loaded` is
    the chain folder's configuration already read by `load_chain` (a flow over many nodes)."""
    chain, chain_text = loaded or load_chain(chain_dir, chain_name)
    if chain.node(domain) is None:
        raise NotFoundError(f"node {domain} is no longer in the chain's node list")
    _require_node_dir(node_dir, chain_name, domain)
    node, _ = load_node_config(node_dir, domain, chain.consensus, chain_name)
    _check_p2p_port(chain, domain, node, node_dir / NODE_CONFIG)
    keys = read_keys(node_dir / ACCOUNTS / node.account, chain, node.account, sops)
    where = ChainLayout(chain_dir.parent, chain_name)
    signed = f"the chain's admin signs it with `{where.hint('sign-csr', '--domain', domain)}`"
    paths = {
        "ca_cert": (chain_dir / CA_CERT, f"run `{where.hint('create-ca')}` first"),
        "cert": (chain_dir / node_cert(domain), signed),
        "key": (node_dir / node_key(domain), "init-node copies it from the chain folder"),
    }
    tls = {name: (path, read_text(path, hint)) for name, (path, hint) in paths.items() if name != "key"}
    key_path, key_hint = paths["key"]
    tls["key"] = (key_path, read_secret_text(key_path, "binary", sops, key_hint))
    check_tls(chain_name, domain, tls)
    return NodeInputs(
        chain_name=chain_name,
        domain=domain,
        chain=chain,
        node=node,
        chain_text=chain_text,
        ca_cert=tls["ca_cert"][1],
        cert=tls["cert"][1],
        node_address=keys["node_address"],
        validator_address=keys["validator_address"],
        private_key=keys["private_key"],
        key=tls["key"][1],
    )


NodeEdit = Callable[[NodeInputs], None]


def _require_node_dir(node_dir: Path, chain_name: str, domain: str) -> None:
    if not node_dir.is_dir():
        hint = ChainLayout(node_dir.parent, chain_name).hint("init-node", "--domain", domain)
        raise NotFoundError(
            f"node folder {node_dir} does not exist; run `{hint} --account ...` first"
            + looks_like_hint(node_dir.parent)
        )


def at_rest(node: NodeConfig, sops: Sops) -> AtRest | None:
    """How the node's secret files are held: encrypted to its `[secrets]` recipients, or plain."""
    return AtRest(sops, frozenset(node.recipients)) if node.recipients else None


def _refresh(
    chain_dir: Path,
    node_dir: Path,
    chain_name: str,
    domain: str,
    edit: NodeEdit | None,
    identity: Path | None = None,
    seal_keys: bool = False,
    loaded: LoadedChain | None = None,
) -> Changes:
    """Load, optionally edit node_config.toml, render and sync: every refresh runs through here.

    The edited settings are rendered before anything is written, so a bad edit changes nothing.
    `identity` is the age identity file that decrypts the node's keys (default: sops' own lookup);
    `seal_keys` also (re-)encrypts the node's own key files to its recipients (`secrets` verbs).
    """
    _require_node_dir(node_dir, chain_name, domain)
    sops = Sops(identity)
    with locked(node_dir):
        protect_secrets(node_dir)  # a clone, reset or copy gives the key files the umask's mode
        inputs = load_inputs(chain_dir, node_dir, chain_name, domain, sops, loaded)
        _refuse_silent_decryption(node_dir, inputs)
        if edit is not None:
            old_text = read_toml_text(node_dir / NODE_CONFIG)  # load_inputs just parsed it
            edit(inputs)
            for field, reason in inputs.node.problems(inputs.chain.consensus):
                raise ConfigError(str(node_dir / NODE_CONFIG), field, reason)
            tree = render_node(inputs)
            new_text = inputs.node.dumps(old_text)
            sealed = _sealed_keys(node_dir, inputs, sops) if seal_keys else {}
            if new_text != old_text:
                write_bytes(node_dir / NODE_CONFIG, new_text.encode("utf-8"))
            write_many({node_dir / p: (data, SECRET_MODE) for p, data in sealed.items()})
        else:
            tree = render_node(inputs)
        return sync_tree(node_dir, tree, at_rest(inputs.node, sops))


def _refuse_silent_decryption(node_dir: Path, inputs: NodeInputs) -> None:
    """A node whose keys are encrypted but whose `[secrets]` is gone would render them in plain text."""
    if inputs.node.recipients:
        return
    for rel in (f"{ACCOUNTS}/{inputs.node.account}/{PRIVATE_KEY}", node_key(inputs.domain)):
        if is_encrypted((node_dir / rel).read_bytes(), "binary"):
            raise ConfigError(
                str(node_dir / NODE_CONFIG),
                "secrets.recipients",
                f"is missing but {rel} is SOPS-encrypted; restore the [secrets] recipients "
                "(rendering without them would write the keys in plain text)",
            )


def _sealed_keys(node_dir: Path, inputs: NodeInputs, sops: Sops) -> dict[str, bytes]:
    """The node's own key files encrypted to its recipients, where they are not already."""
    sealed = at_rest(inputs.node, sops)
    if sealed is None:
        return {}
    plain = {
        f"{ACCOUNTS}/{inputs.node.account}/{PRIVATE_KEY}": inputs.private_key.encode("ascii"),
        node_key(inputs.domain): inputs.key.encode("utf-8"),
    }
    return {p: data for p, data in sealed.many(node_dir, plain).items() if data is not None}


def set_recipients(
    chain_dir: Path,
    node_dir: Path,
    chain_name: str,
    domain: str,
    recipients: list[str],
    identity: Path | None = None,
) -> Changes:
    """`secrets recipients` / `secrets migrate`: save the node's recipients and re-encrypt every secret
    file of the node folder to them (decrypted in memory with `identity`, re-encrypted only where
    the recipients changed or the file was plain)."""

    def edit(inputs: NodeInputs) -> None:
        inputs.node.recipients = list(recipients)

    return _refresh(chain_dir, node_dir, chain_name, domain, edit, identity, seal_keys=True)


def refresh_node(
    chain_dir: Path,
    node_dir: Path,
    chain_name: str,
    domain: str,
    identity: Path | None = None,
    loaded: LoadedChain | None = None,
) -> Changes:
    """Re-render one node from the chain folder's current configuration and sync its folder
    (`loaded`: that configuration, when the caller has read it already)."""
    return _refresh(chain_dir, node_dir, chain_name, domain, None, identity, loaded=loaded)


def update_deployment(
    chain_dir: Path,
    node_dir: Path,
    chain_name: str,
    domain: str,
    changes: Mapping[str, object],
    flags: Mapping[str, str],
) -> Changes:
    """update-yaml: merge `changes` (Deployment field -> value) over the saved deployment settings,
    then render everything. `flags` names the flag of each field, for the error lines."""

    def edit(inputs: NodeInputs) -> None:
        inputs.node.deployment = merged_deployment(inputs, changes, flags)

    return _refresh(chain_dir, node_dir, chain_name, domain, edit)


def merged_deployment(
    inputs: NodeInputs, changes: Mapping[str, object], flags: Mapping[str, str]
) -> Deployment:
    """The saved deployment settings with `changes` over them; refuses non-k8s nodes and bad values."""
    me = inputs.me
    if not me.is_k8s:
        raise CloudConfigError(f"--domain: node {me.domain} is not a k8s node ({me} has no cluster)")
    deployment = inputs.node.deployment or Deployment()
    for field, value in changes.items():
        if field == "resources" and isinstance(value, Mapping):
            for slot, values in value.items():
                deployment.resources[slot] = {**deployment.resources.get(slot, {}), **values}
        elif field == "peer_cidrs" and isinstance(value, list):
            try:
                deployment.peer_cidrs = merge_peer_cidrs(deployment.peer_cidrs, value)
            except ValueError as exc:
                raise UsageError("--peer-cidr", str(exc)) from None
        else:
            setattr(deployment, field, value)
    if not deployment.storage_class:
        raise UsageError("--storage-class", "is required (no storage class is saved in node_config.toml yet)")
    for field, reason in deployment.problems():
        raise UsageError(flags.get(field.split(".", 1)[0], field), reason)
    _check_exposure(deployment, me.port, flags)
    return deployment


def _check_exposure(deployment: Deployment, listed: int, flags: Mapping[str, str]) -> None:
    """A NodePort must be the port the node list gives peers (they dial host:port) and in the range."""
    if deployment.expose != "nodeport":
        return
    if deployment.node_port and deployment.node_port != listed:
        raise UsageError(
            flags.get("node_port", "node_port"),
            f"{deployment.node_port} is not the node's port in the node list ({listed}); peers dial that "
            "port, so change the node list entry or leave the NodePort to follow it",
        )
    low, high = NODE_PORT_RANGE
    if not low <= listed <= high:
        raise UsageError(
            flags.get("expose", "expose"),
            f"nodeport needs the node's port in the node list ({listed}) to be a NodePort ({low}-{high}); "
            "list the node with such a port, or use --expose loadbalancer",
        )


def _flag(field: str) -> str:
    return "--" + field.rsplit(".", 1)[-1].replace("_", "-")


def init_node(
    layout: ChainLayout,
    domain: str,
    node: NodeConfig,
    stages: frozenset[Stage] = frozenset({Stage.FINALIZE}),
    loaded: LoadedChain | None = None,
) -> Path:
    """init-node (at Finalize; `append` also at Public): copy the node's own account, the CA
    certificate and its TLS files, and write node_config.toml.

    Everything is checked before the first file is written. A node_config.toml already there keeps
    its comments and its saved deployment settings. `loaded`: the chain folder's configuration,
    when the caller has read it already.
    """
    chain, chain_text = loaded or load_chain(layout.chain_dir, layout.chain_name)
    require(chain.stage, set(stages), "init-node")
    if chain.node(domain) is None:
        listed = ", ".join(n.domain for n in chain.node_network_address_list) or "none"
        raise NotFoundError(f"--domain: {domain!r} is not in the chain's node list (listed: {listed})")
    for field, reason in node.problems(chain.consensus):
        raise UsageError(_flag(field), reason)
    account_dir = layout.account_dir(node.account)
    if not account_dir.is_dir():
        raise NotFoundError(
            f"--account: no account {node.account} in {layout.accounts_dir} (run new-account there first)"
        )
    keys = read_keys(account_dir, chain, node.account)  # decrypted in memory if encrypted at rest
    ca_cert, cert, key = read_node_tls(layout, domain)
    public = {CA_CERT: ca_cert, node_cert(domain): cert, CHAIN_CONFIG: chain_text}
    if (layout.chain_dir / node_csr(domain)).is_file():
        public[node_csr(domain)] = read_text(layout.chain_dir / node_csr(domain))
    secret = {f"{ACCOUNTS}/{node.account}/{name}": value for name, value in keys.items()}
    secret[node_key(domain)] = key
    node_dir = layout.node_dir(domain)
    config_path = node_dir / NODE_CONFIG
    old_text = read_toml_text(config_path) if config_path.is_file() else None
    if old_text is not None:
        saved = NodeConfig.loads(old_text, str(config_path))
        node.deployment = saved.deployment
        node.recipients = node.recipients or saved.recipients  # an encrypted node stays encrypted
    public[NODE_CONFIG] = node.dumps(old_text)
    for folder in (node_dir, node_dir / ACCOUNTS, node_dir / ACCOUNTS / node.account, node_dir / "certs"):
        folder.mkdir(mode=SECRET_DIR_MODE, exist_ok=True)
    files = {node_dir / p: (t.encode("utf-8"), PUBLIC_MODE) for p, t in public.items()}
    secret_bytes: dict[str, bytes | None] = {p: t.encode("utf-8") for p, t in secret.items()}
    sealed = at_rest(node, Sops())
    if sealed is not None:  # encrypted in memory; the plaintext never reaches the node folder
        plain = {p: d for p, d in secret_bytes.items() if d is not None and sealed.kind(p)}
        secret_bytes.update(sealed.many(node_dir, plain))  # None: already holds it, encrypted
    files.update({node_dir / p: (d, SECRET_MODE) for p, d in secret_bytes.items() if d is not None})
    write_many(files)
    protect_secrets(node_dir)  # certs/<domain>/ was made by write_many, with the umask's mode
    return node_dir
