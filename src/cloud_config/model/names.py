"""Checks for the names and hex values that end up in certificates, Kubernetes and the services."""

from __future__ import annotations

import functools
import re

from cloud_config.model.paths import node_name

_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_HEX = re.compile(r"^[0-9a-fA-F]*$")
DNS_LABEL_MAX = 63


@functools.lru_cache(maxsize=8192)  # a node list asks it of the same namespaces again and again
def dns_label_problem(name: str) -> str | None:
    """Why `name` is not a DNS-1123 label (Kubernetes object and certificate name), or None."""
    if not name:
        return "must not be empty"
    if len(name) > DNS_LABEL_MAX:
        return f"must be at most {DNS_LABEL_MAX} characters, got {len(name)}"
    if not _DNS_LABEL.match(name):
        return "must use only lowercase letters, digits and '-', and start and end with a letter or digit"
    return None


def cert_name_problem(chain_name: str, domain: str) -> str | None:
    """Why `{chain}-{domain}` cannot name a node's certificate and Kubernetes objects, or None."""
    return dns_label_problem(node_name(chain_name, domain))


def strip_0x(value: str) -> str:
    """`value` without one leading `0x` or `0X`."""
    return value[2:] if value[:2] in ("0x", "0X") else value


def hex_problem(value: str, lengths: tuple[int, ...]) -> str | None:
    """Why `value` (already without 0x) is not hex of one of `lengths` characters, or None."""
    if not _HEX.match(value):
        return f"must be hexadecimal, got {value!r}"
    if len(value) not in lengths:
        want = " or ".join(str(n) for n in lengths)
        return f"must be {want} hex characters, got {len(value)}"
    return None
