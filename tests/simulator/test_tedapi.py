"""The simulator's signed control over real HTTPS: /tedapi/din and /tedapi/v1r by the real rules.

Requests are built and signed with the project's protocol core and posted raw, so what is tested
here is the simulator's side: it checks signatures for real, keeps config.json behind its hash,
and answers faults in either public layout.
"""

from __future__ import annotations

import base64
import email.utils
import gzip
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from pw2mqtt.gateway._proto import tedapi_v1r_pb2 as pb
from pw2mqtt.gateway.tedapi import messages
from pw2mqtt.gateway.tedapi.answers import (
    AuthorizedClients,
    BackupEvents,
    ClientState,
    FileContent,
    FileUpdated,
    parse_answer,
    parse_answer_as,
)
from pw2mqtt.gateway.tedapi.errors import CommandRejectedError, PairingNotFinishedError
from pw2mqtt.gateway.tedapi.keys import SigningKey, generate_key
from pw2mqtt.simulator import GatewaySimulator
from pw2mqtt.simulator.control import ControlServer
from pw2mqtt.simulator.keys import KeyState

from .conftest import Client, options

OTHER_DIN = "1232100-00-E--TG999999999999"


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return generate_key(key_size=2048)


@pytest.fixture(scope="module")
def stranger() -> SigningKey:
    return generate_key(key_size=2048)


@pytest.fixture
async def gw(key: SigningKey) -> AsyncIterator[GatewaySimulator]:
    async with GatewaySimulator(options(profile="26.26")) as sim:
        sim.set_key_state(key.public_key_der, KeyState.VERIFIED, "pw2mqtt test")
        yield sim


@pytest.fixture
async def http(gw: GatewaySimulator) -> AsyncIterator[Client]:
    client = Client(gw)
    yield client
    await client.close()


def signed(
    sim: GatewaySimulator,
    key: SigningKey,
    envelope: bytes | None = None,
    *,
    din: str | None = None,
    now: float | None = None,
) -> bytes:
    return messages.sign_request(
        envelope if envelope is not None else messages.read_config(sim.din),
        din=din or sim.din,
        key=key,
        now=sim.now() if now is None else now,
        request_id="00000000-0000-4000-8000-000000000000",
    ).body


async def post(client: Client, body: bytes) -> bytes:
    answer = await client.post(
        "/tedapi/v1r", data=body, headers={"Content-Type": "application/octet-stream"}
    )
    assert answer.status == 200, answer.raw
    assert answer.headers["Content-Type"] == "application/octet-stream"
    return answer.raw


def status_of(raw: bytes) -> tuple[int, int]:
    message = pb.RoutableMessage()
    message.ParseFromString(raw)
    return message.status.status_or_fault, message.status.fault


async def test_verified_key_reads_config_json_matching_the_site(
    gw: GatewaySimulator, http: Client, key: SigningKey
) -> None:
    gw.set_operation("backup", 42.0)
    content = parse_answer_as(FileContent, await post(http, signed(gw, key)))
    config = json.loads(content.blob)
    assert content.name == "config.json"
    assert config["default_real_mode"] == "backup"
    assert config["site_info"]["backup_reserve_percent"] == 42.0
    assert config["vin"] == gw.din
    assert len(content.hash) == 32
    assert http.token is None  # no login, no auth header: the signature is the authorisation


@pytest.mark.parametrize(
    ("layout", "expected"), [("tesla", (2, 3)), ("pypowerwall", (3, 0))], ids=["field2", "field1"]
)
async def test_unregistered_key_gets_fault_3_in_either_layout(
    gw: GatewaySimulator,
    http: Client,
    stranger: SigningKey,
    layout: str,
    expected: tuple[int, int],
) -> None:
    gw.set_signed_options(fault_layout=layout)
    assert status_of(await post(http, signed(gw, stranger))) == expected


@pytest.mark.parametrize("state", [KeyState.REMOVED, KeyState.TIMEOUT])
async def test_removed_or_timed_out_key_gets_fault_3(
    gw: GatewaySimulator, http: Client, key: SigningKey, state: KeyState
) -> None:
    gw.set_key_state(key.public_key_der, state)
    assert status_of(await post(http, signed(gw, key))) == (2, 3)


