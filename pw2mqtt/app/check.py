"""`pw2mqtt check`: connect to one gateway and say what it offers, or exactly what is wrong."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from pw2mqtt.bridge.identity import GatewayIdentityError, gateway_identity
from pw2mqtt.config import GatewaySettings
from pw2mqtt.errors import (
    CertificatePinMismatchError,
    EndpointUnsupportedError,
    GatewayAuthError,
    GatewayBusyError,
    GatewayError,
    GatewayLockedOutError,
    GatewayPausedError,
    GatewayTimeoutError,
    GatewayTlsError,
    PermissionDeniedError,
    SitemasterStoppedError,
)
from pw2mqtt.gateway.rest.client import GatewayClient
from pw2mqtt.gateway.rest.models import (
    AGGREGATES,
    POWERWALLS,
    READ_ENDPOINTS,
    SOE,
    STATUS,
    Aggregates,
    Status,
)
from pw2mqtt.gateway.signed_control import signed_control
from pw2mqtt.gateway.tls import format_fingerprint

EXIT_OK = 0
EXIT_FAILED = 1

Printer = Callable[[str], None]


async def run_check(
    settings: GatewaySettings, state_dir: Path, out: Printer = print, err: Printer | None = None
) -> int:
    err = err or _stderr
    async with GatewayClient(settings, state_dir) as client:
        try:
            await _report(client, out, state_dir)
        except GatewayError as error:
            err(f"error: {error}{_advice(error, client)}")
            return EXIT_FAILED
    return EXIT_OK


async def _report(client: GatewayClient, out: Printer, state_dir: Path) -> None:
    settings = client.settings
    sni = client.server_name or "none (IP address)"
    out(f"gateway      {client.address.base_url}   (TLS server name: {sni})")
    try:
        status: Status | None = await client.read(STATUS)
    except EndpointUnsupportedError:  # a Powerwall 3 answers only three endpoints
        status = None
    out(f"tls          {_tls_line(client)}")
    out(f"firmware     {(status and status.version) or 'not reported'}")
    out(f"din          {(status and status.din) or 'not reported'}")
    await client.log_in_afresh()  # a saved session proves nothing about this password
    out(f"role         {settings.role} (password accepted)")
    out(f"slug         {await _identity(client, status)}")

    answered: list[str] = []
    missing: list[str] = []
    for path in READ_ENDPOINTS:
        try:
            await client.request("GET", path)
        except EndpointUnsupportedError:
            missing.append(f"{path} (404)")
        except PermissionDeniedError:
            missing.append(f"{path} (403)")
        except SitemasterStoppedError:
            missing.append(f"{path} (502: sitemaster stopped)")
        else:
            answered.append(path)
    out(f"endpoints    {len(answered)} of {len(READ_ENDPOINTS)} answer")
    for path in answered:
        out(f"  ok         {path}")
    for line in missing:
        out(f"  missing    {line}")
    out((await signed_control(client, state_dir, client.settings.name)).line())

    try:
        aggregates = await client.read(AGGREGATES)
        soe = await client.read(SOE)
    except SitemasterStoppedError:
        out("power now    unavailable: the sitemaster is stopped")
        return
    out(f"power now    {_flows(aggregates)}")
    out(f"charge       {soe.app_percentage:.1f} % (raw {soe.percentage:.1f} %)")


async def _identity(client: GatewayClient, status: Status | None) -> str:
    """Which topic slug the bridge would use, or why it cannot run this gateway yet."""
    din = status.din if status else None
    if not din:
        try:
            din = (await client.read(POWERWALLS)).gateway_din  # firmware 1.50
        except (EndpointUnsupportedError, PermissionDeniedError, SitemasterStoppedError):
            din = None
    try:
        slug = gateway_identity(client.settings.name, din, str(client.address))
    except GatewayIdentityError as err:
        return f"none: {err}"
    return f"{slug} (from its {'name' if client.settings.name else 'DIN'})"


def _tls_line(client: GatewayClient) -> str:
    tls = client.settings.tls
    if tls.mode == "insecure":
        return "not verified (insecure)"
    if tls.mode == "ca":
        return f"verified against {tls.ca_file}"
    fingerprint = format_fingerprint(client.fingerprint or "")
    return f"pinned sha256 {fingerprint}"


def _flows(aggregates: Aggregates) -> str:
    parts = []
    for name, meter in (
        ("solar", aggregates.solar),
        ("load", aggregates.load),
        ("battery", aggregates.battery),
        ("grid", aggregates.site),
    ):
        power = meter.instant_power if meter is not None else None
        parts.append(f"{name} {power:.0f} W" if power is not None else f"{name} —")
    return "   ".join(parts) + "   (battery + discharging, grid + importing)"


_ADVICE: tuple[tuple[type[GatewayError] | tuple[type[GatewayError], ...], str], ...] = (
    (
        CertificatePinMismatchError,
        "if the gateway was replaced or reset, check the new fingerprint and delete {pin_file} "
        "(or set tls.fingerprint); otherwise something else answers at this address",
    ),
    (GatewayLockedOutError, "wait a few minutes before trying again"),
    (
        (GatewayPausedError, GatewayBusyError),
        "the gateway asked to be left alone; try again in a few minutes",
    ),
    (
        GatewayAuthError,
        "check the password: it is the customer password set in the gateway's web UI "
        "(often the last 5 characters of the gateway password)",
    ),
    (GatewayTlsError, ""),  # the error names the server name sent and what to do
    (GatewayTimeoutError, "the host did not answer in time: check the address, or raise --timeout"),
    (SitemasterStoppedError, "start the Powerwall again from the Tesla app or the web UI"),
    (PermissionDeniedError, "this login may not read this; try the other role"),
)


def _advice(error: GatewayError, client: GatewayClient) -> str:
    pin_file = client.state.directory / "tls-pin.sha256"
    for kinds, advice in _ADVICE:
        if isinstance(error, kinds):
            return " — " + advice.format(pin_file=pin_file) if advice else ""
    return " — check the host and port, and that the gateway is on the network"


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)
