"""The one-shot flows `create`, `append` and `delete` (reference §7), with the reference's gaps fixed.

Every input is checked before the first write: node list, port offsets, admin, node settings, the CA.
`create` and `append` undo what they wrote if a later step fails; `append` and `delete` re-render
every other node from the chain folder's current configuration.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cloud_config.app import pki
from cloud_config.app.chain import fresh_chain_config
from cloud_config.app.node import init_node, refresh_node
from cloud_config.crypto.accounts import Account, generate_account
from cloud_config.errors import CloudConfigError, ConflictError, NotFoundError, UsageError
from cloud_config.model import edits, network_address
from cloud_config.model.chain import ChainConfig
from cloud_config.model.network_address import NodeNetworkAddress
from cloud_config.model.node import GRPC_DEFAULTS, METRICS_DEFAULTS, NodeConfig
from cloud_config.model.paths import KEY_FILE, NODE_CONFIG, ChainLayout
from cloud_config.model.stage import Stage
from cloud_config.store import account_files, chain_files
from cloud_config.store.atomic import synced_at_end, write_bytes
from cloud_config.store.chain_dirs import init_chain
from cloud_config.store.files import read_toml_text
from cloud_config.store.node_files import LoadedChain, load_chain

# (node address, port offset) -> the node's settings, built by the command line from its flags.
NodeSettings = Callable[[str, int], NodeConfig]
# (nodes done, nodes in all, the node at hand): how far a multi-node flow is, for a progress line.
Progress = Callable[[int, int, str], None]
BASE_PORT = 40000


@dataclass
class FlowResult:
    """The accounts a flow created, by domain; the warnings and the next steps it has for the user."""

    accounts: list[tuple[str, Account]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)
    node_is_k8s: bool = True  # append: whether the new node is in a cluster


def port_offset(node: NodeNetworkAddress) -> int:
    """cloud-config's rule: a non-k8s node's service ports move by (port - 40000) x 100."""
    return 0 if node.is_k8s else (node.port - BASE_PORT) * 100


def _ports(node: NodeNetworkAddress) -> set[int]:
    offset = port_offset(node)
    ports = {p + offset for p in (*GRPC_DEFAULTS.values(), *METRICS_DEFAULTS.values())}
    return ports if node.is_k8s else ports | {node.port}


def check_port_offsets(nodes: list[NodeNetworkAddress], flag: str) -> None:
    """Refuse offsets that leave 1-65535 (cloud-config wraps silently) or collide on one host."""
    taken: dict[tuple[str, int], str] = {}
    for node in nodes:
        ports = _ports(node)
        if min(ports) < 1 or max(ports) > 65535:
            low, high = min(ports), max(ports)
            raise UsageError(
                flag,
                f"node {node.domain} (port {node.port}, not k8s) would get service ports {low}-{high} "
                f"by the rule 50000 + (port - 40000) x 100; use a port in 39501-40055",
            )
        if node.is_k8s:
            continue  # every k8s node has its own pod network
        for port in sorted(ports):
            other = taken.get((node.host.lower(), port))
            if other is not None:
                raise UsageError(
                    flag, f"node {node.domain} would use port {port} on {node.host}, as {other} does"
                )
            taken[(node.host.lower(), port)] = node.domain


def _parse_list(text: str) -> list[NodeNetworkAddress]:
    try:
        return network_address.parse_list(text)
    except ValueError as exc:
        raise UsageError("--nodelist", str(exc)) from None


def _checked_settings(
    settings: NodeSettings, account: Account, node: NodeNetworkAddress, consensus: str
) -> NodeConfig:
    config = settings(account.node_address, port_offset(node))
    for name, reason in config.problems(consensus):
        raise UsageError("--" + name.rsplit(".", 1)[-1].replace("_", "-"), reason)
    return config


def create(
    layout: ChainLayout,
    opts: edits.GenesisOptions,
    admin: str,
    nodelist: str,
    settings: NodeSettings,
    now_ms: int,
    progress: Progress | None = None,
) -> FlowResult:
    """create: a chain at Finalize, every listed node a validator, its CA, certificates and node folders."""
    if layout.chain_dir.exists():
        raise ConflictError(f"chain folder {layout.chain_dir} already exists")
    nodes = _parse_list(nodelist)
    check_port_offsets(nodes, "--nodelist")
    config = fresh_chain_config(layout.chain_name, opts, now_ms)
    edits.set_admin(config, admin)
    accounts = [generate_account(config.consensus) for _ in nodes]
    for account in accounts:
        edits.append_validator(config, account.validator_address)
    edits.set_nodelist(config, nodelist)
    edits.set_stage(config, "finalize", False)
    config.validate(layout.chain_name, str(layout.chain_config))
    node_configs = [
        _checked_settings(settings, a, n, config.consensus) for a, n in zip(accounts, nodes, strict=True)
    ]
    existing = [layout.node_dir(n.domain) for n in nodes if layout.node_dir(n.domain).exists()]
    if existing:
        raise ConflictError(f"node folder {existing[0]} already exists")
    try:
        with synced_at_end():  # every file is new: one sync instead of an fsync each
            _write_created(layout, config, accounts, nodes, node_configs, progress)
    except BaseException:
        for folder in (layout.chain_dir, *(layout.node_dir(n.domain) for n in nodes)):
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return FlowResult(accounts=[(n.domain, a) for n, a in zip(nodes, accounts, strict=True)])


def _write_created(
    layout: ChainLayout,
    config: ChainConfig,
    accounts: list[Account],
    nodes: list[NodeNetworkAddress],
    node_configs: list[NodeConfig],
    progress: Progress | None,
) -> None:
    init_chain(layout)
    chain_files.write_chain(layout, config, None)
    for account in accounts:
        account_files.write_account(layout, account)
    pki.create_ca(layout)
    loaded = load_chain(layout.chain_dir, layout.chain_name)  # read once, for every node
    for i, (node, node_config) in enumerate(zip(nodes, node_configs, strict=True)):
        if progress:
            progress(i, len(nodes), node.domain)
        pki.create_csr(layout, node.domain, chain=loaded[0])
        pki.sign_csr(layout, node.domain, chain=loaded[0])
        init_node(layout, node.domain, node_config, loaded=loaded)
        refresh_node(
            layout.chain_dir, layout.node_dir(node.domain), layout.chain_name, node.domain, loaded=loaded
        )


def append(
    layout: ChainLayout, node_text: str, settings: NodeSettings, progress: Progress | None = None
) -> FlowResult:
    """append: a new node (a validator too while the chain is Public), its account, certificate and folder.

    Everything that can be checked is checked first; if a later step still fails, what was written
    (account, chain_config.toml, certificate folder, node folder) is undone.
    """
    planned = chain_files.read_chain(layout).copy()
    node = edits.append_node(planned, node_text)
    check_port_offsets(planned.node_network_address_list, "--node")
    account = generate_account(planned.consensus)
    validator = planned.stage is Stage.PUBLIC
    if validator:
        edits.append_validator(planned, account.validator_address)
    planned.validate(layout.chain_name, str(layout.chain_config))
    node_config = _checked_settings(settings, account, node, planned.consensus)
    _check_appendable(layout, node.domain)
    chain_before = layout.chain_config.read_bytes()
    try:
        account_files.write_account(layout, account)
        with chain_files.editing(layout) as config:
            edits.append_node(config, node_text)
            if validator:
                edits.append_validator(config, account.validator_address)
        pki.create_csr(layout, node.domain)
        pki.sign_csr(layout, node.domain)
        init_node(layout, node.domain, node_config, frozenset({Stage.PUBLIC, Stage.FINALIZE}))
    except BaseException:
        _undo_append(layout, node.domain, account.node_address, chain_before)
        raise
    result = FlowResult(accounts=[(node.domain, account)], node_is_k8s=node.is_k8s)
    if not validator:
        result.warnings.append(
            f"{node.domain} is not a validator: the chain is at {planned.stage.value} "
            "(validators change only at Public)"
        )
    result.warnings.extend(refresh_all(layout, progress))
    return result


def _check_appendable(layout: ChainLayout, domain: str) -> None:
    """What append's later steps need: a usable CA key, a valid certificate name, free folders."""
    pki.checked_cert_name(layout, domain)
    if not (layout.ca_dir / KEY_FILE).is_file():
        raise NotFoundError(
            f"{layout.ca_dir / KEY_FILE} does not exist: only the CA holder can append a node"
        )
    pki.read_ca(layout)
    for folder in (layout.node_dir(domain), layout.cert_dir(domain)):
        if folder.exists():
            raise ConflictError(f"{folder} already exists; remove it first to append node {domain}")


