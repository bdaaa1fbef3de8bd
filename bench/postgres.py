"""A private PostgreSQL server from the system's packages, on a free loopback port.

Its data, socket and log live in a temporary folder; `stop()`/`kill()` and `start()` restart it on
the same port with the same data. PostgreSQL refuses to run as root, so under root the server runs
as the `postgres` user the Debian package creates (else `nobody`). Installed by
scripts/install-postgres.sh; the cluster tests and `python -m bench.cluster` use it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import psycopg

HOST = "127.0.0.1"
INSTALL_HINT = "PostgreSQL not installed: run `make test-cluster`"
_START_TIMEOUT = 30.0
_INITDB_OPTIONS = ("-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
# Loopback only; no fsync (the machine does not crash in a test, the server may); commits stay
# synchronous, so that an epoch never goes back after `kill()`.
_SERVER_OPTIONS = (
    "-c",
    f"listen_addresses={HOST}",
    "-c",
    "fsync=off",
    "-c",
    "full_page_writes=off",
)


def binaries() -> Path | None:
    """The folder holding `initdb` and `postgres` (newest Debian version first), or None."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
        reverse=True,
    )
    if found := shutil.which("initdb"):
        candidates.append(Path(found).resolve().parent)
    for folder in candidates:
        if all(os.access(folder / tool, os.X_OK) for tool in ("initdb", "postgres")):
            return folder
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _run_as() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root, and neither a postgres nor a nobody user exists")


class TempPostgres:
    """One PostgreSQL server (trust authentication, user `postgres`) in a temporary folder."""

    def __init__(self) -> None:
        found = binaries()
        if found is None:
            raise RuntimeError(INSTALL_HINT)
        self._bin = found
        self._user = _run_as()
        self.port = _free_port()
        self.home = Path(tempfile.mkdtemp(prefix="pw2mqtt-pg-"))
        self._process: subprocess.Popen[bytes] | None = None
        if self._user is not None:
            os.chown(self.home, self._user.pw_uid, self._user.pw_gid)

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@{HOST}:{self.port}/postgres"

    @property
    def log(self) -> Path:
        return self.home / "postgres.log"

    def start(self) -> None:
        if not (self.home / "data" / "PG_VERSION").exists():
            self._as_owner(
                [str(self._bin / "initdb"), "-D", str(self.home / "data"), *_INITDB_OPTIONS]
            )
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    str(self._bin / "postgres"),
                    "-D",
                    str(self.home / "data"),
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.home),
                    *_SERVER_OPTIONS,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                user=self._user.pw_uid if self._user else None,
                group=self._user.pw_gid if self._user else None,
            )
        self._wait_ready()

    def stop(self) -> None:
        """A fast shutdown: every session is ended, the server exits."""
        self._signal(signal.SIGINT)

    def kill(self) -> None:
        """An immediate shutdown, as if the server had crashed: no goodbye to anyone."""
        self._signal(signal.SIGQUIT)

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.home, ignore_errors=True)

    def _signal(self, sig: signal.Signals) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _as_owner(self, command: list[str]) -> None:
        subprocess.run(
            command,
            check=True,
            capture_output=True,
            user=self._user.pw_uid if self._user else None,
            group=self._user.pw_gid if self._user else None,
        )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                break
            try:
                psycopg.connect(self.dsn, connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                time.sleep(0.1)
        tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
        self.close()
        raise RuntimeError(f"PostgreSQL did not start on {HOST}:{self.port}:\n{tail}")

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
