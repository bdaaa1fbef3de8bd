"""The gateway's self-signed certificate, shaped like a real one (EC P-256, Tesla subject)."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import secrets
import ssl
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

VALIDITY_DAYS = 25 * 365


@dataclass(frozen=True, slots=True)
class GatewayCertificate:
    cert_pem: bytes
    key_pem: bytes
    der: bytes
    common_name: str

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the DER certificate, lowercase hex without colons."""
        return hashlib.sha256(self.der).hexdigest()


def make_certificate(
    server_names: Iterable[str] = (), addresses: Iterable[str] = ()
) -> GatewayCertificate:
    """Subject `O=Tesla, OU=Tesla Energy Products, CN=<32 hex>`, valid for about 25 years.

    A real gateway's issuer is `CN=<same> CA`; this one is self-signed so that `cert_pem` alone
    works as a trust anchor. The SAN lists the names the gateway answers to, so
    `curl --cacert cert.pem https://powerwall/...` verifies.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    common_name = secrets.token_hex(16)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tesla"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Tesla Energy Products"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    alt: list[x509.GeneralName] = [x509.DNSName(n) for n in dict.fromkeys(server_names)]
    for text in dict.fromkeys(addresses):
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(text)))
        except ValueError:
            alt.append(x509.DNSName(text))
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=VALIDITY_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if alt:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    cert = builder.sign(key, hashes.SHA256())
    return GatewayCertificate(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        der=cert.public_bytes(serialization.Encoding.DER),
        common_name=common_name,
    )


GATEWAY_NAMES = ("teg", "powerwall", "powerpack")


def server_context(cert: GatewayCertificate, extra_names: Iterable[str] = ()) -> ssl.SSLContext:
    """A TLS server context that aborts handshakes whose SNI names a host the gateway does not know.

    IP literals send no SNI at all, so a missing name is accepted (and so is an IP literal sent
    by a client that does it anyway).
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    with tempfile.TemporaryDirectory(prefix="pw2mqtt-sim-") as tmp:
        cert_file = Path(tmp, "cert.pem")
        key_file = Path(tmp, "key.pem")
        cert_file.write_bytes(cert.cert_pem)
        key_file.write_bytes(cert.key_pem)
        context.load_cert_chain(cert_file, key_file)
    context.set_alpn_protocols(["http/1.1"])
    accepted = frozenset(n.lower() for n in (*GATEWAY_NAMES, *extra_names))

    def check_name(
        _sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, _ctx: ssl.SSLContext
    ) -> int | None:
        if name is None or name.lower().rstrip(".") in accepted or _is_ip(name):
            return None
        return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME

    context.sni_callback = check_name
    return context


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
