"""The digests behind CITA-Cloud addresses: SM3 (sm flavour) and Keccak-256 (eth flavour)."""

from __future__ import annotations


def sm3(data: bytes) -> bytes:
    """The 32-byte SM3 digest of `data`."""
    from cryptography.hazmat.primitives import hashes

    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def sm3_hex(data: bytes) -> str:
    """Lowercase hex SM3 digest."""
    return sm3(data).hex()


def keccak256(data: bytes) -> bytes:
    """The 32-byte Keccak-256 digest (Ethereum's, not SHA3-256)."""
    from Crypto.Hash import keccak

    return bytes(keccak.new(digest_bits=256, data=data).digest())
