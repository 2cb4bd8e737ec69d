"""A node's network address, `host:port:domain[:cluster[:namespace]]` (reference §0.7)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cloud_config.model.names import dns_label_problem

if TYPE_CHECKING:
    import ipaddress

DEFAULT_NAMESPACE = "default"
# `\s` of a str pattern is str.isspace (both are Py_UNICODE_ISSPACE): whitespace, or these characters.
_BAD_IN_HOST = re.compile(r"[\s,\[\]/]")
_BAD_IN_CLUSTER = re.compile(r"[\s,:]")


@dataclass(frozen=True)
class NodeNetworkAddress:
    """One entry of `node_network_address_list`; `cluster == ""` means not on Kubernetes."""

    host: str
    port: int
    domain: str
    cluster: str = ""
    name_space: str = DEFAULT_NAMESPACE

    @property
    def is_k8s(self) -> bool:
        """Whether the node runs on Kubernetes."""
        return self.cluster != ""

    @functools.cached_property
    def host_ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        """The host as an IP address, or None when it is a name (cached: renderers ask once per node)."""
        import ipaddress  # only renderers ask; chain edits stay lighter without it

        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None

    def to_dict(self) -> dict[str, object]:
        """The entry as chain_config.toml holds it."""
        return {
            "cluster": self.cluster,
            "domain": self.domain,
            "host": self.host,
            "name_space": self.name_space,
            "port": self.port,
        }

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        text = f"{host}:{self.port}:{self.domain}"
        if self.is_k8s or self.name_space != DEFAULT_NAMESPACE:
            text += f":{self.cluster}"
        if self.name_space != DEFAULT_NAMESPACE:
            text += f":{self.name_space}"
        return text

    def problem(self) -> tuple[str, str] | None:
        """(field, reason) for the first thing wrong with this entry, or None."""
        if not self.host or _BAD_IN_HOST.search(self.host):
            return "host", f"must be a host name or IP address, got {self.host!r}"
        if not 1 <= self.port <= 65535:
            return "port", f"must be 1-65535, got {self.port}"
        reason = dns_label_problem(self.domain)
        if reason:
            return "domain", f"{self.domain!r} {reason}"
        if _BAD_IN_CLUSTER.search(self.cluster):
            return "cluster", f"must not hold spaces, ',' or ':', got {self.cluster!r}"
        reason = dns_label_problem(self.name_space)
        if reason:
            return "name_space", f"{self.name_space!r} {reason}"
        return None


def parse(text: str) -> NodeNetworkAddress:
    """Parse one `host:port:domain[:cluster[:namespace]]`; an IPv6 host goes in brackets.

    Raises:
        ValueError: with a reason naming the expected form.
    """
    host_part = ""
    rest = text
    if text.startswith("["):
        close = text.find("]")
        if close < 0 or text[close + 1 : close + 2] != ":":
            raise ValueError(f"expected [ipv6]:port:domain[:cluster[:namespace]], got {text!r}")
        host_part = text[1:close]
        try:
            import ipaddress

            ipaddress.IPv6Address(host_part)
        except ValueError:
            raise ValueError(f"{host_part!r} in brackets is not an IPv6 address") from None
        rest = text[close + 2 :]
        fields = [host_part, *rest.split(":")]
    else:
        fields = text.split(":")
    if not 3 <= len(fields) <= 5:
        raise ValueError(
            f"expected host:port:domain[:cluster[:namespace]] (IPv6 host in brackets), got {text!r}"
        )
    host, port_text, domain = fields[:3]
    if not port_text.isdigit():
        raise ValueError(f"port must be a number 1-65535, got {port_text!r} in {text!r}")
    cluster = fields[3] if len(fields) > 3 else ""
    name_space = fields[4] if len(fields) > 4 else DEFAULT_NAMESPACE
    node = NodeNetworkAddress(host, int(port_text), domain, cluster, name_space)
    bad = node.problem()
    if bad:
        raise ValueError(f"{bad[0]} {bad[1]} in {text!r}")
    return node


def parse_list(text: str) -> list[NodeNetworkAddress]:
    """Parse a comma-separated list of node addresses."""
    return [parse(item) for item in text.split(",")]


def cidr_problem(text: str) -> str | None:
    """Why `text` is not an IPv4 or IPv6 network (`10.0.0.0/24`, `203.0.113.7/32`), or None."""
    import ipaddress

    try:
        ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        return f"is not a CIDR network ({exc})"
    return None


def host_cidr(host: str) -> str | None:
    """`<ip>/32` (or `/128`) when the host is an IP address, else None."""
    import ipaddress

    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    return f"{ip}/{ip.max_prefixlen}"


def parse_peer_cidrs(text: str) -> dict[str, str]:
    """`DOMAIN=CIDR,...` (as `[deployment] peer_cidrs` saves it) to {domain: cidr}; raises ValueError."""
    found: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        domain, sep, cidr = item.partition("=")
        if not sep or not domain or any(ch.isspace() for ch in domain):
            raise ValueError(f"expected DOMAIN=CIDR, got {item!r}")
        problem = cidr_problem(cidr)
        if problem:
            raise ValueError(f"{item!r}: {cidr!r} {problem}")
        found[domain] = cidr
    return found


def merge_peer_cidrs(saved: str, given: list[str]) -> str:
    """The saved `DOMAIN=CIDR,...` with each given `DOMAIN=CIDR` over it (`DOMAIN=` drops it)."""
    merged = parse_peer_cidrs(saved)
    for item in given:
        domain, sep, cidr = item.partition("=")
        if sep and not cidr:
            merged.pop(domain, None)
        else:
            merged.update(parse_peer_cidrs(item))
    return ",".join(f"{d}={c}" for d, c in merged.items())
