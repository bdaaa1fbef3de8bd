"""The signing key store: generation, import, durable 0600 files, refusals that say what to do."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from pw2mqtt.errors import GatewayError
from pw2mqtt.gateway.tedapi import keys
from pw2mqtt.gateway.tedapi.errors import (
    KeyFileAccessError,
    KeyFileExistsError,
    KeyFileMissingError,
    KeyFilePermissionsError,
    KeyStoreError,
    UnsupportedKeyError,
)
from pw2mqtt.gateway.tedapi.keys import (
    SigningKey,
    generate_key,
    import_key,
    key_path_for,
    load_key,
    resolve_key_path,
    save_key,
)
from pw2mqtt.gateway.tedapi.signing import load_public_key_der


def _pem(key: SigningKey, fmt: serialization.PrivateFormat) -> bytes:
    return key.private_key.private_bytes(
        serialization.Encoding.PEM, fmt, serialization.NoEncryption()
    )


def _secrets(key: SigningKey) -> list[str]:
    """Text forms of the private key that must never show up in messages."""
    numbers = key.private_key.private_numbers()
    pkcs8 = _pem(key, serialization.PrivateFormat.PKCS8).decode()
    body = "".join(pkcs8.splitlines()[1:-1])
    return [str(numbers.d), str(numbers.p), f"{numbers.d:x}", body[:40], body[-40:]]


# --- generation and the public forms -------------------------------------------------------------


def test_the_production_default_is_rsa_4096() -> None:
    assert keys.KEY_SIZE == 4096
    assert generate_key().key_size == 4096


def test_public_key_forms_agree(key: SigningKey) -> None:
    der = base64.b64decode(key.public_key_base64)
    assert der == key.public_key_der
    assert load_public_key_der(der).public_numbers() == key.public_key.public_numbers()
    loaded = serialization.load_pem_public_key(key.public_key_pem.encode())
    assert isinstance(loaded, rsa.RSAPublicKey)
    assert loaded.public_numbers() == key.public_key.public_numbers()
    assert key.public_key_pem.startswith("-----BEGIN PUBLIC KEY-----\n")


def test_the_fingerprint_is_ssh_style_sha256_over_the_pkcs1_der(key: SigningKey) -> None:
    digest = hashlib.sha256(key.public_key_der).digest()
    assert key.fingerprint == "SHA256:" + base64.b64encode(digest).decode().rstrip("=")
    assert len(key.fingerprint) == len("SHA256:") + 43
    assert not key.fingerprint.endswith("=")


def test_the_repr_names_the_key_by_fingerprint_only(key: SigningKey) -> None:
    text = repr(key) + str(key)
    assert key.fingerprint in text
    for secret in _secrets(key):
        assert secret not in text


# --- where the key lives -------------------------------------------------------------------------


def test_key_paths() -> None:
    state = Path("/var/lib/pw2mqtt")
    assert key_path_for(state) == state / "tedapi-key.pem"
    assert key_path_for(state, "home") == state / "home" / "tedapi-key.pem"


@pytest.mark.parametrize("slug", ["", ".", "..", "a/b", "..\\x"])
def test_a_slug_must_be_one_directory_name(slug: str) -> None:
    with pytest.raises(ValueError, match="slug"):
        key_path_for(Path("/state"), slug)


def test_a_gateways_own_key_takes_precedence_when_present() -> None:
    state = Path("/state")
    own = state / "garage" / "tedapi-key.pem"
    assert resolve_key_path(state, "garage", exists={own}.__contains__) == own
    assert resolve_key_path(state, "house", exists={own}.__contains__) == state / "tedapi-key.pem"
    assert resolve_key_path(state, None, exists={own}.__contains__) == state / "tedapi-key.pem"
    assert resolve_key_path(state, "garage", exists=lambda _p: False) == state / "tedapi-key.pem"


# --- saving and loading --------------------------------------------------------------------------


def test_a_saved_key_is_pkcs8_mode_0600_and_loads_back(key: SigningKey, tmp_path: Path) -> None:
    path = tmp_path / "state" / "tedapi-key.pem"
    save_key(key, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----\n")
    assert load_key(path).fingerprint == key.fingerprint
    assert [p.name for p in path.parent.iterdir()] == ["tedapi-key.pem"]  # no temporary left


def test_saving_ignores_a_permissive_umask(key: SigningKey, tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        save_key(key, tmp_path / "k.pem")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "k.pem").stat().st_mode) == 0o600


def test_saving_syncs_the_file_and_its_directory(
    key: SigningKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    save_key(key, tmp_path / "k.pem")
    assert synced == ["file", "dir"]


def test_an_existing_key_is_not_replaced_unless_asked(
    key: SigningKey, other_key: SigningKey, tmp_path: Path
) -> None:
    path = tmp_path / "k.pem"
    save_key(key, path)
    with pytest.raises(KeyFileExistsError, match="already exists"):
        save_key(other_key, path)
    assert load_key(path).fingerprint == key.fingerprint
    save_key(other_key, path, replace=True)
    assert load_key(path).fingerprint == other_key.fingerprint


def test_a_failed_write_leaves_no_temporary_file(
    key: SigningKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(_fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(KeyFileAccessError, match="No space left"):
        save_key(key, tmp_path / "k.pem")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o602, 0o620])
def test_a_key_file_open_to_others_is_refused_with_the_fix(
    key: SigningKey, tmp_path: Path, mode: int
) -> None:
    path = tmp_path / "k.pem"
    save_key(key, path)
    path.chmod(mode)
    with pytest.raises(KeyFilePermissionsError) as caught:
        load_key(path)
    message = str(caught.value)
    assert f"{mode:04o}" in message
    assert f"chmod 600 {path}" in message
    assert caught.value.path == path


def test_an_owner_only_mode_stricter_than_0600_is_fine(key: SigningKey, tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    save_key(key, path)
    path.chmod(0o400)
    assert load_key(path).fingerprint == key.fingerprint


def test_a_missing_key_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(KeyFileMissingError, match="pw2mqtt pair") as caught:
        load_key(tmp_path / "absent.pem")
    assert isinstance(caught.value, KeyStoreError)
    assert isinstance(caught.value, GatewayError)


def test_a_directory_is_not_a_key_file(tmp_path: Path) -> None:
    (tmp_path / "k.pem").mkdir(mode=0o700)
    with pytest.raises(KeyFileAccessError, match="directory"):
        load_key(tmp_path / "k.pem")


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"garbage\n",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        b"\x00" * 70_000,
    ],
)
def test_a_corrupt_key_file_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "k.pem"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(UnsupportedKeyError, match=str(path)):
        load_key(path)


def test_a_truncated_key_file_does_not_echo_its_content(key: SigningKey, tmp_path: Path) -> None:
    pem = _pem(key, serialization.PrivateFormat.PKCS8)
    path = tmp_path / "k.pem"
    path.write_bytes(pem[: len(pem) // 2])
    path.chmod(0o600)
    with pytest.raises(UnsupportedKeyError) as caught:
        load_key(path)
    text = str(caught.value) + repr(caught.value)
    for secret in _secrets(key):
        assert secret not in text
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


# --- importing keys made by other tools ----------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "header"),
    [
        (serialization.PrivateFormat.TraditionalOpenSSL, b"-----BEGIN RSA PRIVATE KEY-----"),
        (serialization.PrivateFormat.PKCS8, b"-----BEGIN PRIVATE KEY-----"),
    ],
)
def test_pkcs1_and_pkcs8_pem_keys_import(
    key: SigningKey, fmt: serialization.PrivateFormat, header: bytes
) -> None:
    pem = _pem(key, fmt)
    assert pem.startswith(header)
    assert import_key(pem).fingerprint == key.fingerprint


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
@pytest.mark.parametrize("traditional", [True, False], ids=["pkcs1", "pkcs8"])
def test_a_key_made_by_openssl_imports_saves_and_loads(tmp_path: Path, traditional: bool) -> None:
    source = tmp_path / "openssl.pem"
    command = ["openssl", "genrsa", "-out", str(source)]
    if traditional:
        command.insert(2, "-traditional")
    subprocess.run([*command, "2048"], check=True, capture_output=True)
    pem = source.read_bytes()
    expected = b"-----BEGIN RSA PRIVATE KEY-----" if traditional else b"-----BEGIN PRIVATE KEY-----"
    assert pem.startswith(expected)
    imported = import_key(pem, source)
    assert imported.key_size == 2048
    save_key(imported, tmp_path / "state" / "tedapi-key.pem")
    assert load_key(tmp_path / "state" / "tedapi-key.pem").fingerprint == imported.fingerprint


def test_an_ec_key_is_refused() -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(UnsupportedKeyError, match=r"elliptic-curve \(secp256r1\).*needs an RSA"):
        import_key(pem)


def test_an_ed25519_key_is_refused() -> None:
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(UnsupportedKeyError, match="EdDSA"):
        import_key(pem)


def test_a_short_rsa_key_is_refused() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = small.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(UnsupportedKeyError, match="1024 bits; at least 2048"):
        import_key(pem)


def test_an_encrypted_key_is_refused_with_the_way_out(key: SigningKey) -> None:
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    with pytest.raises(UnsupportedKeyError, match="openssl pkey"):
        import_key(pem)


def test_a_public_key_is_not_a_private_key(key: SigningKey) -> None:
    with pytest.raises(UnsupportedKeyError, match="not a PEM private key"):
        import_key(key.public_key_pem.encode())
