"""One network_zenoh link end on loopback, with aioquic: QUIC, TLS 1.3, ALPN `hq-29`, no client certificate.

What zenoh 1.0.1's QUIC link does (research in docs/membership.md): the listener serves its
certificate and key and asks for no client certificate; the dialer trusts every certificate of
its CA file, sends the text before the first ':' of the peer address as the server name and
checks it against the certificate's SANs only (webpki: no CN fallback; an IP only against IP
SANs). aioquic's client check (OpenSSL chain over the CA file, service_identity names, SAN only)
does the same for the certificates a chain holds. Sockets bind 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from dataclasses import dataclass
from typing import Any

ALPN = "hq-29"
DIAL_TIMEOUT = 20.0  # our own listeners always answer: only a starved CPU comes near it

# Reasons, as the matrix prints them.
OK = "ok"
NAME_MISMATCH = "name mismatch"
UNKNOWN_CA = "unknown CA"
EXPIRED = "expired"
NO_ANSWER = "no answer"
UNRESOLVED = "unresolved"
REFUSED_BY_POLICY = "refused by policy"
OTHER = "TLS error"


@dataclass(frozen=True)
class Outcome:
    """How one dial ended: OK or a reason, with the TLS library's own words."""

    reason: str
    detail: str = ""

    @property
    def ok(self) -> bool:
        """Whether the link came up."""
        return self.reason == OK


def classify(message: str) -> str:
    """The matrix reason for a TLS failure message of aioquic/OpenSSL/service_identity."""
    text = message.lower()
    if "doesn't match" in text or "subjectaltname" in text or "hostname" in text:
        return NAME_MISMATCH
    if "valid yet" in text or "no longer valid" in text or "expired" in text:
        return EXPIRED
    if "issuer" in text or "self-signed" in text or "self signed" in text or "signature" in text:
        return UNKNOWN_CA
    return OTHER


async def listen(cert_pem: str, key_pem: str) -> tuple[Any, int]:
    """A QUIC listener on 127.0.0.1 serving `cert_pem`; (server, its UDP port)."""
    from aioquic.asyncio.server import serve

    server = await serve("127.0.0.1", 0, configuration=_server_config(cert_pem, key_pem))
    transport: Any = server._transport
    port = int(transport.get_extra_info("sockname")[1])
    return server, port


def _server_config(cert_pem: str, key_pem: str) -> Any:
    from aioquic.quic.configuration import QuicConfiguration
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    _quiet()
    config = QuicConfiguration(is_client=False, alpn_protocols=[ALPN])
    chain = x509.load_pem_x509_certificates(cert_pem.encode())
    config.certificate, config.certificate_chain = chain[0], chain[1:]
    config.private_key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    return config


async def dial(port: int, server_name: str, ca_bundle: str) -> Outcome:
    """Dial 127.0.0.1:`port` as zenoh dials `quic/<server_name>:<p>`, trusting every CA in `ca_bundle`."""
    from aioquic.asyncio.protocol import QuicConnectionProtocol
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.connection import QuicConnection
    from aioquic.quic.events import HandshakeCompleted

    _quiet()
    if "-----BEGIN CERTIFICATE-----" not in ca_bundle:
        return Outcome(UNKNOWN_CA, "the dialer's ca_cert holds no certificate: it trusts no CA")
    config = QuicConfiguration(
        is_client=True,
        alpn_protocols=[ALPN],
        server_name=server_name,
        cadata=ca_bundle.encode(),
        verify_mode=ssl.CERT_REQUIRED,
    )
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Outcome] = loop.create_future()

    class Watcher(QuicConnectionProtocol):
        def quic_event_received(self, event: Any) -> None:
            if isinstance(event, HandshakeCompleted) and not done.done():
                done.set_result(Outcome(OK))

        def datagram_received(self, data: bytes | str, addr: Any) -> None:
            super().datagram_received(data, addr)
            closed = self._quic._close_event
            if closed is not None and not done.done():
                phrase = closed.reason_phrase or f"closed with error {closed.error_code}"
                done.set_result(Outcome(classify(phrase), phrase))

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: Watcher(QuicConnection(configuration=config)), sock=sock
    )
    try:
        protocol.connect(("127.0.0.1", port))
        return await asyncio.wait_for(done, DIAL_TIMEOUT)
    except TimeoutError:
        return Outcome(NO_ANSWER, f"nothing answered on UDP 127.0.0.1:{port} in {DIAL_TIMEOUT:g} s")
    finally:
        protocol.close()
        transport.close()


def _quiet() -> None:
    # aioquic logs every closed connection at INFO/WARNING; the matrix says it once, better.
    logging.getLogger("quic").setLevel(logging.CRITICAL)
