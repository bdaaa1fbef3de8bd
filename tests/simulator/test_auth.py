"""Login, sessions, expiry and lockout over real HTTPS."""

from __future__ import annotations

import pytest

from pw2mqtt.simulator import GatewaySimulator

from .conftest import CUSTOMER, INSTALLER, Client, options

AGGREGATES = "/api/meters/aggregates"


async def test_json_login_returns_token_cookies_and_body(client: Client) -> None:
    answer = await client.login()
    assert answer.status == 200
    body = answer.json
    assert body["roles"] == ["Home_Owner"]
    assert body["firstname"] == "Tesla"
    assert body["lastname"] == "Energy"
    assert body["provider"] == "Basic"
    assert len(body["token"]) == 88
    assert "T" in body["loginTime"]
    cookies = answer.headers.getall("Set-Cookie")
    assert any(c.startswith(f"AuthCookie={body['token']};") for c in cookies)
    assert any(c.startswith("UserRecord=") for c in cookies)
    assert (await client.get(AGGREGATES)).status == 200


async def test_form_login_is_accepted(client: Client) -> None:
    answer = await client.login(form=True)
    assert answer.status == 200
    assert (await client.get(AGGREGATES)).status == 200


async def test_installer_login_has_provider_engineer_role(client: Client) -> None:
    answer = await client.login(INSTALLER)
    assert answer.status == 200
    assert answer.json["roles"] == ["Provider_Engineer"]


async def test_installer_without_toggle_needs_physical_access() -> None:
    async with GatewaySimulator(options(installer_toggle=False)) as sim:
        c = Client(sim)
        answer = await c.login(INSTALLER)
        await c.close()
    assert answer.status == 401
    assert "physical access" in answer.json["message"]


async def test_bearer_token_works_without_cookies(sim: GatewaySimulator, client: Client) -> None:
    await client.login()
    client.session.cookie_jar.clear()
    assert (await client.get(AGGREGATES)).status == 401
    headers = {"Authorization": f"Bearer {client.token}"}
    assert (await client.get(AGGREGATES, headers=headers)).status == 200


@pytest.mark.parametrize("who", [("customer", "wrong"), ("installer", "Pw2MqttSim"), ("", "x")])
async def test_bad_credentials_get_401(client: Client, who: tuple[str, str]) -> None:
    answer = await client.login(who)
    assert answer.status == 401
    assert answer.json["code"] == 401
    assert answer.json["error"] == "bad credentials"


async def test_no_session_gets_401_but_status_is_public(client: Client) -> None:
    answer = await client.get(AGGREGATES)
    assert answer.status == 401
    assert answer.json["code"] == 401
    assert answer.json["error"] == "Token Expired"
    assert (await client.get("/api/status")).status == 200


async def test_session_expires_after_ttl() -> None:
    async with GatewaySimulator(options(session_ttl=600.0)) as sim:
        c = Client(sim)
        await c.login()
        sim.advance(599)
        assert (await c.get(AGGREGATES)).status == 200
        sim.advance(2)
        assert (await c.get(AGGREGATES)).status == 401
        await c.close()


async def test_expire_sessions_and_logout(sim: GatewaySimulator, client: Client) -> None:
    await client.login()
    sim.expire_sessions()
    assert (await client.get(AGGREGATES)).status == 401
    await client.login()
    assert (await client.get("/api/logout")).status == 204
    headers = {"Authorization": f"Bearer {client.token}"}
    assert (await client.get(AGGREGATES, headers=headers)).status == 401


async def test_lockout_after_repeated_failures(sim: GatewaySimulator, client: Client) -> None:
    for _ in range(5):
        assert (await client.login(("customer", "nope"))).status == 401
    locked = await client.login(CUSTOMER)
    assert locked.status == 429
    assert locked.json == {
        "code": 429,
        "error": "Api Limit reached for this endpoint",
        "message": "API Limit Reached",
    }
    assert sim.logins == 6
    sim.advance(301)
    assert (await client.login(CUSTOMER)).status == 200


async def test_failures_spread_over_the_window_do_not_lock(
    sim: GatewaySimulator, client: Client
) -> None:
    for _ in range(8):
        assert (await client.login(("customer", "nope"))).status == 401
        sim.advance(100)
    assert (await client.login(CUSTOMER)).status == 200


async def test_force_sm_off_stops_the_sitemaster(sim: GatewaySimulator, client: Client) -> None:
    body = {"username": "customer", "password": "Pw2MqttSim", "email": "", "force_sm_off": True}
    assert (await client.post("/api/login/Basic", json=body)).status == 200
    assert not sim.state.sitemaster_running
    assert (await client.get(AGGREGATES)).status == 502
