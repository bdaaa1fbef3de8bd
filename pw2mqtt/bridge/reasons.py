"""The reason a gateway is offline, as published in `<gw>/last_error`: what failed and what to do.

Published to MQTT, so it names settings and files but never a local path.
"""

from __future__ import annotations

from pw2mqtt.errors import (
    CertificatePinMismatchError,
    GatewayAuthError,
    GatewayConnectionError,
    GatewayError,
    GatewayLockedOutError,
    GatewayPausedError,
    GatewayTlsError,
    SitemasterStoppedError,
)

_ADVICE: tuple[tuple[type[GatewayError], str], ...] = (
    (
        CertificatePinMismatchError,
        "if the gateway was replaced or reset, check the new fingerprint, then delete the "
        "gateway's tls-pin.sha256 in the state directory (or set tls.fingerprint)",
    ),
    (GatewayLockedOutError, "wait a few minutes; pw2mqtt tries again by itself"),
    (
        GatewayAuthError,
        "check the gateway's password in the configuration (the customer password set in its "
        "web UI), then restart pw2mqtt",
    ),
    (GatewayPausedError, "pw2mqtt tries again by itself"),
    (GatewayTlsError, "see tls and server_name in the configuration"),
    (GatewayConnectionError, "check the host, and that the gateway is on the network"),
    (SitemasterStoppedError, "start the Powerwall again from the Tesla app or the web UI"),
)


def reason_text(error: GatewayError) -> str:
    for kind, advice in _ADVICE:
        if isinstance(error, kind):
            return f"{error} — {advice}"
    return str(error)
