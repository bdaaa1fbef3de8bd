"""The simulated Tesla cloud on the control port, over real HTTP on loopback."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from pw2mqtt.gateway.tedapi.keys import generate_key
from pw2mqtt.simulator import GatewaySimulator
from pw2mqtt.simulator.cloud import CloudOptions
from pw2mqtt.simulator.control import ControlServer
from pw2mqtt.simulator.keys import KeyState

from .conftest import options

CLOUD = CloudOptions(pairing_window=60.0)


@pytest.fixture
async def served() -> AsyncIterator[tuple[GatewaySimulator, ControlServer]]:
    async with (
        GatewaySimulator(options(control_port=0)) as sim,
        ControlServer(sim, cloud=CLOUD) as server,
    ):
        yield sim, server


async def call(
    server: ControlServer,
    method: str,
    path: str,
    *,
    token: str | None = CLOUD.access_token,
    **kwargs: Any,
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, server.url + path, headers=headers, **kwargs) as response,
    ):
        return response.status, await response.json()


def add_body(der: bytes) -> dict[str, Any]:
    request = {
        "key_type": 1,
        "public_key": base64.b64encode(der).decode(),
        "authorized_client_type": 1,
        "description": "test",
    }
    return {
        "command_type": "grpc_command",
        "command_properties": {
            "identifier_type": 1,
            "message": {"authorization": {"add_authorized_client_request": request}},
        },
    }


LIST = {
    "command_type": "grpc_command",
    "command_properties": {"message": {"authorization": {"list_authorized_clients_request": {}}}},
}


def command_path(server: ControlServer) -> str:
    return f"/cloud/api/1/energy_sites/{server.cloud.options.site_id}/command"


async def test_products_list_the_simulated_site(
    served: tuple[GatewaySimulator, ControlServer],
) -> None:
    sim, server = served
    status, body = await call(server, "GET", "/cloud/api/1/products")
    assert status == 200
    (site,) = body["response"]
    assert site["gateway_id"] == sim.din
    assert site["energy_site_id"] == CLOUD.site_id


async def test_tokens_refresh_wrong_and_expired(
    served: tuple[GatewaySimulator, ControlServer],
) -> None:
    _, server = served
    status, body = await call(server, "GET", "/cloud/api/1/products", token="nope")
    assert (status, body["error"]) == (401, "invalid bearer token")
    form = {"grant_type": "refresh_token", "refresh_token": "nope", "client_id": "ownerapi"}
    status, _ = await call(server, "POST", "/cloud/oauth2/v3/token", token=None, data=form)
    assert status == 401
    form["refresh_token"] = CLOUD.refresh_token
    status, tokens = await call(server, "POST", "/cloud/oauth2/v3/token", token=None, data=form)
    assert status == 200
    fresh = tokens["access_token"]
    assert fresh != CLOUD.access_token
    await call(server, "POST", "/cloud/control/expire_tokens", json={})
    status, body = await call(server, "GET", "/cloud/api/1/products", token=fresh)
    assert (status, body["error"]) == (401, "token expired (401)")


async def test_pairing_pending_until_the_toggle(
    served: tuple[GatewaySimulator, ControlServer],
) -> None:
    sim, server = served
    der = generate_key(key_size=2048).public_key_der
    status, body = await call(server, "POST", command_path(server), json=add_body(der))
    assert status == 200
    assert body["response"]["state"] == KeyState.PENDING
    registered = sim.keys.get(der)
    assert registered is not None
    assert registered.description == "test"
    _, body = await call(server, "POST", command_path(server), json=LIST)
    assert [c["state"] for c in body["response"]["clients"]] == [KeyState.PENDING]
    status, toggled = await call(server, "POST", "/toggle", token=None)
    assert status == 200
    assert len(toggled["verified"]) == 1
    _, body = await call(server, "POST", command_path(server), json=LIST)
    assert [c["state"] for c in body["response"]["clients"]] == [KeyState.VERIFIED]


async def test_pending_key_times_out_after_the_window(
    served: tuple[GatewaySimulator, ControlServer],
) -> None:
    sim, server = served
    der = generate_key(key_size=2048).public_key_der
    await call(server, "POST", command_path(server), json=add_body(der))
    sim.advance(CLOUD.pairing_window + 1)
    await call(server, "POST", "/toggle", token=None)  # too late
    _, body = await call(server, "POST", command_path(server), json=LIST)
    assert [c["state"] for c in body["response"]["clients"]] == [KeyState.TIMEOUT]


async def test_removed_key_and_throttling(served: tuple[GatewaySimulator, ControlServer]) -> None:
    _, server = served
    der = generate_key(key_size=2048).public_key_der
    await call(server, "POST", command_path(server), json=add_body(der))
    public_key = base64.b64encode(der).decode()
    status, state = await call(
        server, "POST", "/cloud/control/remove", json={"public_key": public_key}
    )
    assert status == 200
    assert state["keys"][0]["state"] == "REMOVED"
    await call(server, "POST", "/cloud/control/throttle", json={"count": 1, "retry_after": 2})
    status, _ = await call(server, "POST", command_path(server), json=LIST)
    assert status == 429
    status, body = await call(server, "POST", command_path(server), json=LIST)
    assert status == 200
    assert body["response"]["clients"][0]["state"] == KeyState.REMOVED


async def test_bad_requests_are_refused(served: tuple[GatewaySimulator, ControlServer]) -> None:
    sim, server = served
    key = generate_key(key_size=2048)
    spki = base64.b64decode(
        "".join(key.public_key_pem.splitlines()[1:-1])
    )  # SubjectPublicKeyInfo, not the PKCS#1 DER Tesla takes
    status, body = await call(server, "POST", command_path(server), json=add_body(spki))
    assert status == 400
    assert "PKCS#1" in body["error"]
    status, _ = await call(server, "POST", "/cloud/api/1/energy_sites/1/command", json=LIST)
    assert status == 404
    status, _ = await call(server, "POST", command_path(server), json={"command_type": "x"})
    assert status == 400
    status, _ = await call(server, "POST", "/cloud/control/throttle", json={"count": -1})
    assert status == 400
    assert sim.keys.clients() == []
