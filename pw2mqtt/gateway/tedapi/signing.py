"""What a v1r signature covers, and how it is made and checked.

The gateway does not verify a signature over the serialized RoutableMessage: it rebuilds a short
tag-length-value prefix from what it knows (signature type, domain, its own DIN, the message's
`expires_at`) and verifies the signature over that prefix followed by the envelope bytes. A
message signed for another DIN or altered in any byte therefore fails (fault 5).

    00 01 07            signature type: RSA (7)
    01 01 07            domain: energy device (7)
    02 <len> <DIN>      personalization: the gateway's DIN, ASCII
    04 04 <u32 BE>      expires at, Unix seconds
    FF                  end
    <envelope bytes>

RSA PKCS#1 v1.5 with SHA-512; Tesla's pairing accepts RSA-4096 keys.
"""

from __future__ import annotations

from typing import Final

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

SIGNATURE_TYPE_RSA: Final = 7
DOMAIN_ENERGY_DEVICE: Final = 7

_TAG_SIGNATURE_TYPE: Final = 0x00
_TAG_DOMAIN: Final = 0x01
_TAG_PERSONALIZATION: Final = 0x02
_TAG_EXPIRES_AT: Final = 0x04
_TAG_END: Final = 0xFF
_MAX_U32: Final = 0xFFFF_FFFF


def signed_bytes(din: str, expires_at: int, envelope: bytes) -> bytes:
    """The exact bytes a gateway with this DIN verifies the signature over."""
    if not 0 <= expires_at <= _MAX_U32:
        msg = f"expires_at {expires_at} does not fit an unsigned 32-bit number"
        raise ValueError(msg)
    return b"".join(
        (
            _tlv(_TAG_SIGNATURE_TYPE, bytes((SIGNATURE_TYPE_RSA,))),
            _tlv(_TAG_DOMAIN, bytes((DOMAIN_ENERGY_DEVICE,))),
            _tlv(_TAG_PERSONALIZATION, _din_bytes(din)),
            _tlv(_TAG_EXPIRES_AT, expires_at.to_bytes(4, "big")),
            bytes((_TAG_END,)),
            envelope,
        )
    )


def sign(private_key: rsa.RSAPrivateKey, din: str, expires_at: int, envelope: bytes) -> bytes:
    return private_key.sign(
        signed_bytes(din, expires_at, envelope), padding.PKCS1v15(), hashes.SHA512()
    )


def verify(
    public_key: rsa.RSAPublicKey, signature: bytes, din: str, expires_at: int, envelope: bytes
) -> bool:
    """True when `signature` is valid for this DIN, expiry and envelope, as a gateway checks it."""
    try:
        data = signed_bytes(din, expires_at, envelope)
    except ValueError:
        return False
    try:
        public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA512())
    except InvalidSignature:
        return False
    return True


def public_key_der(public_key: rsa.RSAPublicKey) -> bytes:
    """The PKCS#1 DER form: what the RoutableMessage and Tesla's pairing request carry."""
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)


def load_public_key_der(der: bytes) -> rsa.RSAPublicKey:
    """The inverse of `public_key_der`; ValueError when `der` is not a PKCS#1 RSA public key."""
    try:
        key = serialization.load_der_public_key(der)
    except UnsupportedAlgorithm as err:
        raise ValueError(str(err)) from err
    if not isinstance(key, rsa.RSAPublicKey):
        msg = "not an RSA public key"
        raise ValueError(msg)
    return key


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes((tag, len(value))) + value


def _din_bytes(din: str) -> bytes:
    try:
        encoded = din.encode("ascii")
    except UnicodeEncodeError:
        msg = f"DIN {din!r} is not ASCII"
        raise ValueError(msg) from None
    if not 0 < len(encoded) <= 0xFF:
        msg = f"DIN {din!r} must be 1 to 255 characters long"
        raise ValueError(msg)
    return encoded