def _undo_append(layout: ChainLayout, domain: str, address: str, chain_before: bytes) -> None:
    """Remove what a failed append wrote (every folder was checked absent first) and restore the chain."""
    for folder in (layout.node_dir(domain), layout.cert_dir(domain), layout.account_dir(address)):
        shutil.rmtree(folder, ignore_errors=True)
    if layout.chain_config.read_bytes() != chain_before:
        write_bytes(layout.chain_config, chain_before)


def delete(layout: ChainLayout, domain: str, progress: Progress | None = None) -> FlowResult:
    """delete: drop the node from the list, remove its folders, refresh the rest.

    While the chain is Public the node's validator leaves `system_config.validators` too. After
    Finalize the validators are the running chain's genesis and stay as they are, as cloud-config
    6.7.4's `delete` leaves them (cmd.rs at d3647880); the result names the on-chain step instead.
    """
    result = FlowResult()
    node_dir = layout.node_dir(domain)
    account = _account_of(node_dir)
    validator = _validator_of(layout, node_dir, account)
    with chain_files.editing(layout) as config:
        edits.delete_node(config, domain)
        if config.stage is Stage.FINALIZE:
            if validator in {v.lower() for v in config.system_config.validators}:
                rest = [v for v in config.system_config.validators if v.lower() != validator]
                result.next_steps.append(
                    f"{domain}'s validator stays in system_config.validators (the genesis is frozen "
                    "after Finalize); to take it out of consensus the admin sends, on chain: "
                    f"cldi admin update-validators {' '.join(rest)}"
                )
        else:
            _drop_validator(config, validator)
    if account is None:
        result.warnings.append(
            f"{node_dir} has no node_config.toml: its account and validator are left as they are"
        )
    shutil.rmtree(node_dir, ignore_errors=True)
    if account is not None:
        shutil.rmtree(layout.account_dir(account), ignore_errors=True)
    shutil.rmtree(layout.cert_dir(domain), ignore_errors=True)
    result.warnings.extend(refresh_all(layout, progress))
    return result


