"""`chain_config.toml`: the public configuration every node of a chain shares (reference §1.1)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from cloud_config.errors import ConfigError
from cloud_config.model import toml_edit
from cloud_config.model.names import cert_name_problem, dns_label_problem, hex_problem
from cloud_config.model.network_address import DEFAULT_NAMESPACE, NodeNetworkAddress
from cloud_config.model.paths import node_name
from cloud_config.model.schema import U32_MAX, Reader, parse_toml
from cloud_config.model.stage import Stage

DEFAULT_PREVHASH = "0x" + "0" * 64
DEFAULT_QUOTA_LIMIT = 1073741824
ADDRESS_LEN = 40
BLS_VALIDATOR_LEN = 96
OVERLORD = "consensus_overlord"
RAFT = "consensus_raft"

# The five service slots in cloud-config's order, with the images each slot accepts.
SERVICE_SLOTS: dict[str, tuple[str, ...]] = {
    "network": ("network_zenoh",),
    "consensus": (OVERLORD, RAFT),
    "executor": ("executor_evm",),
    "storage": ("storage_opendal",),
    "controller": ("controller_hsm", "controller"),
}
# The closed schema: every key chain_config.toml may hold, by table (an unknown one is an error).
CHAIN_KEYS = ("system_config", "genesis_block", "node_network_address_list", "micro_service_list", "stage")
SYSTEM_KEYS = ("version", "chain_id", "admin", "block_interval", "validators", "block_limit", "quota_limit")
GENESIS_KEYS = ("timestamp", "prevhash")
NODE_KEYS = ("host", "port", "domain", "cluster", "name_space")
SERVICE_KEYS = ("image", "tag")
_PREVHASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
# An image tag, optionally pinned to a digest: `v6.7.4` or `v6.7.4@sha256:<64 hex>`.
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}(@sha256:[0-9a-f]{64})?$")


_NODE_KEY_SET = frozenset(NODE_KEYS)


def _nodes(r: Reader, data: Mapping[str, Any]) -> list[NodeNetworkAddress]:
    """The node list, each entry's fields checked. An entry of the usual form (known keys, values of
    the right type) is taken directly; any other is read field by field, and the first problem is
    raised naming its field (a 1000-node list reads in a third of the time)."""
    nodes = []
    for path, entry in r.tables(data, "node_network_address_list", "node_network_address_list", []):
        if type(entry) is dict and entry.keys() <= _NODE_KEY_SET:
            host, port, domain = entry.get("host"), entry.get("port"), entry.get("domain")
            cluster, name_space = entry.get("cluster", ""), entry.get("name_space", DEFAULT_NAMESPACE)
            if (
                type(host) is str
                and type(port) is int
                and 0 <= port <= 65535
                and type(domain) is str
                and type(cluster) is str
                and type(name_space) is str
            ):
                nodes.append(NodeNetworkAddress(host, port, domain, cluster, name_space))
                continue
        r.known(entry, NODE_KEYS, path)
        nodes.append(
            NodeNetworkAddress(
                host=r.string(entry, "host", f"{path}.host"),
                port=r.integer(entry, "port", f"{path}.port", high=65535),
                domain=r.string(entry, "domain", f"{path}.domain"),
                cluster=r.string(entry, "cluster", f"{path}.cluster", default=""),
                name_space=r.string(entry, "name_space", f"{path}.name_space", default=DEFAULT_NAMESPACE),
            )
        )
    return nodes


@dataclass
class MicroService:
    """One entry of `micro_service_list`: an image name and its tag."""

    image: str
    tag: str = "latest"

    @property
    def pinned(self) -> bool:
        """Whether the tag carries a digest (`tag@sha256:...`), so a registry push cannot change it."""
        return "@sha256:" in self.tag


@dataclass
class SystemConfig:
    """`[system_config]`: what the controller reads at genesis."""

    version: int = 0
    chain_id: str = ""
    admin: str = ""
    block_interval: int = 3
    validators: list[str] = field(default_factory=list)
    block_limit: int = 100
    quota_limit: int = DEFAULT_QUOTA_LIMIT


@dataclass
class GenesisBlock:
    """`[genesis_block]`."""

    timestamp: int
    prevhash: str = DEFAULT_PREVHASH


@dataclass
class ChainConfig:
    """The whole chain_config.toml."""

    system_config: SystemConfig
    genesis_block: GenesisBlock
    node_network_address_list: list[NodeNetworkAddress]
    micro_service_list: list[MicroService]
    stage: Stage = Stage.INIT

    # ---- reading and writing -------------------------------------------------------------

    @classmethod
    def loads(cls, text: str, source: str) -> ChainConfig:
        """Parse the text of a chain_config.toml; errors name `source` and the field."""
        data = parse_toml(text, source)
        return cls.from_dict(data, source)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str) -> ChainConfig:
        """Build from parsed TOML, checking every field's type."""
        r = Reader(source)
        r.known(data, CHAIN_KEYS)
        sc = r.table(data, "system_config", "system_config", required=True)
        gb = r.table(data, "genesis_block", "genesis_block", required=True)
        r.known(sc, SYSTEM_KEYS, "system_config")
        r.known(gb, GENESIS_KEYS, "genesis_block")
        system = SystemConfig(
            version=r.integer(sc, "version", "system_config.version", high=U32_MAX),
            chain_id=r.string(sc, "chain_id", "system_config.chain_id"),
            admin=r.string(sc, "admin", "system_config.admin"),
            block_interval=r.integer(sc, "block_interval", "system_config.block_interval", high=U32_MAX),
            validators=r.strings(sc, "validators", "system_config.validators"),
            block_limit=r.integer(sc, "block_limit", "system_config.block_limit"),
            quota_limit=r.integer(sc, "quota_limit", "system_config.quota_limit"),
        )
        genesis = GenesisBlock(
            timestamp=r.integer(gb, "timestamp", "genesis_block.timestamp"),
            prevhash=r.string(gb, "prevhash", "genesis_block.prevhash"),
        )
        nodes = _nodes(r, data)
        services = []
        for path, entry in r.tables(data, "micro_service_list", "micro_service_list"):
            r.known(entry, SERVICE_KEYS, path)
            services.append(
                MicroService(
                    image=r.string(entry, "image", f"{path}.image"),
                    tag=r.string(entry, "tag", f"{path}.tag"),
                )
            )
        stage_text = r.string(data, "stage", "stage")
        try:
            stage = Stage(stage_text)
        except ValueError:
            raise r.fail("stage", f"must be Init, Public or Finalize, got {stage_text!r}") from None
        return cls(system, genesis, nodes, services, stage)

    def to_dict(self) -> dict[str, Any]:
        """The data of chain_config.toml, keyed as cloud-config writes it."""
        sc = self.system_config
        return {
            "system_config": {
                "version": sc.version,
                "chain_id": sc.chain_id,
                "admin": sc.admin,
                "block_interval": sc.block_interval,
                "validators": list(sc.validators),
                "block_limit": sc.block_limit,
                "quota_limit": sc.quota_limit,
            },
            "genesis_block": {
                "timestamp": self.genesis_block.timestamp,
                "prevhash": self.genesis_block.prevhash,
            },
            "node_network_address_list": [n.to_dict() for n in self.node_network_address_list],
            "micro_service_list": [{"image": m.image, "tag": m.tag} for m in self.micro_service_list],
            "stage": self.stage.value,
        }

    def dumps(self, old_text: str | None = None) -> str:
        """The file text: canonical when fresh, or `old_text` edited in place (comments kept)."""
        return toml_edit.update(old_text, self.to_dict())

    def copy(self) -> ChainConfig:
        """A deep copy to edit."""
        return replace(
            self,
            system_config=replace(self.system_config, validators=list(self.system_config.validators)),
            genesis_block=replace(self.genesis_block),
            node_network_address_list=list(self.node_network_address_list),
            micro_service_list=[replace(m) for m in self.micro_service_list],
        )

    # ---- questions ---------------------------------------------------------------------

    def image(self, slot: str) -> MicroService | None:
        """The micro-service filling `slot` (network, consensus, ...), or None."""
        for service in self.micro_service_list:
            if service.image.startswith(slot):
                return service
        return None

    @property
    def consensus(self) -> str:
        """The consensus image name (`consensus_overlord` or `consensus_raft`)."""
        service = self.image("consensus")
        return service.image if service else ""

    @property
    def validator_length(self) -> int:
        """Hex length of a validator address: a BLS key on overlord, a node address otherwise."""
        return BLS_VALIDATOR_LEN if self.consensus == OVERLORD else ADDRESS_LEN

    def node(self, domain: str) -> NodeNetworkAddress | None:
        """The node-list entry for `domain`, or None."""
        for node in self.node_network_address_list:
            if node.domain == domain:
                return node
        return None

    # ---- validation --------------------------------------------------------------------

    def problems(self, chain_name: str) -> Iterator[tuple[str, str]]:
        """Every (field, reason) that makes this configuration unsafe to hand to the services."""
        yield from self._service_problems()
        yield from self._system_problems()
        yield from self._node_problems(chain_name)

    def validate(self, chain_name: str, source: str) -> None:
        """Raise ConfigError for the first problem."""
        for path, reason in self.problems(chain_name):
            raise ConfigError(source, path, reason)

    def _service_problems(self) -> Iterator[tuple[str, str]]:
        images = [m.image for m in self.micro_service_list]
        for i, service in enumerate(self.micro_service_list):
            slot = next((s for s in SERVICE_SLOTS if service.image.startswith(s)), None)
            if slot is None or service.image not in SERVICE_SLOTS[slot]:
                known = ", ".join(i for names in SERVICE_SLOTS.values() for i in names)
                yield f"micro_service_list[{i}].image", f"{service.image!r} is not one of {known}"
            elif sum(1 for img in images if img.startswith(slot)) > 1:
                yield f"micro_service_list[{i}].image", f"a second {slot} service ({service.image})"
            if not _TAG.match(service.tag):
                yield f"micro_service_list[{i}].tag", f"{service.tag!r} is not a valid image tag"
        for slot in SERVICE_SLOTS:
            if self.image(slot) is None:
                yield "micro_service_list", f"has no {slot} service"

    def _system_problems(self) -> Iterator[tuple[str, str]]:
        sc = self.system_config
        reason = hex_problem(sc.chain_id, (64,))
        if reason:
            yield "system_config.chain_id", reason
        if sc.admin or self.stage is not Stage.INIT:
            reason = hex_problem(sc.admin, (ADDRESS_LEN,))
            if reason:
                yield "system_config.admin", reason
        for name, value, low in (
            ("block_interval", sc.block_interval, 1),
            ("block_limit", sc.block_limit, 1),
            ("quota_limit", sc.quota_limit, 1),
        ):
            if not low <= value <= U32_MAX:  # the controller narrows these to u32
                yield f"system_config.{name}", f"must be {low}-{U32_MAX}, got {value}"
        seen: dict[str, int] = {}
        lengths, consensus = (self.validator_length,), self.consensus
        for i, validator in enumerate(sc.validators):
            reason = hex_problem(validator, lengths)
            if reason:
                yield f"system_config.validators[{i}]", f"{reason} (consensus {consensus})"
            elif validator.lower() in seen:
                yield (
                    f"system_config.validators[{i}]",
                    f"duplicate of validators[{seen[validator.lower()]}] ({validator})",
                )
            seen.setdefault(validator.lower(), i)
        if not _PREVHASH.match(self.genesis_block.prevhash):
            yield "genesis_block.prevhash", "must be 0x followed by 64 hex characters"

    def _node_problems(self, chain_name: str) -> Iterator[tuple[str, str]]:
        reason = dns_label_problem(chain_name)
        if reason:
            yield "chain name", f"{chain_name!r} {reason}"
        domains: dict[str, int] = {}
        endpoints: dict[tuple[str, int], int] = {}
        for i, node in enumerate(self.node_network_address_list):
            path = f"node_network_address_list[{i}]"
            bad = node.problem()
            if bad:
                yield f"{path}.{bad[0]}", bad[1]
                continue
            reason = cert_name_problem(chain_name, node.domain)
            if reason:
                yield f"{path}.domain", f"{node_name(chain_name, node.domain)} {reason}"
            if node.domain in domains:
                first = self.node_network_address_list[domains[node.domain]]
                yield f"{path}.domain", f"duplicate domain {node.domain!r}: already listed as {first}"
            domains.setdefault(node.domain, i)
            endpoint = (node.host.lower(), node.port)
            if endpoint in endpoints:
                first = self.node_network_address_list[endpoints[endpoint]]
                yield f"{path}.port", f"{node.host}:{node.port} is already used by {first}"
            endpoints.setdefault(endpoint, i)
