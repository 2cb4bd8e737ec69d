"""Node network addresses: every valid entry survives format -> parse, IPv6 hosts in brackets."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloud_config.model import network_address
from cloud_config.model.network_address import NodeNetworkAddress

LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
HOSTS = st.one_of(
    st.from_regex(r"[a-z][a-z0-9.-]{0,20}[a-z0-9]", fullmatch=True),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
)


@given(HOSTS, st.integers(1, 65535), LABEL, st.one_of(st.just(""), LABEL), LABEL)
def test_format_then_parse_is_identity(host: str, port: int, domain: str, cluster: str, ns: str) -> None:
    node = NodeNetworkAddress(host, port, domain, cluster, ns)
    assert network_address.parse(str(node)) == node


def test_ipv6_host_in_brackets() -> None:
    node = network_address.parse("[2001:db8::1]:40000:node5")
    assert node.host == "2001:db8::1" and node.port == 40000 and node.domain == "node5"
    assert node.host_ip == ipaddress.ip_address("2001:db8::1")
    assert str(node) == "[2001:db8::1]:40000:node5"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("h:40000", "host:port:domain"),
        ("h:40000:n:c:ns:extra", "host:port:domain"),
        ("h:port:n", "port"),
        ("h:65536:n", "port"),
        ("[::1:40000:n", "[ipv6]"),
        ("[zz]:40000:n", "IPv6"),
        ("h:40000:n_1", "domain"),
        ("h:40000:n:k8s:Bad", "name_space"),
    ],
)
def test_bad_addresses_say_what_is_expected(text: str, says: str) -> None:
    with pytest.raises(ValueError) as caught:
        network_address.parse(text)
    assert says in str(caught.value)