def node_validator(layout: ChainLayout, domain: str) -> str | None:
    """The validator address (lowercase, no 0x) of the node folder of `domain`, when it is here."""
    node_dir = layout.node_dir(domain)
    return _validator_of(layout, node_dir, _account_of(node_dir))


def _account_of(node_dir: Path) -> str | None:
    if not (node_dir / NODE_CONFIG).is_file():
        return None
    text = read_toml_text(node_dir / NODE_CONFIG)
    account: str = NodeConfig.loads(text, str(node_dir / NODE_CONFIG)).account
    return account


def _validator_of(layout: ChainLayout, node_dir: Path, account: str | None) -> str | None:
    if account is None:
        return None
    for folder in (layout.account_dir(account), node_dir / "accounts" / account):
        path = folder / account_files.VALIDATOR_ADDRESS
        if path.is_file():
            return path.read_text(encoding="ascii").strip().lower()
    return None


def _drop_validator(config: ChainConfig, validator: str | None) -> bool:
    """Remove `validator` (before Finalize); whether it was listed."""
    # Not delete-validator: that needs stage Public, while a departed node must leave consensus at any stage.
    validators = config.system_config.validators
    config.system_config.validators = [v for v in validators if v.lower() != validator]
    return len(config.system_config.validators) != len(validators)


def refresh_all(layout: ChainLayout, progress: Progress | None = None) -> list[str]:
    """Re-render every listed node that has a folder here; a warning for each that could not be."""
    warnings = []
    nodes = chain_files.read_chain(layout).node_network_address_list
    try:
        loaded: LoadedChain | None = load_chain(layout.chain_dir, layout.chain_name)  # once, for every node
    except CloudConfigError:
        loaded = None  # each node's refresh below then says why, as its warning
    for i, node in enumerate(nodes):
        if progress:
            progress(i, len(nodes), node.domain)
        node_dir = layout.node_dir(node.domain)
        if not node_dir.is_dir():
            continue  # another participant's node
        try:
            refresh_node(layout.chain_dir, node_dir, layout.chain_name, node.domain, loaded=loaded)
        except CloudConfigError as exc:
            warnings.append(f"{node.domain} not refreshed: {exc}")
    return warnings
