"""What the gateway's HTTP statuses mean, as the errors the rest of pw2mqtt handles."""

from __future__ import annotations

from pw2mqtt.errors import GatewayBusyError, GatewayResponseError, SitemasterStoppedError
from pw2mqtt.gateway.connection import GatewayConnection, error_text


def status_error(
    connection: GatewayConnection, path: str, status: int, body: bytes
) -> GatewayResponseError:
    """The error for a status that is not about the endpoint or the role; 429/503 pause."""
    detail = error_text(body)
    if status in (429, 503):
        what = "rate limit reached" if status == 429 else "gateway busy"
        connection.pause(f"{what} ({status}{': ' + detail if detail else ''})")
        return GatewayBusyError(path, f"{what} ({status}); paused", status)
    if status == 502 and not body.strip():
        return SitemasterStoppedError(path, "the sitemaster is stopped (502, empty body)", 502)
    return GatewayResponseError(
        path, f"unexpected HTTP {status}{': ' + detail if detail else ''}", status
    )
