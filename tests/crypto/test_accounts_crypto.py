"""crypto.accounts: addresses of the reference vector, key checks, and a cross-check with other libraries."""

from __future__ import annotations

import secrets

import gmalg
import pytest
from py_ecc.bls import G2ProofOfPossession  # type: ignore[attr-defined]
from py_ecc.optimized_bls12_381 import curve_order  # type: ignore[attr-defined]
from py_ecc.secp256k1 import secp256k1

from cloud_config.crypto import accounts
from cloud_config.crypto.accounts import BLS_ORDER, Account, derive_account, generate_account
from cloud_config.errors import UsageError

# Reference §3.1 (the README's import-account example).
VECTOR_KEY = "60e7b47ee260516dbfedf8e80ff38830bae8663cc498a900a610c147cae94344"
VECTOR_NODE = "097913007f2c8d9ac87f89664fc70977fee6bf9a"
VECTOR_BLS = (
    "965e7f200043a8ae543478330faf1c751f4c4d8040f93a7d0b8881085b8583bea6f7166ddc0c5bb9adff8563f7b3cbd2"
)
OVERLORD, RAFT = "consensus_overlord", "consensus_raft"


def test_reference_vector_on_overlord() -> None:
    account = derive_account(bytes.fromhex(VECTOR_KEY), OVERLORD)
    assert account.node_address == VECTOR_NODE
    assert account.validator_address == VECTOR_BLS
    assert account.private_key_hex == VECTOR_KEY


def test_reference_vector_on_raft_validator_is_node_address() -> None:
    account = derive_account(bytes.fromhex(VECTOR_KEY), RAFT)
    assert account.validator_address == account.node_address == VECTOR_NODE


def test_eth_flavour_gives_the_ethereum_address_of_key_one() -> None:
    """Private key 1 has the well-known Ethereum address 0x7e5f...5bdf."""
    account = derive_account((1).to_bytes(32, "big"), RAFT, "eth")
    assert account.node_address == "7e5f4552091a69125d5dfcb7b8c2659029395bdf"


def test_repr_and_str_never_show_the_secret() -> None:
    account = derive_account(bytes.fromhex(VECTOR_KEY), OVERLORD)
    for text in (repr(account), str(account), f"{account}"):
        assert VECTOR_KEY not in text
        assert "secret" not in text


def test_bls_order_matches_py_ecc() -> None:
    assert curve_order == BLS_ORDER


@pytest.mark.parametrize(
    "value",
    [0, BLS_ORDER, BLS_ORDER + 5, 2**256 - 1],
    ids=["zero", "order", "above-order", "max"],
)
def test_out_of_range_keys_are_refused_without_echo(value: int) -> None:
    secret = value.to_bytes(32, "big")
    with pytest.raises(UsageError) as caught:
        derive_account(secret, OVERLORD)
    assert str(caught.value).startswith("--privkey: ")
    assert secret.hex() not in str(caught.value)


def test_short_key_is_refused() -> None:
    with pytest.raises(UsageError, match="32-byte"):
        derive_account(b"\x01" * 31, RAFT)


@pytest.mark.parametrize(
    ("text", "reason"),
    [("12" * 31, "64 hex characters"), ("zz" * 32, "hexadecimal"), ("0x" + "1" * 66, "64 hex")],
)
def test_secret_from_hex_refuses_bad_text(text: str, reason: str) -> None:
    with pytest.raises(UsageError, match=reason) as caught:
        accounts.secret_from_hex(text)
    assert text not in str(caught.value)


def test_secret_from_hex_accepts_0x_and_uppercase() -> None:
    assert accounts.secret_from_hex("0x" + VECTOR_KEY.upper()) == bytes.fromhex(VECTOR_KEY)


def test_unknown_flavour_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--crypto"):
        derive_account(bytes.fromhex(VECTOR_KEY), RAFT, "rsa")


def test_generated_secrets_are_valid_and_distinct() -> None:
    made = [generate_account(OVERLORD) for _ in range(20)]
    assert len({a.secret for a in made}) == 20
    for account in made:
        assert 1 <= int.from_bytes(account.secret, "big") < BLS_ORDER
        assert derive_account(account.secret, OVERLORD) == account
        assert len(account.validator_address) == 96


def _gmalg_sm_address(secret: bytes) -> str:
    public = gmalg.SM2(secret).generate_pk(secret)
    assert public[0] == 4
    digest = gmalg.SM3()
    digest.update(public[1:])
    return bytes(digest.value())[-20:].hex()


@pytest.mark.slow
def test_200_random_accounts_match_independent_implementations() -> None:
    """gmalg (pure-Python SM2/SM3) and py_ecc (pure-Python BLS) agree with the production path."""
    for _ in range(200):
        secret = (secrets.randbelow(BLS_ORDER - 1) + 1).to_bytes(32, "big")
        account = derive_account(secret, OVERLORD)
        assert account.node_address == _gmalg_sm_address(secret)
        expected_bls = G2ProofOfPossession.SkToPk(int.from_bytes(secret, "big"))
        assert account.validator_address == bytes(expected_bls).hex()


def test_random_eth_accounts_match_py_ecc_secp256k1() -> None:
    for _ in range(20):
        account = generate_account(RAFT, "eth")
        x, y = secp256k1.privtopub(account.secret)
        public = x.to_bytes(32, "big") + y.to_bytes(32, "big")
        assert accounts.secp256k1_public_key(account.secret) == public


def test_account_is_frozen() -> None:
    account = Account(b"\x01" * 32, "a" * 40, "a" * 40)
    with pytest.raises(AttributeError):
        account.node_address = "b" * 40  # type: ignore[misc]
