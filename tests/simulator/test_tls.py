"""Certificate shape, fingerprint and SNI handling."""

from __future__ import annotations

import asyncio
import hashlib
import ssl

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pw2mqtt.simulator import GatewaySimulator

from .conftest import options


def insecure() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def handshake(
    sim: GatewaySimulator, server_name: str | None, context: ssl.SSLContext | None = None
) -> bytes:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", sim.port, ssl=context or insecure(), server_hostname=server_name or ""
    )
    try:
        writer.write(b"GET /api/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return await reader.read()
    finally:
        writer.close()


def test_certificate_looks_like_a_gateway_one(sim: GatewaySimulator) -> None:
    cert = x509.load_pem_x509_certificate(sim.cert_pem)
    subject = cert.subject
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Tesla"
    unit = subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value
    assert unit == "Tesla Energy Products"
    common_name = subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert isinstance(common_name, str)
    assert len(common_name) == 32
    assert all(c in "0123456789abcdef" for c in common_name)
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime.days > 20 * 365


async def test_fingerprint_is_sha256_of_the_served_der(sim: GatewaySimulator) -> None:
    _reader, writer = await asyncio.open_connection(
        "127.0.0.1", sim.port, ssl=insecure(), server_hostname=""
    )
    ssl_object = writer.get_extra_info("ssl_object")
    der = ssl_object.getpeercert(binary_form=True)
    writer.close()
    assert hashlib.sha256(der).hexdigest() == sim.fingerprint
    assert len(sim.fingerprint) == 64
    assert sim.fingerprint == sim.fingerprint.lower()


@pytest.mark.parametrize("name", [None, "powerwall", "teg", "powerpack", "127.0.0.1"])
async def test_known_server_names_are_accepted(sim: GatewaySimulator, name: str | None) -> None:
    assert (await handshake(sim, name)).startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("name", ["powerwall.home.lan", "example.com", "gateway"])
async def test_unknown_server_name_aborts_the_handshake(sim: GatewaySimulator, name: str) -> None:
    with pytest.raises((ssl.SSLError, ConnectionError)):  # an alert, or the socket just closes
        await handshake(sim, name)


async def test_extra_server_names() -> None:
    async with GatewaySimulator(options(extra_server_names=("pw.home.arpa",))) as sim:
        assert (await handshake(sim, "pw.home.arpa")).startswith(b"HTTP/1.1 200")
        with pytest.raises((ssl.SSLError, ConnectionError)):
            await handshake(sim, "other.home.arpa")


async def test_cert_pem_verifies_as_a_trust_anchor(sim: GatewaySimulator) -> None:
    context = ssl.create_default_context(cadata=sim.cert_pem.decode())
    assert (await handshake(sim, "powerwall", context)).startswith(b"HTTP/1.1 200")


async def test_aiohttp_with_an_unknown_server_name_cannot_connect(sim: GatewaySimulator) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectorError):
            await session.get(sim.url + "/api/status", ssl=False, server_hostname="pw.lan")
        async with session.get(
            sim.url + "/api/status", ssl=False, server_hostname="powerwall"
        ) as response:
            assert response.status == 200
