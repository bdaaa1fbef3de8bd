"""The signing key: generated or imported once, kept in a file only its owner can read.

A paired key can change the gateway's settings and revoke every other paired key, so it is as
sensitive as the owner's Tesla account: the file is written with mode 0600, a file that others
may read or write is refused (as ssh does), and no repr or error message shows key material.

The fingerprint is `SHA256:` followed by the unpadded base64 of SHA-256 over the public key's
PKCS#1 DER, the bytes the gateway and Tesla's pairing request carry. It is written in ssh's
style so users recognise it, but it is not the fingerprint `ssh-keygen -l` shows for the same key
(ssh hashes its own encoding of the key).
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from pw2mqtt.files import write_durably
from pw2mqtt.gateway.tedapi.errors import (
    KeyFileAccessError,
    KeyFileExistsError,
    KeyFileMissingError,
    KeyFilePermissionsError,
    UnsupportedKeyError,
)
from pw2mqtt.gateway.tedapi.signing import public_key_der

KEY_FILE_NAME: Final = "tedapi-key.pem"
KEY_SIZE: Final = 4096
MIN_KEY_SIZE: Final = 2048
_PUBLIC_EXPONENT: Final = 65537
_MAX_KEY_FILE_BYTES: Final = 64 * 1024
_GROUP_OR_OTHERS: Final = stat.S_IRWXG | stat.S_IRWXO


@dataclass(frozen=True, slots=True, eq=False)
class SigningKey:
    """An RSA private key for v1r; its repr names it by fingerprint only."""

    private_key: rsa.RSAPrivateKey = field(repr=False)

    def __repr__(self) -> str:
        return f"SigningKey({self.fingerprint}, {self.key_size} bits)"

    @property
    def key_size(self) -> int:
        return self.private_key.key_size

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    @property
    def public_key_der(self) -> bytes:
        """PKCS#1 DER: what signed messages carry."""
        return public_key_der(self.public_key)

    @property
    def public_key_base64(self) -> str:
        """Base64 of the PKCS#1 DER: what Tesla's pairing request (`public_key`) takes."""
        return base64.b64encode(self.public_key_der).decode("ascii")

    @property
    def public_key_pem(self) -> str:
        """A `BEGIN PUBLIC KEY` PEM (SubjectPublicKeyInfo), as `openssl pkey -pubout` writes."""
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key_der)


def fingerprint(public_key_pkcs1_der: bytes) -> str:
    digest = hashlib.sha256(public_key_pkcs1_der).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


# --- where the key lives -------------------------------------------------------------------------


def key_path_for(state_dir: Path, gateway_slug: str | None = None) -> Path:
    """The shared key file, or with a slug the file of that gateway's own key."""
    if gateway_slug is None:
        return state_dir / KEY_FILE_NAME
    if gateway_slug in ("", ".", "..") or "/" in gateway_slug or "\\" in gateway_slug:
        msg = f"gateway slug {gateway_slug!r} cannot name a directory"
        raise ValueError(msg)
    return state_dir / gateway_slug / KEY_FILE_NAME


def resolve_key_path(
    state_dir: Path,
    gateway_slug: str | None = None,
    *,
    exists: Callable[[Path], bool] = Path.exists,
) -> Path:
    """The key file to use for a gateway: its own key when there is one, else the shared one."""
    if gateway_slug is not None:
        own = key_path_for(state_dir, gateway_slug)
        if exists(own):
            return own
    return key_path_for(state_dir)


# --- making, importing, saving and loading keys --------------------------------------------------


def generate_key(*, key_size: int = KEY_SIZE) -> SigningKey:
    """A new RSA key; `key_size` other than the default is meant for tests only."""
    return SigningKey(rsa.generate_private_key(public_exponent=_PUBLIC_EXPONENT, key_size=key_size))


def import_key(pem: bytes, source: Path | None = None) -> SigningKey:
    """A key from a PEM private key made by another tool: PKCS#1 (`BEGIN RSA PRIVATE KEY`) or
    PKCS#8 (`BEGIN PRIVATE KEY`), unencrypted, RSA of at least 2048 bits."""
    if b"ENCRYPTED" in pem:
        reason = (
            "it is encrypted with a passphrase; write an unencrypted copy with "
            "`openssl pkey -in KEY -out PLAIN` and import that"
        )
        raise UnsupportedKeyError(reason, source)
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        reason = "not a PEM private key (expected BEGIN RSA PRIVATE KEY or BEGIN PRIVATE KEY)"
        raise UnsupportedKeyError(reason, source) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        reason = f"it is {_kind(key)} key; Tesla's signed local control needs an RSA key"
        raise UnsupportedKeyError(reason, source)
    if key.key_size < MIN_KEY_SIZE:
        reason = (
            f"it has {key.key_size} bits; at least {MIN_KEY_SIZE} are needed ({KEY_SIZE} advised)"
        )
        raise UnsupportedKeyError(reason, source)
    return SigningKey(key)


def save_key(key: SigningKey, path: Path, *, replace: bool = False) -> None:
    """Write the key as a PKCS#8 PEM, mode 0600, atomically and durably.

    The file appears complete or not at all, and survives a power cut once this returns: the
    PEM goes to a temporary file in the same directory, which is flushed to disk, renamed over
    `path`, and the directory itself is flushed. An existing key is kept unless `replace` is
    set, since it may be the one paired with the gateway.
    """
    if not replace and path.exists():
        raise KeyFileExistsError(path)
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_durably(path, pem)
    except OSError as err:
        raise KeyFileAccessError(path, f"cannot write it ({err.strerror or err})") from None


def load_key(path: Path) -> SigningKey:
    """The key in `path`; refused when others than its owner may read or write the file."""
    try:
        with path.open("rb") as file:
            mode = stat.S_IMODE(os.fstat(file.fileno()).st_mode)
            if mode & _GROUP_OR_OTHERS:
                raise KeyFilePermissionsError(path, mode)
            pem = file.read(_MAX_KEY_FILE_BYTES + 1)
    except FileNotFoundError:
        raise KeyFileMissingError(path) from None
    except IsADirectoryError:
        raise KeyFileAccessError(path, "it is a directory") from None
    except OSError as err:
        raise KeyFileAccessError(path, f"cannot read it ({err.strerror or err})") from None
    if len(pem) > _MAX_KEY_FILE_BYTES:
        raise UnsupportedKeyError("the file is too large to be a PEM private key", path)
    return import_key(pem, path)


def _kind(key: PrivateKeyTypes) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return f"an elliptic-curve ({key.curve.name})"
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return "an EdDSA"
    if isinstance(key, dsa.DSAPrivateKey):
        return "a DSA"
    return "a non-RSA"
