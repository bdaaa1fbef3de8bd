"""The JSON Tesla's cloud takes and gives for pairing; pure functions, no I/O.

Requests are `grpc_command`s to `POST /api/1/energy_sites/{id}/command`. Public sources show two
answer layouts (a flat `response` holding the client record or `clients`, and the grpc envelope
`response.message.payload.authorization.message.…` in snake or Pascal case), and enum values as
numbers or names, so all of them are read; a client record is matched by its public key.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from pw2mqtt.cloud.errors import SiteNotFoundError
from pw2mqtt.gateway.tedapi.answers import ClientState

KEY_TYPE_RSA: Final = 1
CLIENT_TYPE_CUSTOMER_APP: Final = 1
_ENVELOPE_PATHS: Final = (
    ("message", "payload", "authorization", "message"),
    ("message", "Payload", "Authorization", "Message"),
)
_ANSWER_NAMES: Final = (
    "add_authorized_client_response",
    "AddAuthorizedClientResponse",
    "list_authorized_clients_response",
    "ListAuthorizedClientsResponse",
)
_STATE_NAMES: Final = {
    "PENDING": ClientState.PENDING,
    "TIMEOUT": ClientState.TIMED_OUT,
    "TIMED_OUT": ClientState.TIMED_OUT,
    "VERIFIED": ClientState.VERIFIED,
    "REMOVED": ClientState.REMOVED,
}


@dataclass(frozen=True, slots=True)
class EnergySite:
    site_id: int
    din: str | None
    name: str | None


def energy_sites(body: Any) -> list[EnergySite]:
    """The energy sites of a `GET /api/1/products` answer; vehicles and odd entries are skipped."""
    products = body.get("response") if isinstance(body, dict) else None
    sites = []
    for product in products if isinstance(products, list) else []:
        if not isinstance(product, dict):
            continue
        site_id = product.get("energy_site_id")
        if isinstance(site_id, bool) or not isinstance(site_id, int | str):
            continue
        try:
            number = int(site_id)
        except ValueError:
            continue
        din = product.get("gateway_id")
        name = product.get("site_name")
        sites.append(
            EnergySite(
                number,
                din if isinstance(din, str) and din else None,
                name if isinstance(name, str) else None,
            )
        )
    return sites


def same_din(a: str, b: str) -> bool:
    """Equal DINs, ignoring case and spaces; a bare serial (`TG12…`) matches the full DIN."""
    x, y = a.strip().upper(), b.strip().upper()
    return x == y or x.rpartition("--")[2] == y or y.rpartition("--")[2] == x


def pick_site(sites: list[EnergySite], din: str | None) -> EnergySite:
    """The site with `din`; without a DIN, the only site there is."""
    seen = [site.din or f"(site {site.site_id}, no DIN)" for site in sites]
    if din is None:
        if len(sites) == 1:
            return sites[0]
        raise SiteNotFoundError(None, seen)
    for site in sites:
        if site.din is not None and same_din(site.din, din):
            return site
    raise SiteNotFoundError(din, seen)


def authorization_command(name: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "command_type": "grpc_command",
        "command_properties": {
            "identifier_type": 1,
            "message": {"authorization": {name: fields}},
        },
    }


def add_client_command(public_key_der: bytes, description: str) -> dict[str, Any]:
    return authorization_command(
        "add_authorized_client_request",
        {
            "key_type": KEY_TYPE_RSA,
            "public_key": base64.b64encode(public_key_der).decode("ascii"),
            "authorized_client_type": CLIENT_TYPE_CUSTOMER_APP,
            "description": description,
        },
    )


def list_clients_command() -> dict[str, Any]:
    return authorization_command("list_authorized_clients_request", {})


def client_state(body: Any, public_key_der: bytes) -> ClientState | None:
    """The state of the client with this key in an add or list answer; None if it is not there."""
    for record in _client_records(body):
        if _record_key(record) == public_key_der:
            return parse_state(record.get("state", record.get("State")))
    return None


def parse_state(value: Any) -> ClientState | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        name = value.strip().upper()
        if name.isdigit():
            value = int(name)
        else:
            for suffix, state in _STATE_NAMES.items():
                if name.endswith(suffix):
                    return state
            return None
    if isinstance(value, int) and value in ClientState._value2member_map_:
        return ClientState(value)
    return None


def _client_records(body: Any) -> Iterable[dict[str, Any]]:
    response = body.get("response") if isinstance(body, dict) else None
    if not isinstance(response, dict):
        return []
    candidates: list[Any] = [response]
    for path in _ENVELOPE_PATHS:
        node: Any = response
        for step in path:
            node = node.get(step) if isinstance(node, dict) else None
        if isinstance(node, dict):
            candidates.extend(node.get(name) for name in _ANSWER_NAMES)
    records: list[dict[str, Any]] = []
    for node in candidates:
        if not isinstance(node, dict):
            continue
        for key in ("clients", "Clients"):
            if isinstance(node.get(key), list):
                records.extend(item for item in node[key] if isinstance(item, dict))
        for key in ("client", "Client"):
            if isinstance(node.get(key), dict):
                records.append(node[key])
        if "public_key" in node or "PublicKey" in node:
            records.append(node)
    return records


def _record_key(record: dict[str, Any]) -> bytes | None:
    value = record.get("public_key", record.get("PublicKey"))
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
