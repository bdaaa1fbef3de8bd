"""The signed transport against the project's simulator over real HTTPS, and against a small
HTTPS server of the test's own for answers no well-behaved gateway gives."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from pw2mqtt.config import GatewaySettings
from pw2mqtt.errors import (
    GatewayBusyError,
    GatewayConnectionError,
    GatewayPausedError,
    GatewayResponseError,
)
from pw2mqtt.gateway._proto import tedapi_v1r_pb2 as pb
from pw2mqtt.gateway.rest.client import GatewayClient
from pw2mqtt.gateway.tedapi.answers import ClientState
from pw2mqtt.gateway.tedapi.errors import (
    DIN_PATH,
    V1R_PATH,
    ConfigChangedError,
    ExpiryTooFarAheadError,
    InvalidSignatureError,
    KeyNotPairedError,
    MessageExpiredError,
    PairingNotFinishedError,
    SignedControlUnsupportedError,
    TedapiResponseError,
)
from pw2mqtt.gateway.tedapi.keys import SigningKey
from pw2mqtt.gateway.tedapi.transport import TedapiTransport
from pw2mqtt.simulator import GatewaySimulator, SimulatorOptions
from pw2mqtt.simulator.certs import make_certificate
from pw2mqtt.simulator.keys import KeyState

from .conftest import DIN, OTHER_DIN

PASSWORD = "Pw2MqttSim"
START = 1_717_264_800.0  # 2024-06-01 11:00 PDT: the simulated clock, far from the host's


def gateway_settings(port: int, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {"host": f"localhost:{port}", "password": PASSWORD, "timeout": 2.0}
    return GatewaySettings.model_validate({**values, **overrides})


def simulator(profile: str = "26.26") -> GatewaySimulator:
    return GatewaySimulator(
        SimulatorOptions(profile=profile, speed=0.0, start_time=START, control_port=None)
    )


@pytest.fixture
async def sim(key: SigningKey) -> AsyncIterator[GatewaySimulator]:
    async with simulator() as gateway:
        gateway.set_key_state(key.public_key_der, KeyState.VERIFIED, "pw2mqtt")
        yield gateway


@pytest.fixture
async def client(sim: GatewaySimulator, tmp_path: Path) -> AsyncIterator[GatewayClient]:
    async with GatewayClient(gateway_settings(sim.port), tmp_path) as gateway_client:
        yield gateway_client


def calls(sim: GatewaySimulator, path: str) -> list[int]:
    return [c.status for c in sim.calls if c.path == path]


# -- against the simulator ------------------------------------------------------------------------


async def test_reads_config_with_a_verified_key_without_auth_header(
    sim: GatewaySimulator, client: GatewayClient, key: SigningKey
) -> None:
    sim.set_operation("backup", 35.0)
    signed = client.tedapi(key, wall_clock=sim.now)
    config, config_hash = await signed.read_config()
    again, same_hash = await signed.read_config()
    assert config["default_real_mode"] == "backup"
    assert config["site_info"]["backup_reserve_percent"] == 35.0
    assert again == config
    assert same_hash == config_hash == sim.signed.config.hash()
    assert calls(sim, DIN_PATH) == [200]  # the DIN is read once
    assert calls(sim, V1R_PATH) == [200, 200]
    assert [c.role for c in sim.calls if c.path == V1R_PATH] == [None, None]  # no session sent
    assert client.tedapi(key, wall_clock=sim.now) is signed


async def test_key_status(sim: GatewaySimulator, client: GatewayClient, key: SigningKey) -> None:
    signed = client.tedapi(key, wall_clock=sim.now)
    assert await signed.key_status() == "verified"
    sim.set_key_state(key.public_key_der, KeyState.PENDING)
    assert await signed.key_status() == "pending"
    sim.set_key_state(key.public_key_der, KeyState.REMOVED)
    assert await signed.key_status() == "unknown"


@pytest.mark.parametrize("layout", ["tesla", "pypowerwall"])
async def test_unknown_key_in_either_fault_layout(
    sim: GatewaySimulator, client: GatewayClient, other_key: SigningKey, layout: str
) -> None:
    sim.set_signed_options(fault_layout=layout)
    with pytest.raises(KeyNotPairedError, match="pw2mqtt pair") as caught:
        await client.tedapi(other_key, wall_clock=sim.now).read_config()
    assert caught.value.fingerprint == other_key.fingerprint
    assert caught.value.fault == 3


async def test_pending_key_says_to_toggle_power(
    sim: GatewaySimulator, client: GatewayClient, key: SigningKey
) -> None:
    sim.set_key_state(key.public_key_der, KeyState.PENDING)
    with pytest.raises(PairingNotFinishedError, match="toggle the Powerwall"):
        await client.tedapi(key, wall_clock=sim.now).read_config()


@pytest.mark.parametrize("layout", ["tesla", "pypowerwall"])
async def test_expired_message_names_both_clocks(
    sim: GatewaySimulator, client: GatewayClient, key: SigningKey, layout: str
) -> None:
    sim.set_signed_options(fault_layout=layout)
    behind = sim.now() - 60
    with pytest.raises(MessageExpiredError, match="gateway clock 2024-06-01 18:00:00") as caught:
        await client.tedapi(key, wall_clock=lambda: behind).read_config()
    assert caught.value.gateway_clock == int(sim.now())
    assert caught.value.our_clock == behind


async def test_message_expiring_too_far_ahead(
    sim: GatewaySimulator, client: GatewayClient, key: SigningKey
) -> None:
    ahead = sim.now() + 300
    with pytest.raises(ExpiryTooFarAheadError, match="NTP") as caught:
        await client.tedapi(key, wall_clock=lambda: ahead).read_config()
    assert caught.value.gateway_clock == int(sim.now())


async def test_signed_for_another_din_then_the_din_is_read_again(
    sim: GatewaySimulator, client: GatewayClient, key: SigningKey
) -> None:
    class StaleDin:
        """A DIN source that first gives a DIN from before the gateway was swapped."""

        def __init__(self) -> None:
            self.dins = [OTHER_DIN, sim.din]

        async def read_din(self) -> str:
            return self.dins.pop(0)

    source = StaleDin()
    signed = TedapiTransport(client.connection, key, source, wall_clock=sim.now)
    with pytest.raises(InvalidSignatureError, match=OTHER_DIN):
        await signed.read_config()
    config, _ = await signed.read_config()
    assert config["vin"] == sim.din
    assert source.dins == []


async def test_stale_hash_write_refused_then_reread_and_write(
    sim: GatewaySimulator, client: GatewayClient, key: SigningKey
) -> None:
    signed = client.tedapi(key, wall_clock=sim.now)
    config, read_hash = await signed.read_config()
    sim.set_operation(reserve=55.0)  # the app changed something since
    config["default_real_mode"] = "autonomous"
    with pytest.raises(ConfigChangedError, match="changed since it was read"):
        await signed.write_config(config, read_hash)
    assert sim.state.mode == "self_consumption"

    config, read_hash = await signed.read_config()
    config["default_real_mode"] = "autonomous"
    new_hash = await signed.write_config(config, read_hash)
    assert sim.state.mode == "autonomous"
    assert sim.state.backup_reserve_percent == 55.0
    assert (await signed.read_config())[1] == new_hash


async def test_backup_events_island_mode_and_clients(
    sim: GatewaySimulator, client: GatewayClient, key: SigningKey
) -> None:
    signed = client.tedapi(key, wall_clock=sim.now)
    await signed.schedule_manual_backup(600)
    events = await signed.backup_events()
    assert events.manual is not None
    assert events.manual.duration_s == 600
    await signed.cancel_manual_backup()
    assert (await signed.backup_events()).manual is None
    with pytest.raises(ValueError, match="at least 60"):
        await signed.schedule_manual_backup(30)

    await signed.set_island_mode(off_grid=True)
    assert sim.state.grid_status == "SystemTransitionToIsland"
    await signed.set_island_mode(off_grid=False)
    assert sim.state.grid_status == "SystemTransitionToGrid"

    mine = (await signed.authorized_clients()).find(key.public_key_der)
    assert mine is not None
    assert mine.state is ClientState.VERIFIED


@pytest.mark.parametrize("profile", ["1.50", "21.44"])
async def test_old_firmware_without_din_is_remembered(
    profile: str, key: SigningKey, tmp_path: Path
) -> None:
    async with simulator(profile) as old:
        async with GatewayClient(gateway_settings(old.port), tmp_path) as gateway_client:
            signed = gateway_client.tedapi(key, wall_clock=old.now)
            with pytest.raises(SignedControlUnsupportedError, match="not offered"):
                await signed.read_config()
            with pytest.raises(SignedControlUnsupportedError):
                await signed.key_status()
        assert calls(old, DIN_PATH) == [404]  # asked once, then remembered
        assert calls(old, V1R_PATH) == []


async def test_firmware_with_din_but_no_v1r_is_remembered(key: SigningKey, tmp_path: Path) -> None:
    async with simulator("23.44") as gateway:
        async with GatewayClient(gateway_settings(gateway.port), tmp_path) as gateway_client:
            signed = gateway_client.tedapi(key, wall_clock=gateway.now)
            for _ in range(2):
                with pytest.raises(SignedControlUnsupportedError, match="signed control"):
                    await signed.read_config()
        assert calls(gateway, V1R_PATH) == [404]


@pytest.mark.parametrize("profile", ["26.26", "pw3"])  # gzipped, plain
async def test_din_gzipped_or_plain(profile: str, tmp_path: Path) -> None:
    async with simulator(profile) as gateway:
        async with GatewayClient(gateway_settings(gateway.port), tmp_path) as gateway_client:
            assert await gateway_client.read_din() == gateway.din
        assert gateway.profile.din_gzip is (profile == "26.26")


@pytest.mark.parametrize(("fault", "said"), [("rate_limit", "429"), ("busy", "503")])
async def test_busy_answers_pause_and_nothing_is_sent_during_the_pause(
    sim: GatewaySimulator, client: GatewayClient, key: SigningKey, fault: str, said: str
) -> None:
    """A gateway busy on /tedapi/v1r is paused as one busy on REST is: short, then growing."""
    signed = client.tedapi(key, wall_clock=sim.now)
    await signed.read_config()
    sim.set_faults(**{fault: True})
    with pytest.raises(GatewayBusyError, match=said):
        await signed.read_config()
    assert 10 < client.paused_for <= 15  # a busy pause starts short (15 s) and grows
    sim.clear_faults()
    sent = len(sim.calls)
    with pytest.raises(GatewayPausedError):
        await signed.read_config()
    with pytest.raises(GatewayPausedError):
        await signed.key_status()
    assert len(sim.calls) == sent


# -- against a gateway that misbehaves -----------------------------------------------------------

Behaviour = Callable[[web.Request], Awaitable[web.StreamResponse]]


def config_answer(blob: bytes = b'{"vin": "x"}') -> bytes:
    read = pb.ReadFileResponse(file=pb.StoredFile(name="config.json", blob=blob), hash=b"h1")
    envelope = pb.Envelope(filestore=pb.FileStoreMessages(read_file_response=read))
    return pb.RoutableMessage(payload_bytes=envelope.SerializeToString()).SerializeToString()


def body(data: bytes, status: int = 200) -> Behaviour:
    async def answer(_: web.Request) -> web.StreamResponse:
        return web.Response(body=data, status=status, content_type="application/octet-stream")

    return answer


async def cut_off(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    response.content_length = 400
    await response.prepare(request)
    await response.write(config_answer()[:20])
    assert request.transport is not None
    request.transport.abort()
    return response


class OddGateway:
    def __init__(self) -> None:
        self.behaviours: list[Behaviour] = []
        self.in_flight = 0
        self.most_in_flight = 0

    async def v1r(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.05)
            behaviour = self.behaviours.pop(0) if self.behaviours else body(config_answer())
            return await behaviour(request)
        finally:
            self.in_flight -= 1

    async def din(self, _: web.Request) -> web.Response:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0.05)
        self.in_flight -= 1
        return web.Response(text=DIN)


@pytest.fixture
async def odd(tmp_path: Path) -> AsyncIterator[tuple[OddGateway, int]]:
    bundle = make_certificate()
    cert, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_bytes(bundle.cert_pem)
    key_file.write_bytes(bundle.key_pem)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key_file)
    gateway = OddGateway()

    async def login(_: web.Request) -> web.Response:
        return web.json_response({"token": "t0k3n"})

    app = web.Application()
    app.router.add_post("/api/login/Basic", login)
    app.router.add_get(DIN_PATH, gateway.din)
    app.router.add_post(V1R_PATH, gateway.v1r)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    yield gateway, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    await runner.cleanup()


async def test_garbage_truncated_and_cut_off_answers_are_clear_errors(
    odd: tuple[OddGateway, int], key: SigningKey, tmp_path: Path
) -> None:
    gateway, port = odd
    gateway.behaviours = [
        body(b""),
        body(b"<html>Service temporarily unavailable</html>"),
        body(config_answer()[:-4]),
        body(bytes(range(255, 0, -3))),
        body(config_answer(b"[1, 2]")),
        body(config_answer(b"\xff not json")),
        body(b"oops", status=500),
        cut_off,
    ]
    expected: list[tuple[type[Exception], str]] = [
        (TedapiResponseError, "neither an envelope nor a fault"),
        (TedapiResponseError, "is text, not protobuf"),
        (TedapiResponseError, "not a protobuf message"),
        (TedapiResponseError, "/tedapi/v1r"),
        (TedapiResponseError, "not an object"),
        (TedapiResponseError, "not valid JSON"),
        (GatewayResponseError, "unexpected HTTP 500"),
        (GatewayConnectionError, "cut off"),
    ]
    settings = gateway_settings(port, host=f"127.0.0.1:{port}", tls={"mode": "insecure"})
    async with GatewayClient(settings, tmp_path / "state") as gateway_client:
        signed = gateway_client.tedapi(key)
        for error, text in expected:
            with pytest.raises(error, match=text):
                await signed.read_config()
    assert gateway.behaviours == []


async def test_one_signed_request_at_a_time(
    odd: tuple[OddGateway, int], key: SigningKey, tmp_path: Path
) -> None:
    gateway, port = odd
    settings = gateway_settings(
        port, host=f"127.0.0.1:{port}", tls={"mode": "insecure"}, max_concurrency=4
    )
    async with GatewayClient(settings, tmp_path / "state") as gateway_client:
        await gateway_client.read_din()  # logs in once
        await asyncio.gather(*(gateway_client.read_din() for _ in range(3)))
        rest_overlap = gateway.most_in_flight
        gateway.most_in_flight = 0
        signed = gateway_client.tedapi(key)
        results = await asyncio.gather(*(signed.read_config() for _ in range(4)))
    assert rest_overlap > 1  # the connection itself would let requests overlap ...
    assert gateway.most_in_flight == 1  # ... but signed requests go one at a time
    assert [config for config, _ in results] == [{"vin": "x"}] * 4
    assert signed.sent == 4
