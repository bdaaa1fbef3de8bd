"""How the client trusts a gateway's self-signed certificate.

Three policies: pin the certificate on first use (the default), verify against a given CA or
certificate file, or (only when asked) verify nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import aiohttp

from pw2mqtt.errors import GatewayConnectionError, GatewayTimeoutError, GatewayTlsError

TlsMode = Literal["pin", "ca", "insecure"]


def format_fingerprint(hex_digest: str) -> str:
    """`ab12…` → `AB:12:…`, the way browsers and openssl print it."""
    upper = hex_digest.upper()
    return ":".join(upper[i : i + 2] for i in range(0, len(upper), 2))


def normalise_fingerprint(text: str) -> str:
    cleaned = text.replace(":", "").replace(" ", "").strip().lower()
    if cleaned.startswith("sha256"):
        cleaned = cleaned.removeprefix("sha256").lstrip("=/")
    if len(cleaned) != 64 or any(ch not in "0123456789abcdef" for ch in cleaned):
        raise ValueError("a certificate fingerprint is 64 hex digits (SHA-256)")
    return cleaned


@dataclass(frozen=True, slots=True)
class PeerCertificate:
    fingerprint: str
    der: bytes


@functools.cache
def _unverified_context() -> ssl.SSLContext:
    """One context for every pin-on-first-use handshake: it verifies nothing, so it loads no CA
    certificates (`create_default_context` spends ~25 ms on them, 25 s for 1000 gateways)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def fetch_peer_certificate(
    host: str, port: int, server_name: str | None, limit: float
) -> PeerCertificate:
    """Complete a TLS handshake without sending anything and return the server's certificate."""
    context = _unverified_context()
    try:
        async with asyncio.timeout(limit):
            _reader, writer = await asyncio.open_connection(
                host, port, ssl=context, server_hostname=server_name or ""
            )
    except TimeoutError as err:
        raise GatewayTimeoutError(f"TLS handshake with {host}:{port} timed out") from err
    except (ssl.SSLError, ConnectionResetError, EOFError) as err:
        # A gateway that dislikes the server name resets the connection mid-handshake.
        raise GatewayTlsError(handshake_failure_text(host, port, server_name, err)) from err
    except OSError as err:
        raise GatewayConnectionError(
            f"cannot connect to {host}:{port}: {err.strerror or err}"
        ) from err
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    if not der:
        raise GatewayTlsError(f"{host}:{port} presented no certificate")
    return PeerCertificate(hashlib.sha256(der).hexdigest(), der)


def ssl_for_request(
    mode: TlsMode, pinned: str | None, ca_file: Path | None
) -> ssl.SSLContext | aiohttp.Fingerprint | bool:
    """The `ssl=` argument for aiohttp under a policy."""
    if mode == "insecure":
        return False
    if mode == "pin":
        if pinned is None:
            raise ValueError("pin mode needs a fingerprint")
        return aiohttp.Fingerprint(bytes.fromhex(pinned))
    if ca_file is None:
        raise ValueError("ca mode needs a CA or certificate file")
    context = ssl.create_default_context(cafile=str(ca_file))
    # Gateway certificates name a random hex CN, never the host, so the chain is what is checked;
    # the partial-chain flag lets a lone self-signed gateway certificate act as its own anchor.
    context.check_hostname = False
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return context


def handshake_failure_text(
    host: str, port: int, server_name: str | None, err: BaseException
) -> str:
    if isinstance(err, ConnectionResetError | EOFError):
        reason = "the gateway reset the connection"
    else:
        reason = getattr(err, "reason", None) or str(err) or type(err).__name__
    text = f"TLS handshake with {host}:{port} failed ({reason})"
    if server_name:
        text += (
            f"; the gateway drops handshakes for server names it does not know — "
            f"we sent {server_name!r}: use the IP address, or set server_name to 'powerwall'"
        )
    return text
