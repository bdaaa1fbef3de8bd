"""Which topic slug a gateway is published under: one that survives a change of address."""

from __future__ import annotations

from pw2mqtt.errors import GatewayError
from pw2mqtt.gateway.snapshot import rest_din
from pw2mqtt.mqtt.topics import gateway_slug

NAME_NEEDED = (
    "reports no DIN, so nothing names it that survives a change of its address: set `name` "
    "for this gateway (lower-case letters, digits, '_' and '-'), e.g. `name: home`"
)


__all__ = ["NAME_NEEDED", "GatewayIdentityError", "gateway_identity", "rest_din"]


class GatewayIdentityError(GatewayError):
    """The gateway cannot be told apart from others without a configured `name`."""


def gateway_identity(name: str | None, din: str | None, host: str) -> str:
    """The slug: the configured `name`, else the serial in the DIN; never the address, which
    DHCP may change (a second set of Home Assistant entities, the history orphaned)."""
    if name:
        return name
    if din:
        return gateway_slug(din, "")
    raise GatewayIdentityError(f"{host} {NAME_NEEDED}")
