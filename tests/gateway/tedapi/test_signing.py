"""The signed byte layout of TEDAPI v1r, and signing and verifying over it."""

from __future__ import annotations

import pytest

from pw2mqtt.gateway.tedapi.keys import SigningKey
from pw2mqtt.gateway.tedapi.signing import (
    load_public_key_der,
    public_key_der,
    sign,
    signed_bytes,
    verify,
)
from tests.gateway.tedapi.conftest import DIN, OTHER_DIN

ENVELOPE = b"\x08\x02\x12\x02\x20\x01"
EXPIRES_AT = 0x6789ABCD


def test_signed_bytes_are_the_tlv_prefix_then_the_envelope() -> None:
    expected = (
        bytes.fromhex("000107")  # signature type RSA
        + bytes.fromhex("010107")  # domain energy device
        + bytes.fromhex("021c")  # personalization, 28 bytes
        + b"1232100-00-E--TG123456789012"
        + bytes.fromhex("0404")  # expires at, 4 bytes
        + bytes.fromhex("6789abcd")  # big-endian
        + bytes.fromhex("ff")  # end
        + ENVELOPE
    )
    assert signed_bytes(DIN, EXPIRES_AT, ENVELOPE) == expected


def test_a_signature_verifies_for_the_same_din_expiry_and_envelope(key: SigningKey) -> None:
    signature = sign(key.private_key, DIN, EXPIRES_AT, ENVELOPE)
    assert len(signature) == key.key_size // 8
    assert verify(key.public_key, signature, DIN, EXPIRES_AT, ENVELOPE)


@pytest.mark.parametrize(
    ("din", "expires_at", "envelope"),
    [
        pytest.param(DIN, EXPIRES_AT, ENVELOPE[:-1] + b"\x02", id="tampered envelope"),
        pytest.param(DIN, EXPIRES_AT, ENVELOPE + b"\x00", id="longer envelope"),
        pytest.param(OTHER_DIN, EXPIRES_AT, ENVELOPE, id="another gateway"),
        pytest.param(DIN, EXPIRES_AT + 1, ENVELOPE, id="another expiry"),
        pytest.param("", EXPIRES_AT, ENVELOPE, id="no DIN"),
        pytest.param(DIN, -1, ENVELOPE, id="expiry out of range"),
    ],
)
def test_anything_else_fails_verification(
    key: SigningKey, din: str, expires_at: int, envelope: bytes
) -> None:
    signature = sign(key.private_key, DIN, EXPIRES_AT, ENVELOPE)
    assert not verify(key.public_key, signature, din, expires_at, envelope)


def test_another_key_fails_verification(key: SigningKey, other_key: SigningKey) -> None:
    signature = sign(other_key.private_key, DIN, EXPIRES_AT, ENVELOPE)
    assert not verify(key.public_key, signature, DIN, EXPIRES_AT, ENVELOPE)
    assert not verify(key.public_key, b"\x00" * 256, DIN, EXPIRES_AT, ENVELOPE)


@pytest.mark.parametrize(
    ("din", "expires_at"),
    [
        ("1232100-00-E--TG12345678901\u00e9", EXPIRES_AT),
        ("X" * 256, EXPIRES_AT),
        ("", EXPIRES_AT),
        (DIN, 2**32),
        (DIN, -1),
    ],
)
def test_signed_bytes_refuse_what_the_layout_cannot_hold(din: str, expires_at: int) -> None:
    with pytest.raises(ValueError, match=r"DIN|expires_at"):
        signed_bytes(din, expires_at, ENVELOPE)


def test_the_public_key_goes_as_pkcs1_der_and_reads_back(key: SigningKey) -> None:
    der = public_key_der(key.public_key)
    assert der[0] == 0x30  # a SEQUENCE of modulus and exponent, no algorithm identifier
    assert load_public_key_der(der).public_numbers() == key.public_key.public_numbers()


@pytest.mark.parametrize("der", [b"", b"\x30\x03\x02\x01\x01", b"not a key"])
def test_a_malformed_public_key_is_a_value_error(der: bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - cryptography's messages vary by version
        load_public_key_der(der)
