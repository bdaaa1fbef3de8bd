"""The gateway client against the project's simulator over real HTTPS on loopback."""

from __future__ import annotations

import logging
import ssl
import stat
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from pw2mqtt.config import GatewaySettings
from pw2mqtt.errors import (
    CertificatePinMismatchError,
    EndpointUnsupportedError,
    GatewayAuthError,
    GatewayBusyError,
    GatewayConnectionError,
    GatewayLockedOutError,
    GatewayPausedError,
    GatewayResponseError,
    GatewayTimeoutError,
    GatewayTlsError,
    PermissionDeniedError,
    SitemasterStoppedError,
)
from pw2mqtt.gateway.rest.client import GatewayClient
from pw2mqtt.gateway.rest.models import (
    AGGREGATES,
    NETWORKS,
    OPERATION,
    READ_ENDPOINTS,
    SOE,
    STATUS,
    SYSTEM_STATUS,
)
from pw2mqtt.simulator import GatewaySimulator, SimulatorOptions
from pw2mqtt.simulator.certs import make_certificate

PASSWORD = "Pw2MqttSim"
INSTALLER_PASSWORD = "Installer1"

MakeClient = Callable[..., GatewayClient]


@pytest.fixture
async def sim() -> AsyncIterator[GatewaySimulator]:
    async with GatewaySimulator(SimulatorOptions(speed=0.0, control_port=None)) as simulator:
        yield simulator