async def test_pending_key_gets_the_plain_text_answer(
    gw: GatewaySimulator, http: Client, key: SigningKey
) -> None:
    gw.set_key_state(key.public_key_der, KeyState.PENDING)
    raw = await post(http, signed(gw, key))
    message = pb.RoutableMessage()
    message.ParseFromString(raw)
    assert message.payload_bytes == b"authorization not verified"
    assert status_of(raw) == (0, 0)
    with pytest.raises(PairingNotFinishedError):
        parse_answer(raw)


async def test_one_flipped_envelope_byte_gets_fault_5(
    gw: GatewaySimulator, http: Client, key: SigningKey
) -> None:
    message = pb.RoutableMessage()
    message.ParseFromString(signed(gw, key))
    envelope = bytearray(message.payload_bytes)
    envelope[-1] ^= 0x01
    message.payload_bytes = bytes(envelope)
    assert status_of(await post(http, message.SerializeToString())) == (2, 5)
    assert gw.signed.requests == 0


async def test_a_request_signed_for_another_din_gets_fault_5(
    gw: GatewaySimulator, http: Client, key: SigningKey
) -> None:
    body = signed(gw, key, messages.read_config(gw.din), din=OTHER_DIN)
    assert status_of(await post(http, body)) == (2, 5)


async def test_expired_and_far_future_messages(
    gw: GatewaySimulator, http: Client, key: SigningKey
) -> None:
    expired = signed(gw, key, now=gw.now() - 60)  # valid for 12 s, a minute ago
    ahead = signed(gw, key, now=gw.now() + 120)
    gw.set_signed_options(fault_layout="pypowerwall")
    assert status_of(await post(http, expired)) == (17, 0)
    assert status_of(await post(http, ahead)) == (20, 0)
    answer = await http.post("/tedapi/v1r", data=expired)
    gateway_date = email.utils.parsedate_to_datetime(answer.headers["Date"])
    assert gateway_date.timestamp() == int(gw.now())  # the simulated clock, not the host's


async def test_garbage_body_is_a_bad_request(http: Client) -> None:
    answer = await http.post("/tedapi/v1r", data=b"\xff\x00garbage")
    assert answer.status == 400


async def test_config_write_needs_the_read_hash(
    gw: GatewaySimulator, http: Client, key: SigningKey
) -> None:
    first = parse_answer_as(FileContent, await post(http, signed(gw, key)))
    gw.set_operation(reserve=50.0)  # changed elsewhere (REST, the app) after the read
    config = json.loads(first.blob)
    config["default_real_mode"] = "autonomous"
    config["site_info"]["customer_preferred_export_rule"] = "never"
    config["site_info"]["disallow_charge_from_grid_with_solar_installed"] = True
    stale = messages.update_config(gw.din, json.dumps(config).encode(), first.hash)
    with pytest.raises(CommandRejectedError, match="hash") as refused:
        parse_answer(await post(http, signed(gw, key, stale)))
    assert refused.value.code == 9
    assert gw.state.mode == "self_consumption"

    again = parse_answer_as(FileContent, await post(http, signed(gw, key)))
    config = json.loads(again.blob)
    assert config["site_info"]["backup_reserve_percent"] == 50.0
    config["default_real_mode"] = "autonomous"
    config["site_info"]["customer_preferred_export_rule"] = "never"
    config["site_info"]["disallow_charge_from_grid_with_solar_installed"] = True
    write = messages.update_config(gw.din, json.dumps(config).encode(), again.hash)
    updated = parse_answer_as(FileUpdated, await post(http, signed(gw, key, write)))
    assert gw.state.mode == "autonomous"
    assert gw.state.backup_reserve_percent == 50.0
    assert gw.signed.config.export_rule == "never"
    assert gw.signed.config.grid_charging is False
    assert updated.hash == gw.signed.config.hash() != again.hash


async def test_invalid_config_is_refused_and_changes_nothing(
    gw: GatewaySimulator, http: Client, key: SigningKey
) -> None:
    read = parse_answer_as(FileContent, await post(http, signed(gw, key)))
    config = json.loads(read.blob)
    config["site_info"]["backup_reserve_percent"] = 140
    write = messages.update_config(gw.din, json.dumps(config).encode(), read.hash)
    with pytest.raises(CommandRejectedError, match=r"within 0\.\.100"):
        parse_answer(await post(http, signed(gw, key, write)))
    assert gw.state.backup_reserve_percent == 24.0
    assert gw.signed.config.hash() == read.hash


