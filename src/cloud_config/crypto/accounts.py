"""Node accounts as cloud-config makes them (reference §3): one 32-byte secret, two addresses.

The secret is at once an SM2 (or secp256k1) private key, which gives the node address, and a
BLS12-381 secret key, which gives the validator address of a consensus_overlord chain.
Pure: bytes in, values out; no file I/O.
"""

from __future__ import annotations

import functools
import secrets as _random
from dataclasses import dataclass, field

from cloud_config.errors import UsageError
from cloud_config.model.names import strip_0x

# The order of the BLS12-381 group: a BLS secret key is a scalar in [1, BLS_ORDER - 1].
BLS_ORDER = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
# The orders of the SM2 (sm2p256v1) and secp256k1 groups: the node key's range on other chains.
SM2_ORDER = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SECRET_LEN = 32
OVERLORD = "consensus_overlord"
FLAVOURS = ("sm", "eth")
_KEY_FLAG = "--privkey"
_PAIR_CHECK_DIGEST = b"cloud-config: sm2 key pair check"


@dataclass(frozen=True)
class Account:
    """A node's key and the two addresses derived from it; the secret never shows in a repr."""

    secret: bytes = field(repr=False)
    node_address: str
    validator_address: str

    @property
    def private_key_hex(self) -> str:
        """The secret as cloud-config stores it: 64 lowercase hex characters, no 0x."""
        return self.secret.hex()


def secret_from_hex(text: str) -> bytes:
    """The 32-byte secret from `--privkey` text (0x optional); the key is never echoed."""
    digits = strip_0x(text.strip())
    if len(digits) != 2 * SECRET_LEN:
        raise UsageError(_KEY_FLAG, f"expected 64 hex characters (0x optional), got {len(digits)}")
    try:
        return bytes.fromhex(digits)
    except ValueError:
        raise UsageError(_KEY_FLAG, "expected hexadecimal characters only (0-9, a-f)") from None


def check_secret(secret: bytes, consensus: str = OVERLORD, flavour: str = "sm") -> None:
    """Refuse a secret that is not a valid key on a chain with `consensus`.

    cloud-config 6.7.4 (import_account.rs at d3647880) derives a BLS key only on an overlord
    chain; there the key must be below the BLS12-381 order (below the SM2 and secp256k1 orders
    too), elsewhere below the order of the node key's own curve.
    """
    if len(secret) != SECRET_LEN:
        raise UsageError(_KEY_FLAG, f"expected a {SECRET_LEN}-byte key, got {len(secret)} bytes")
    if consensus == OVERLORD:
        order, what = BLS_ORDER, "the BLS12-381 group order 0x73eda753...00000001 (on an overlord chain "
        what += "it serves as both the node key and the BLS validator key)"
    elif flavour == "sm":
        order, what = SM2_ORDER, "the SM2 group order 0xfffffffe...39d54123"
    else:
        order, what = SECP256K1_ORDER, "the secp256k1 group order 0xffffffff...d0364141"
    if not 1 <= int.from_bytes(secret, "big") < order:
        raise UsageError(_KEY_FLAG, f"not a valid key: it must be a non-zero number below {what}")


@functools.lru_cache(maxsize=1024)
def derive_account(secret: bytes, consensus: str, flavour: str = "sm") -> Account:
    """The account of `secret` on a chain whose consensus service is `consensus` (pure, so cached:
    a flow writes an account, then reads it back twice, and each derivation costs ~4 ms)."""
    check_flavour(flavour)
    check_secret(secret, consensus, flavour)
    node_address = (sm_address if flavour == "sm" else eth_address)(secret)
    validator = bls_public_key(secret).hex() if consensus == OVERLORD else node_address
    return Account(secret, node_address, validator)


def generate_account(consensus: str, flavour: str = "sm") -> Account:
    """A new account from the OS random source: a uniform scalar in [1, BLS_ORDER - 1]."""
    value = _random.randbelow(BLS_ORDER - 1) + 1
    return derive_account(value.to_bytes(SECRET_LEN, "big"), consensus, flavour)


def check_flavour(flavour: str) -> None:
    """Refuse an unknown `--crypto` flavour."""
    if flavour not in FLAVOURS:
        raise UsageError("--crypto", f"expected one of {', '.join(FLAVOURS)}, got {flavour!r}")


def sm2_public_key(secret: bytes) -> bytes:
    """The SM2 (sm2p256v1) public key of `secret` as 64 bytes X||Y."""
    from tongsuopy.crypto.asymciphers import ec

    numbers = ec.derive_private_key(int.from_bytes(secret, "big"), ec.SM2()).public_key().public_numbers()
    x: int = numbers.x
    y: int = numbers.y
    return x.to_bytes(32, "big") + y.to_bytes(32, "big")


def sm_address(secret: bytes) -> str:
    """The sm node address: the last 20 bytes of SM3 over the SM2 public key X||Y."""
    from cloud_config.crypto.hashes import sm3

    public = sm2_public_key(secret)
    _confirm_sm2_pair(secret, public)
    return sm3(public)[-20:].hex()


def _confirm_sm2_pair(secret: bytes, public: bytes) -> None:
    """Have GmSSL sign with `secret` and check the signature against `public`.

    GmSSL (gmssl-pyx) cannot compute a public key from a given private key, so Tongsuo does;
    a second implementation agreeing before any address is written costs about 3 ms.
    """
    import gmssl_pyx

    signature = gmssl_pyx.sm2_sign_sm3_digest(secret, _PAIR_CHECK_DIGEST)
    if not gmssl_pyx.sm2_verify_sm3_digest(public, _PAIR_CHECK_DIGEST, signature):
        raise RuntimeError("SM2 libraries disagree on a public key (Tongsuo vs GmSSL)")


def secp256k1_public_key(secret: bytes) -> bytes:
    """The secp256k1 public key of `secret` as 64 bytes X||Y."""
    import coincurve

    return bytes(coincurve.PrivateKey(secret).public_key.format(compressed=False))[1:]


def eth_address(secret: bytes) -> str:
    """The eth node address: the last 20 bytes of Keccak-256 over the secp256k1 key X||Y."""
    from cloud_config.crypto.hashes import keccak256

    return keccak256(secp256k1_public_key(secret))[-20:].hex()


def bls_public_key(secret: bytes) -> bytes:
    """The 48-byte compressed BLS12-381 G1 public key (blst min_pk) of `secret`."""
    import warnings

    with warnings.catch_warnings():
        # The binding warns on import that it is unmaintained; it is pinned and cross-checked.
        warnings.simplefilter("ignore", DeprecationWarning)
        import milagro_bls_binding

    return bytes(milagro_bls_binding.SkToPk(secret))
