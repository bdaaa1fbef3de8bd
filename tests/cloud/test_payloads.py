"""Reading Tesla's pairing answers and energy-site lists: pure functions."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from pw2mqtt.cloud.errors import SiteNotFoundError, TokenFileError
from pw2mqtt.cloud.payloads import (
    EnergySite,
    add_client_command,
    client_state,
    energy_sites,
    parse_state,
    pick_site,
    same_din,
)
from pw2mqtt.cloud.tokens import TeslaTokens, find_tokens, read_token_file, save_rotated
from pw2mqtt.gateway.tedapi.answers import ClientState

OURS = b"\x30\x82\x02\x0a-our-key"
OTHER = b"\x30\x82\x02\x0a-app-key"
DIN = "1232100-00-E--TG123456789ABC"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_the_pairing_request_carries_the_pkcs1_der_in_base64() -> None:
    body = add_client_command(OURS, "pw2mqtt")
    request = body["command_properties"]["message"]["authorization"][
        "add_authorized_client_request"
    ]
    assert body["command_type"] == "grpc_command"
    assert request == {
        "key_type": 1,
        "public_key": b64(OURS),
        "authorized_client_type": 1,
        "description": "pw2mqtt",
    }


def envelope(*path: str, leaf: object) -> dict[str, object]:
    node: object = leaf
    for step in reversed(path):
        node = {step: node}
    return {"response": node}


FLAT_ADD = {"response": {"public_key": b64(OURS), "state": 3}}
FLAT_LIST = {
    "response": {
        "clients": [{"public_key": b64(OTHER), "state": 1}, {"public_key": b64(OURS), "state": "3"}]
    }
}
SNAKE = envelope(
    "message", "payload", "authorization", "message", "list_authorized_clients_response",
    leaf={"clients": [{"public_key": b64(OURS), "state": "AUTHORIZED_STATE_VERIFIED"}]},
)  # fmt: skip
PASCAL = envelope(
    "message", "Payload", "Authorization", "Message", "AddAuthorizedClientResponse",
    leaf={"Client": {"PublicKey": b64(OURS), "State": 3}},
)  # fmt: skip


@pytest.mark.parametrize(
    "body",
    [FLAT_ADD, FLAT_LIST, SNAKE, PASCAL],
    ids=["flat-add", "flat-list", "envelope-snake", "envelope-pascal"],
)
def test_state_of_our_key_in_every_known_layout(body: object) -> None:
    assert client_state(body, OURS) is ClientState.VERIFIED


def test_another_key_or_garbage_is_not_ours() -> None:
    assert (
        client_state({"response": {"clients": [{"public_key": b64(OTHER), "state": 3}]}}, OURS)
        is None
    )
    assert client_state({"response": {"clients": [{"public_key": "%%", "state": 3}]}}, OURS) is None
    assert client_state({"response": None}, OURS) is None
    assert client_state("not json object", OURS) is None  # fmt: skip


@pytest.mark.parametrize(
    ("value", "state"),
    [(1, ClientState.PENDING), ("2", ClientState.TIMED_OUT),
     ("AUTHORIZED_STATE_REMOVED", ClientState.REMOVED), (9, None), (True, None), ("weird", None)],
)  # fmt: skip
def test_parse_state(value: object, state: ClientState | None) -> None:
    assert parse_state(value) is state


def test_energy_sites_skip_vehicles_and_odd_entries() -> None:
    body = {
        "response": [
            {"id": 1, "vehicle_id": 2, "display_name": "car"},
            {"energy_site_id": 42, "gateway_id": DIN, "site_name": "Home"},
            {"energy_site_id": "43", "site_name": "Solar only"},
            {"energy_site_id": True},
            "junk",
        ]
    }
    assert energy_sites(body) == [EnergySite(42, DIN, "Home"), EnergySite(43, None, "Solar only")]
    assert energy_sites({"error": "x"}) == []


def test_pick_site_by_din_and_list_what_was_seen() -> None:
    home = EnergySite(42, DIN, "Home")
    cabin = EnergySite(43, "1232100-00-E--TG000000000001", "Cabin")
    assert pick_site([cabin, home], DIN.lower()) is home
    assert pick_site([cabin, home], "TG123456789ABC") is home
    assert pick_site([home], None) is home
    with pytest.raises(SiteNotFoundError) as missing:
        pick_site([cabin], DIN)
    assert DIN in str(missing.value)
    assert "TG000000000001" in str(missing.value)
    with pytest.raises(SiteNotFoundError, match="give --din"):
        pick_site([cabin, home], None)
    assert not same_din(DIN, "1232100-00-E--TG000000000001")


def test_token_file_forms(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_text("rt-secret-1\n")
    assert read_token_file(plain).refresh_token == "rt-secret-1"
    both = tmp_path / "both.json"
    both.write_text(json.dumps({"access_token": "at-secret-2", "refresh_token": "rt-secret-2"}))
    tokens = read_token_file(both)
    assert (tokens.access_token, tokens.refresh_token) == ("at-secret-2", "rt-secret-2")
    assert "secret" not in repr(tokens)
    assert tokens.redact("got at-secret-2 and rt-secret-2") == "got <token> and <token>"


@pytest.mark.parametrize(
    ("content", "problem"),
    [("", "empty"), ("{not json", "not valid JSON"), ('{"user": "x"}', "no access_token"),
     ("two words", "neither"), ("[1]", "not a JSON object")],
)  # fmt: skip
def test_bad_token_files_say_why_without_showing_content(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "tokens"
    path.write_text(content)
    with pytest.raises(TokenFileError, match=problem) as error:
        read_token_file(path)
    assert "words" not in str(error.value)
    with pytest.raises(TokenFileError, match="does not exist"):
        read_token_file(tmp_path / "missing")


def test_tokens_from_the_environment() -> None:
    env = {"PW2MQTT_TESLA_REFRESH_TOKEN": " rt-env ", "PW2MQTT_TESLA_ACCESS_TOKEN": ""}
    tokens = find_tokens(None, env)
    assert tokens is not None
    assert (tokens.access_token, tokens.refresh_token, tokens.path) == (None, "rt-env", None)
    assert find_tokens(None, {}) is None


def test_a_rotated_refresh_token_is_written_back_privately(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"refresh_token": "rt-old", "email": "me@example.com"}))
    tokens = read_token_file(path)
    tokens.refresh_token, tokens.access_token, tokens.rotated = "rt-new", "at-new", True
    assert save_rotated(tokens)
    saved = json.loads(path.read_text())
    assert saved == {"refresh_token": "rt-new", "access_token": "at-new", "email": "me@example.com"}
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert not save_rotated(TeslaTokens(refresh_token="x", rotated=True))  # from the environment