async def test_apply_quirk_waits_for_a_dispatch(
    gw: GatewaySimulator, http: Client, key: SigningKey
) -> None:
    gw.set_signed_options(apply_at_dispatch=True)
    read = parse_answer_as(FileContent, await post(http, signed(gw, key)))
    config = json.loads(read.blob)
    config["default_real_mode"] = "backup"
    write = messages.update_config(gw.din, json.dumps(config).encode(), read.hash)
    parse_answer_as(FileUpdated, await post(http, signed(gw, key, write)))
    stored = parse_answer_as(FileContent, await post(http, signed(gw, key)))
    assert json.loads(stored.blob)["default_real_mode"] == "backup"  # stored ...
    assert gw.state.mode == "self_consumption"  # ... but not in force

    schedule = messages.schedule_manual_backup(gw.din, start=int(gw.now()), duration_s=60)
    await post(http, signed(gw, key, schedule))
    await post(http, signed(gw, key, messages.cancel_manual_backup(gw.din)))
    assert gw.state.mode == "backup"


async def test_manual_backup_event_rules_and_effect(
    gw: GatewaySimulator, http: Client, key: SigningKey
) -> None:
    gw.set_solar(0)
    gw.set_load(500)
    assert gw.state.battery_w > 0  # self-consumption: the battery covers the load
    too_short = pb.Envelope(
        delivery_channel=2,
        recipient=pb.Participant(din=gw.din),
        teg=pb.TegMessages(
            schedule_manual_backup_request=pb.ScheduleManualBackupRequest(
                schedule=pb.EventSchedule(duration_seconds=30)
            )
        ),
    ).SerializeToString()
    with pytest.raises(CommandRejectedError, match="at least 60"):
        parse_answer(await post(http, signed(gw, key, too_short)))

    start = int(gw.now())
    schedule = messages.schedule_manual_backup(gw.din, start=start, duration_s=600)
    await post(http, signed(gw, key, schedule))
    with pytest.raises(CommandRejectedError, match="already scheduled"):
        parse_answer(await post(http, signed(gw, key, schedule)))
    events = parse_answer_as(
        BackupEvents, await post(http, signed(gw, key, messages.get_backup_events(gw.din)))
    )
    assert events.manual is not None
    assert events.manual.duration_s == 600
    assert events.manual.start is not None
    assert events.manual.start.timestamp() == start
    gw.advance(10)
    assert gw.state.battery_w < 0  # charging from the grid, as in backup mode

    await post(http, signed(gw, key, messages.cancel_manual_backup(gw.din)))
    events = parse_answer_as(
        BackupEvents, await post(http, signed(gw, key, messages.get_backup_events(gw.din)))
    )
    assert events.manual is None
    assert gw.state.battery_w > 0


async def test_island_mode_walks_the_site_off_grid_and_back(
    gw: GatewaySimulator, http: Client, key: SigningKey
) -> None:
    off = messages.set_island_mode(gw.din, messages.IslandMode.OFF_GRID)
    await post(http, signed(gw, key, off))
    assert gw.state.grid_status == "SystemTransitionToIsland"
    gw.advance(3)
    assert gw.state.grid_status == "SystemIslandedActive"
    on = messages.set_island_mode(gw.din, messages.IslandMode.ON_GRID)
    await post(http, signed(gw, key, on))
    gw.advance(6)
    assert gw.state.grid_status == "SystemGridConnected"


async def test_list_and_remove_authorized_clients(
    gw: GatewaySimulator, http: Client, key: SigningKey, stranger: SigningKey
) -> None:
    gw.set_key_state(stranger.public_key_der, KeyState.VERIFIED, "another app")
    listing = messages.list_authorized_clients(gw.din)
    clients = parse_answer_as(AuthorizedClients, await post(http, signed(gw, key, listing)))
    mine = clients.find(key.public_key_der)
    assert mine is not None
    assert mine.state is ClientState.VERIFIED
    assert mine.fingerprint == key.fingerprint
    assert {c.description for c in clients.clients} == {"pw2mqtt test", "another app"}

    remove = pb.Envelope(
        delivery_channel=2,
        recipient=pb.Participant(din=gw.din),
        authorization=pb.AuthorizationMessages(
            remove_authorized_client_request=pb.RemoveAuthorizedClientRequest(
                public_key=stranger.public_key_der
            )
        ),
    ).SerializeToString()
    raw = await post(http, signed(gw, key, remove))
    reply = pb.RoutableMessage()
    reply.ParseFromString(raw)
    envelope = pb.Envelope()
    envelope.ParseFromString(reply.payload_bytes)
    assert envelope.authorization.HasField("remove_authorized_client_response")
    assert status_of(await post(http, signed(gw, stranger))) == (2, 3)