class ManualClock:
    """The client's monotonic clock, moved by the test: no real waiting for spacing or pauses."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def make_client(sim: GatewaySimulator, tmp_path: Path, clock: ManualClock) -> MakeClient:
    """Clients for the simulator; each test closes its own with `async with`."""

    def factory(**overrides: Any) -> GatewayClient:
        values: dict[str, Any] = {
            "host": f"localhost:{sim.port}",
            "password": PASSWORD,
            "timeout": 2.0,
        }
        values.update(overrides)
        state_dir = values.pop("state_dir", tmp_path / "state")
        return GatewayClient(GatewaySettings.model_validate(values), state_dir, clock=clock)

    return factory


def api_calls(sim: GatewaySimulator, path: str | None = None) -> list[str]:
    return [f"{c.method} {c.path}" for c in sim.calls if path is None or c.path == path]


async def test_login_and_read(sim: GatewaySimulator, make_client: MakeClient) -> None:
    async with make_client() as client:
        soe = await client.read(SOE)
        aggregates = await client.read(AGGREGATES)
    assert soe.percentage == pytest.approx(sim.state.soe, abs=0.01)
    assert aggregates.site is not None
    assert aggregates.site.instant_power is not None
    assert sim.logins == 1
    assert client.logins == 1
    login = next(c for c in sim.calls if c.path == "/api/login/Basic")
    assert login.body["username"] == "customer"
    assert login.body["force_sm_off"] is False


async def test_session_is_saved_0600_and_reused_after_restart(
    sim: GatewaySimulator, make_client: MakeClient, tmp_path: Path
) -> None:
    async with make_client() as first:
        await first.read(SOE)
    session_file = first.state.directory / "session.json"
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(first.state.directory.stat().st_mode) == 0o700

    async with make_client() as second:  # a restart: same state directory
        await second.read(SOE)
        await second.read(AGGREGATES)
    assert second.logins == 0
    assert sim.logins == 1


async def test_expired_session_logs_in_again_once(
    sim: GatewaySimulator, make_client: MakeClient, clock: ManualClock
) -> None:
    async with make_client() as client:
        await client.read(SOE)
        sim.expire_sessions()
        clock.advance(60)  # past the minimum spacing between logins
        await client.read(SOE)
    assert sim.logins == 2
    assert [c.status for c in sim.calls if c.path == "/api/system_status/soe"] == [200, 401, 200]


async def test_write_refused_with_403_is_not_retried(
    sim: GatewaySimulator, make_client: MakeClient
) -> None:
    async with make_client() as client:
        await client.read(SOE)
        with pytest.raises(PermissionDeniedError, match="customer role"):
            await client.request(
                "POST",
                "/api/operation",
                payload={"real_mode": "backup", "backup_reserve_percent": 24},
            )
    assert sim.logins == 1
    assert api_calls(sim, "/api/operation") == ["POST /api/operation"]


async def test_write_allowed_for_installer(sim: GatewaySimulator, make_client: MakeClient) -> None:
    async with make_client(role="installer", password=INSTALLER_PASSWORD) as client:
        await client.request(
            "POST", "/api/operation", payload={"real_mode": "backup", "backup_reserve_percent": 24}
        )
        await client.request("GET", "/api/config/completed")
        operation = await client.read(OPERATION)
    assert operation.backup_reserve_percent == pytest.approx(24)


async def test_busy_gateway_pauses_without_further_requests(
    sim: GatewaySimulator, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    async with make_client() as client:
        await client.read(SOE)
        sim.set_faults(busy=True)
        with caplog.at_level(logging.WARNING), pytest.raises(GatewayBusyError):
            await client.read(SOE)
        sim.clear_faults()
        seen = len(sim.calls)
        with pytest.raises(GatewayPausedError, match="paused for"):
            await client.read(AGGREGATES)
        assert len(sim.calls) == seen
        assert client.paused_for == pytest.approx(15.0)  # short at first
    pause_lines = [r for r in caplog.records if "leaving the gateway alone" in r.getMessage()]
    assert len(pause_lines) == 1


async def test_busy_pauses_grow_in_a_row_up_to_pause_seconds(
    sim: GatewaySimulator, make_client: MakeClient, clock: ManualClock
) -> None:
    pauses = []
    async with make_client(pause_seconds=50) as client:
        await client.read(SOE)
        sim.set_faults(busy=True)
        for _ in range(4):
            with pytest.raises(GatewayBusyError):
                await client.read(SOE)
            pauses.append(client.paused_for)
            clock.advance(client.paused_for)
        sim.clear_faults()
        await client.read(SOE)  # an answer: the next busy pause is short again
        sim.set_faults(endpoints={SOE.path: "503"})
        with pytest.raises(GatewayBusyError):
            await client.read(SOE)
        again = client.paused_for
    assert pauses == [15.0, 30.0, 50.0, 50.0]
    assert again == 15.0


async def test_a_503_from_one_other_endpoint_does_not_pause_the_gateway(
    sim: GatewaySimulator, make_client: MakeClient
) -> None:
    sim.set_faults(endpoints={"/api/system_status": "503"})
    async with make_client() as client:
        with pytest.raises(GatewayResponseError, match="this endpoint only") as caught:
            await client.read(SYSTEM_STATUS)
        assert not isinstance(caught.value, GatewayBusyError)
        assert client.paused_for == 0
        soe = await client.read(SOE)
        snapshot = await client.fetch_snapshot([SYSTEM_STATUS, SOE, OPERATION])
    assert soe.percentage is not None
    assert snapshot.fresh == {"soe", "operation"}
    assert snapshot.failed["system_status"].status == 503  # type: ignore[attr-defined]


async def test_fetch_snapshot_reads_past_a_page_of_html(
    sim: GatewaySimulator, make_client: MakeClient
) -> None:
    sim.set_faults(endpoints={"/api/system_status": "html"})
    async with make_client() as client:
        snapshot = await client.fetch_snapshot([AGGREGATES, SYSTEM_STATUS, SOE])
    assert snapshot.fresh == {"aggregates", "soe"}
    assert snapshot.system_status is None
    assert "not valid JSON" in str(snapshot.failed["system_status"])


async def test_lockout_429_pauses_logins(
    sim: GatewaySimulator, make_client: MakeClient, clock: ManualClock
) -> None:
    async with make_client(password="wrong", login_failure_limit=10) as client:
        for _ in range(5):  # the simulator locks logins after five failures
            with pytest.raises(GatewayAuthError, match="rejected the customer login"):
                await client.read(SOE)
            clock.advance(60)
        with pytest.raises(GatewayLockedOutError, match="refuses logins"):
            await client.read(SOE)
        logins_after_lockout = sim.logins
        with pytest.raises(GatewayPausedError):
            await client.read(SOE)
    assert sim.logins == logins_after_lockout


async def test_failed_logins_in_a_row_pause(
    sim: GatewaySimulator, make_client: MakeClient, clock: ManualClock
) -> None:
    async with make_client(password="wrong", login_failure_limit=2) as client:
        with pytest.raises(GatewayAuthError, match="bad credentials"):
            await client.read(SOE)
        with pytest.raises(GatewayAuthError, match="not logging in again so soon"):
            await client.read(SOE)  # too soon after the last attempt: no second login sent
        clock.advance(60)
        with pytest.raises(GatewayAuthError):
            await client.read(SOE)
        with pytest.raises(GatewayPausedError, match="2 failed logins"):
            await client.read(SOE)
        clock.advance(301)
        with pytest.raises(GatewayAuthError, match="bad credentials"):
            await client.read(SOE)  # the pause is over: one more attempt
    assert sim.logins == 3


async def test_unsupported_endpoint_is_remembered(
    make_client: MakeClient, sim: GatewaySimulator
) -> None:
    sim.set_profile("pw3-restricted")
    async with make_client() as client:
        snapshot = await client.fetch_snapshot(READ_ENDPOINTS.values())
        assert snapshot.fresh == {"aggregates", "soe", "grid_status"}
        calls = len(sim.calls)
        with pytest.raises(EndpointUnsupportedError):
            await client.read(OPERATION)
        assert len(sim.calls) == calls  # answered from memory
        second = await client.fetch_snapshot(READ_ENDPOINTS.values())
    assert second.fresh == {"aggregates", "soe", "grid_status"}
    assert {c.path for c in sim.calls[calls:]} == {
        "/api/meters/aggregates",
        "/api/system_status/soe",
        "/api/system_status/grid_status",
    }


async def test_stopped_sitemaster_is_its_own_error(
    sim: GatewaySimulator, make_client: MakeClient
) -> None:
    sim.set_sitemaster(running=False)
    async with make_client() as client:
        with pytest.raises(SitemasterStoppedError, match="sitemaster is stopped"):
            await client.read(AGGREGATES)
        status = await client.read(STATUS)
    assert status.din == sim.din


async def test_pin_on_first_use_then_refuse_a_changed_certificate(
    sim: GatewaySimulator, make_client: MakeClient, tmp_path: Path
) -> None:
    async with make_client() as client:
        await client.read(STATUS)
    pin_file = client.state.directory / "tls-pin.sha256"
    assert pin_file.read_text().strip() == sim.fingerprint

    pin_file.write_text("00" * 32 + "\n")  # as if the gateway had been replaced
    sim.clear_calls()
    async with make_client() as client:
        with pytest.raises(CertificatePinMismatchError, match="nothing was sent"):
            await client.read(STATUS)
    assert sim.calls == []


async def test_configured_fingerprint_and_ca_file(
    sim: GatewaySimulator, make_client: MakeClient, tmp_path: Path
) -> None:
    async with make_client(tls={"fingerprint": sim.fingerprint}) as client:
        assert (await client.read(STATUS)).din == sim.din
    ca_file = tmp_path / "gateway.pem"
    ca_file.write_bytes(sim.cert_pem)
    async with make_client(tls={"mode": "ca", "ca_file": ca_file}) as client:
        assert (await client.read(STATUS)).din == sim.din
    other = tmp_path / "other.pem"
    other.write_bytes(make_certificate().cert_pem)
    async with make_client(tls={"mode": "ca", "ca_file": other}) as client:
        with pytest.raises(GatewayTlsError):
            await client.read(STATUS)


@pytest.mark.parametrize(
    ("host", "server_name", "accepted"),
    [
        ("localhost", None, True),  # a DNS name: `powerwall` is sent
        ("127.0.0.1", None, True),  # an IP literal: no SNI
        ("localhost", "teg", True),
        ("localhost", "powerwall.home.lan", False),
        ("127.0.0.1", "gateway.example", False),
    ],
)
async def test_server_name_sent(
    sim: GatewaySimulator,
    make_client: MakeClient,
    host: str,
    server_name: str | None,
    accepted: bool,
) -> None:
    overrides: dict[str, Any] = {"host": f"{host}:{sim.port}", "tls": {"mode": "insecure"}}
    if server_name is not None:
        overrides["server_name"] = server_name
    async with make_client(**overrides) as client:
        if accepted:
            assert (await client.read(STATUS)).din == sim.din
        else:
            with pytest.raises(GatewayTlsError, match=f"we sent '{server_name}'"):
                await client.read(STATUS)


async def test_timeout_then_backoff(
    sim: GatewaySimulator, make_client: MakeClient, clock: ManualClock
) -> None:
    sim.set_faults(hang=True)
    async with make_client(timeout=0.5) as client:
        with pytest.raises(GatewayTimeoutError, match="did not answer"):
            await client.read(STATUS)
        sim.clear_faults()
        with pytest.raises(GatewayConnectionError, match="next attempt in"):
            await client.read(STATUS)  # backing off: nothing sent
        clock.advance(5)  # the first backoff step is at most 2 s
        assert (await client.read(STATUS)).din == sim.din


async def test_connection_reset(sim: GatewaySimulator, make_client: MakeClient) -> None:
    async with make_client() as client:
        await client.read(STATUS)
        sim.set_faults(reset=True)
        with pytest.raises(GatewayConnectionError):
            await client.read(STATUS)


async def test_refused_connection(make_client: MakeClient, sim: GatewaySimulator) -> None:
    await sim.reboot(downtime=1.0)
    async with make_client(tls={"mode": "insecure"}) as client:
        with pytest.raises(GatewayConnectionError, match="cannot reach"):
            await client.read(STATUS)
    await sim.wait_up(timeout=10)


async def test_secrets_never_logged(
    sim: GatewaySimulator,
    make_client: MakeClient,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG):
        async with make_client() as client:
            await client.read(SOE)
            sim.expire_sessions()
            clock.advance(60)
            await client.read(SOE)
    assert client._auth is not None
    token = client._auth.token
    text = caplog.text + repr(client._auth)
    assert PASSWORD not in text
    assert token not in text


# -- bodies the simulator never sends: a small HTTPS server of our own ----------------------


@pytest.fixture
async def odd_gateway(tmp_path: Path) -> AsyncIterator[tuple[int, list[str]]]:
    bundle = make_certificate()
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_bytes(bundle.cert_pem)
    key.write_bytes(bundle.key_pem)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    requests: list[str] = []

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        requests.append(f"{request.method} {request.path}")
        response: web.StreamResponse = await handler(request)
        return response

    async def login(_: web.Request) -> web.Response:
        response = web.json_response({"token": "t0k3n"})
        response.set_cookie("AuthCookie", "t0k3n")
        return response

    async def not_json(_: web.Request) -> web.Response:
        return web.Response(text="<html>oops</html>")

    async def wrong_type(_: web.Request) -> web.Response:
        return web.json_response({"site": {"instant_power": "x"}})

    async def bad_gateway_with_body(_: web.Request) -> web.Response:
        return web.Response(status=502, text="Bad Gateway")

    async def forbidden(_: web.Request) -> web.Response:
        return web.json_response({"code": 403, "error": "Forbidden"}, status=403)

    app = web.Application(middlewares=[record])
    app.router.add_get("/api/networks", forbidden)
    app.router.add_post("/api/login/Basic", login)
    app.router.add_get("/api/system_status/soe", not_json)
    app.router.add_get("/api/meters/aggregates", wrong_type)
    app.router.add_get("/api/sitemaster", bad_gateway_with_body)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield port, requests
    await runner.cleanup()


async def test_bodies_that_are_not_what_the_endpoint_promises(
    odd_gateway: tuple[int, list[str]], tmp_path: Path
) -> None:
    port, _ = odd_gateway
    settings = GatewaySettings.model_validate(
        {"host": f"127.0.0.1:{port}", "password": "x", "tls": {"mode": "insecure"}}
    )
    async with GatewayClient(settings, tmp_path) as client:
        with pytest.raises(GatewayResponseError, match=r"/api/system_status/soe: .*not valid JSON"):
            await client.read(SOE)
        with pytest.raises(GatewayResponseError, match=r"/api/meters/aggregates: .*instant_power"):
            await client.read(AGGREGATES)
        with pytest.raises(GatewayResponseError, match="unexpected HTTP 502") as caught:
            await client.request("GET", "/api/sitemaster")
        assert not isinstance(caught.value, SitemasterStoppedError)


async def test_read_refused_to_a_fresh_session_is_remembered(
    odd_gateway: tuple[int, list[str]], tmp_path: Path
) -> None:
    port, requests = odd_gateway
    settings = GatewaySettings.model_validate(
        {"host": f"127.0.0.1:{port}", "password": "x", "tls": {"mode": "insecure"}}
    )
    async with GatewayClient(settings, tmp_path) as client:
        with pytest.raises(PermissionDeniedError, match="403"):
            await client.read(NETWORKS)
        with pytest.raises(PermissionDeniedError, match="remembered"):
            await client.read(NETWORKS)
    # The session was moments old, so the refusal is about the role: no second login.
    assert requests == ["POST /api/login/Basic", "GET /api/networks"]
