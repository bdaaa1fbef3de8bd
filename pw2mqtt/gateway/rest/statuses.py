"""What the gateway's HTTP statuses mean, as the errors the rest of pw2mqtt handles."""

from __future__ import annotations

from pw2mqtt.errors import GatewayBusyError, GatewayResponseError, SitemasterStoppedError
from pw2mqtt.gateway.connection import GatewayConnection, error_text


def status_error(
    connection: GatewayConnection, path: str, status: int, body: bytes, *, gateway_wide: bool = True
) -> GatewayResponseError:
    """The error for a status that is not about the endpoint or the role.

    429, and 503 when `gateway_wide`, pause the whole gateway; a 503 from an endpoint that does
    not speak for the gateway as a whole is that endpoint's failure alone.
    """
    detail = error_text(body)
    if status == 429 or (status == 503 and gateway_wide):
        what = "rate limit reached" if status == 429 else "gateway busy"
        connection.pause_busy(f"{what} ({status}{': ' + detail if detail else ''})")
        return GatewayBusyError(path, f"{what} ({status}); paused", status)
    if status == 503:
        return GatewayResponseError(
            path, f"busy (503{': ' + detail if detail else ''}); this endpoint only", status
        )
    if status == 502 and not body.strip():
        return SitemasterStoppedError(path, "the sitemaster is stopped (502, empty body)", 502)
    return GatewayResponseError(
        path, f"unexpected HTTP {status}{': ' + detail if detail else ''}", status
    )