async def test_rate_limit_fault_applies_to_v1r(
    gw: GatewaySimulator, http: Client, key: SigningKey
) -> None:
    gw.set_faults(rate_limit=True)
    answer = await http.post("/tedapi/v1r", data=signed(gw, key))
    assert answer.status == 429
    assert gw.signed.requests == 0


@pytest.mark.parametrize("profile", ["1.50", "21.44", "23.44", "25.10", "pw3-restricted"])
async def test_older_profiles_have_no_v1r(profile: str, key: SigningKey) -> None:
    async with GatewaySimulator(options(profile=profile)) as sim:
        sim.set_key_state(key.public_key_der, KeyState.VERIFIED)
        client = Client(sim)
        answer = await client.post("/tedapi/v1r", data=signed(sim, key))
        await client.close()
    assert answer.status == 404


@pytest.mark.parametrize(
    ("profile", "status", "zipped"),
    [
        ("1.50", 404, False),
        ("21.44", 404, False),
        ("23.44", 200, False),
        ("25.10", 200, False),
        ("26.26", 200, True),
        ("pw3", 200, False),
        ("pw3-restricted", 404, False),
    ],
)
async def test_din_per_profile(profile: str, status: int, zipped: bool) -> None:
    async with GatewaySimulator(options(profile=profile)) as sim:
        client = Client(sim)
        anonymous = await client.get("/tedapi/din")
        await client.login()
        answer = await client.get("/tedapi/din")
        await client.close()
    assert anonymous.status == (401 if status == 200 else 404)
    assert answer.status == status
    if status == 200:
        assert "Content-Encoding" not in answer.headers
        assert answer.raw.startswith(b"\x1f\x8b") is zipped
        text = gzip.decompress(answer.raw) if zipped else answer.raw
        assert text.decode() == sim.din


async def test_pw3_offers_v1r_but_only_three_rest_endpoints(key: SigningKey) -> None:
    async with GatewaySimulator(options(profile="pw3")) as sim:
        sim.set_key_state(key.public_key_der, KeyState.VERIFIED)
        client = Client(sim)
        await client.login()
        operation = await client.get("/api/operation")
        raw = await post(client, signed(sim, key))
        await client.close()
    assert operation.status == 404
    assert isinstance(parse_answer(raw), FileContent)


async def test_control_api_sets_key_state_layout_and_quirk(
    key: SigningKey, stranger: SigningKey
) -> None:
    async with (
        GatewaySimulator(options(profile="26.26")) as sim,
        ControlServer(sim) as server,
        aiohttp.ClientSession() as session,
    ):

        async def control(path: str, body: Any) -> tuple[int, Any]:
            async with session.post(server.url + path, json=body) as response:
                return response.status, await response.json()

        key_b64 = base64.b64encode(key.public_key_der).decode()
        status, state = await control("/keys", {"public_key_b64": key_b64, "state": "pending"})
        assert status == 200
        assert state["keys"] == [
            {"fingerprint": key.fingerprint, "state": "pending", "description": ""}
        ]
        assert sim.keys.get(key.public_key_der) is not None
        status, state = await control("/tedapi", {"fault_layout": "pypowerwall"})
        assert state["tedapi"]["fault_layout"] == "pypowerwall"
        status, state = await control("/tedapi", {"apply_at_dispatch": True})
        assert state["tedapi"]["apply_at_dispatch"] is True
        assert sim.signed.config.apply_at_dispatch is True
        bad = await control("/keys", {"public_key_b64": key_b64, "state": "sleepy"})
        assert bad[0] == 400
        assert "state must be one of" in bad[1]["error"]
        bad = await control("/tedapi", {"fault_layout": "mine"})
        assert bad[0] == 400

        client = Client(sim)
        pending = await post(client, signed(sim, key))
        unknown = await post(client, signed(sim, stranger))
        await client.close()
    with pytest.raises(PairingNotFinishedError):
        parse_answer(pending)
    assert status_of(unknown) == (3, 0)
