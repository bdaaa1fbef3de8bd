"""`pw2mqtt keys`: real key files in temporary directories."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pw2mqtt.app.cli import main
from pw2mqtt.gateway.tedapi.keys import generate_key, key_path_for, load_key, save_key


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pw2mqtt", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_generate_writes_a_private_file_and_prints_only_the_fingerprint(tmp_path: Path) -> None:
    done = cli("keys", "generate", "--state-dir", str(tmp_path), "--bits", "2048")
    assert done.returncode == 0, done.stderr
    path = tmp_path / "tedapi-key.pem"
    key = load_key(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert key.fingerprint in done.stdout
    assert "PRIVATE" not in done.stdout + done.stderr
    again = cli("keys", "generate", "--state-dir", str(tmp_path), "--bits", "2048")
    assert again.returncode == 1
    assert "already exists" in again.stderr
    assert load_key(path).fingerprint == key.fingerprint  # kept
    forced = cli("keys", "generate", "--state-dir", str(tmp_path), "--bits", "2048", "--force")
    assert forced.returncode == 0
    assert load_key(path).fingerprint != key.fingerprint
    assert "pair" in forced.stdout


def test_show_and_export_public(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = generate_key(key_size=2048)
    save_key(key, key_path_for(tmp_path))
    code, out, _ = run(capsys, "keys", "show", "--state-dir", str(tmp_path))
    assert code == 0
    assert str(tmp_path / "tedapi-key.pem") in out
    assert key.fingerprint in out
    assert "2048 bits" in out
    assert "0600" in out
    code, out, _ = run(capsys, "keys", "export-public", "--state-dir", str(tmp_path))
    assert (code, out) == (0, key.public_key_pem)
    code, out, _ = run(
        capsys, "keys", "export-public", "--state-dir", str(tmp_path), "--format", "der-base64"
    )
    assert code == 0
    assert base64.b64decode(out.strip(), validate=True) == key.public_key_der


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_import_pkcs1_pem_from_openssl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "made-by-openssl.pem"
    subprocess.run(
        ["openssl", "genrsa", "-traditional", "-out", str(source), "2048"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert source.read_text().startswith("-----BEGIN RSA PRIVATE KEY-----")
    expected = serialization.load_pem_private_key(source.read_bytes(), password=None)
    assert isinstance(expected, rsa.RSAPrivateKey)
    state = tmp_path / "state"
    code, out, err = run(capsys, "keys", "import", str(source), "--state-dir", str(state))
    assert code == 0, err
    imported = load_key(state / "tedapi-key.pem")
    assert imported.public_key.public_numbers() == expected.public_key().public_numbers()
    assert imported.fingerprint in out


def test_import_pkcs8_pem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    source = tmp_path / "pkcs8.pem"
    source.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    code, out, _ = run(
        capsys,
        "keys",
        "import",
        str(source),
        "--state-dir",
        str(tmp_path / "s"),
        "--gateway",
        "gw1",
    )
    assert code == 0
    path = tmp_path / "s" / "gw1" / "tedapi-key.pem"
    assert load_key(path).public_key.public_numbers() == private.public_key().public_numbers()
    assert str(path) in out
    assert "PRIVATE" not in out


def test_world_readable_key_is_refused_with_the_chmod_hint(tmp_path: Path) -> None:
    path = key_path_for(tmp_path)
    save_key(generate_key(key_size=2048), path)
    path.chmod(0o644)
    done = cli("keys", "show", "--state-dir", str(tmp_path))
    assert done.returncode == 1
    assert f"chmod 600 {path}" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stdout == ""


def test_missing_and_corrupt_key_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "keys", "show", "--state-dir", str(tmp_path))
    assert (code, out) == (1, "")
    assert f"no signing key at {tmp_path / 'tedapi-key.pem'}" in err
    path = key_path_for(tmp_path)
    path.write_text("-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n")
    path.chmod(0o600)
    code, _, err = run(capsys, "keys", "export-public", "--state-dir", str(tmp_path))
    assert code == 1
    assert "unusable private key" in err
    code, _, err = run(capsys, "keys", "import", str(tmp_path / "nope.pem"), "--state-dir", "x")
    assert code == 1
    assert "cannot read it" in err


def test_a_gateway_can_have_its_own_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shared = generate_key(key_size=2048)
    save_key(shared, key_path_for(tmp_path))
    own = generate_key(key_size=2048)
    save_key(own, key_path_for(tmp_path, "cabin"))
    code, out, _ = run(capsys, "keys", "show", "--state-dir", str(tmp_path), "--gateway", "cabin")
    assert code == 0
    assert own.fingerprint in out
    assert "this gateway's own" in out
    code, out, _ = run(capsys, "keys", "show", "--state-dir", str(tmp_path), "--gateway", "home")
    assert code == 0
    assert shared.fingerprint in out  # no key of its own: the shared one
    assert "shared" in out
    code, _, err = run(capsys, "keys", "generate", "--state-dir", str(tmp_path), "--gateway", "..")
    assert code == 2
    assert "cannot name a directory" in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["keys"])
    assert exited.value.code == 2
    with pytest.raises(SystemExit) as exited:
        main(["keys", "export-public", "--format", "jwk"])
    assert exited.value.code == 2
