"""Command validation: what is accepted, and a clear error for everything else."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pw2mqtt.commands.parse import (
    Change,
    parse_field_set,
    parse_json_set,
    parse_request,
    transaction_of,
)
from pw2mqtt.errors import CommandError


@pytest.mark.parametrize(
    ("key", "payload", "change"),
    [
        ("operation_mode", b"backup", Change(operation_mode="backup")),
        ("operation_mode", b"Self_Consumption", Change(operation_mode="self_consumption")),
        ("operation_mode", b"self_powered", Change(operation_mode="self_consumption")),
        ("operation_mode", b"Time-Based Control", Change(operation_mode="autonomous")),
        ("operation_mode", b'"autonomous"', Change(operation_mode="autonomous")),
        ("backup_reserve", b"20", Change(backup_reserve_raw=24.0)),
        ("backup_reserve", b"0", Change(backup_reserve_raw=5.0)),
        ("backup_reserve", b"100", Change(backup_reserve_raw=100.0)),
        ("backup_reserve", b" 12.5 ", Change(backup_reserve_raw=16.875)),
        ("backup_reserve", b"\t20\r\n", Change(backup_reserve_raw=24.0)),
        ("backup_reserve", b"+20", Change(backup_reserve_raw=24.0)),
        ("backup_reserve", b"20.", Change(backup_reserve_raw=24.0)),
        ("backup_reserve", b'"20"', Change(backup_reserve_raw=24.0)),
        ("backup_reserve_raw", b"24", Change(backup_reserve_raw=24.0)),
        ("off_grid", b"true", Change(off_grid=True)),
        ("off_grid", b"ON", Change(off_grid=True)),
        ("off_grid", b"off", Change(off_grid=False)),
        ("sitemaster", b"RUN", Change(sitemaster="run")),
        ("sitemaster", b"stop", Change(sitemaster="stop")),
        ("grid_charging", b"false", Change(grid_charging=False)),
        ("grid_charging", b"ON", Change(grid_charging=True)),
        ("export_rule", b"never", Change(export_rule="never")),
        ("export_rule", b"PV_Only", Change(export_rule="pv_only")),
        ("export_rule", b'"battery_ok"', Change(export_rule="battery_ok")),
        ("manual_backup", b"start", Change(manual_backup=3600)),
        ("manual_backup", b"Cancel", Change(manual_backup=0)),
        ("manual_backup", b"60", Change(manual_backup=60)),
        ("manual_backup", b'{"duration": 7200}', Change(manual_backup=7200)),
    ],
)
def test_plain_values(key: str, payload: bytes, change: Change) -> None:
    assert parse_field_set("gw", key, payload).change == change


BAD_FIELD_VALUES = [
    ("operation_mode", b"", "empty"),
    ("operation_mode", b"   ", "empty"),
    ("operation_mode", b"eco", "not one of"),
    ("operation_mode", b"scheduler", "not one of"),
    ("operation_mode", b"site_control", "not one of"),
    ("operation_mode", b"42", "not one of"),
    ("operation_mode", b"true", "not one of"),
    ("operation_mode", b'{"mode":"backup"}', "not a JSON object"),
    ("operation_mode", b"[1]", "not a JSON object or list"),
    ("operation_mode", b"\xff\xfe", "UTF-8"),
    ("operation_mode", b"backup\x00", "control characters"),
    ("operation_mode", b"x" * 5000, "too large"),
    ("operation_mode", b'"unterminated', "not valid JSON"),
    ("backup_reserve", b"", "empty"),
    ("backup_reserve", b"-1", "from 0 to 100"),
    ("backup_reserve", b"100.1", "from 0 to 100"),
    ("backup_reserve", b"101", "from 0 to 100"),
    ("backup_reserve", b"1e3", "number"),
    ("backup_reserve", b"NaN", "number"),
    ("backup_reserve", b"nan", "number"),
    ("backup_reserve", b"Infinity", "number"),
    ("backup_reserve", b"-Infinity", "number"),
    ("backup_reserve", b"inf", "number"),
    ("backup_reserve", b"twenty", "number"),
    ("backup_reserve", b"20%", "number"),
    ("backup_reserve", b"20 %", "number"),
    ("backup_reserve", b"0x14", "number"),
    ("backup_reserve", b"true", "number"),
    ("backup_reserve", b"ON", "number"),
    ("backup_reserve", b'"20"x', "not valid JSON"),
    ("backup_reserve", b"[20]", "not a JSON object or list"),
    ("backup_reserve", b'{"value":20}', "not a JSON object or list"),
    ("backup_reserve", b"9" * 400, "from 0 to 100"),
    ("backup_reserve", b"20,5", "number"),
    ("backup_reserve", b"null", "number"),
    # Unicode look-alikes: Python's float() takes any decimal digit, the docs promise ASCII only.
    ("backup_reserve", "\u0662\u0660".encode(), "number"),  # Arabic-Indic
    ("backup_reserve", "\u06f2\u06f0".encode(), "number"),  # extended Arabic-Indic (Persian)
    ("backup_reserve", "\uff12\uff10".encode(), "number"),  # full-width
    ("backup_reserve", "\U0001d7d0\U0001d7ce".encode(), "number"),  # mathematical bold
    ("backup_reserve", "\u0968\u0966".encode(), "number"),  # Devanagari
    ("backup_reserve", "\u00b2\u2070".encode(), "number"),  # superscripts
    ("backup_reserve", "\u2082\u2080".encode(), "number"),  # subscripts
    ("backup_reserve", "2\uff10".encode(), "number"),  # ASCII mixed with full-width
    ("backup_reserve", "\u221220".encode(), "number"),  # minus sign U+2212 (-20 would be refused)
    ("backup_reserve", "\u221210".encode(), "number"),
    ("backup_reserve", "\uff12\uff10.\uff15".encode(), "number"),
    ("backup_reserve", "20\uff0e5".encode(), "number"),  # full-width full stop
    ("backup_reserve", "\u00a020".encode(), "number"),  # no-break space
    ("backup_reserve", "20\u00a0".encode(), "number"),
    ("backup_reserve", "\u200720".encode(), "number"),  # figure space
    ("backup_reserve", "\u300020".encode(), "number"),  # ideographic space
    ("backup_reserve", "\u200b20".encode(), "control characters"),  # zero-width space
    ("backup_reserve", "\ufeff20".encode(), "control characters"),  # byte order mark
    ("backup_reserve", "2\u200d0".encode(), "control characters"),  # zero-width joiner
    ("backup_reserve", '"\u0662\u0660"'.encode(), "number"),  # as a JSON string
    ("backup_reserve", b'"\\u0662\\u0660"', "number"),  # the same, escaped in JSON
    ("backup_reserve", "\u00a0".encode(), "number"),
    ("backup_reserve_raw", "\uff12\uff14".encode(), "number"),
    ("operation_mode", "\uff42\uff41\uff43\uff4b\uff55\uff50".encode(), "not one of"),
    ("operation_mode", "bac\u212aup".encode(), "not one of"),  # Kelvin sign lower-cases to k
    ("operation_mode", "b\u0430ckup".encode(), "not one of"),  # Cyrillic a
    ("operation_mode", "\u00a0backup".encode(), "not one of"),
    ("operation_mode", "self\u00a0powered".encode(), "not one of"),
    ("off_grid", "\uff2f\uff2e".encode(), "true/false"),
    ("off_grid", "\u00a0on".encode(), "true/false"),
    ("off_grid", "tru\u0435".encode(), "true/false"),  # Cyrillic e
    ("sitemaster", "\uff32\uff35\uff2e".encode(), "run or stop"),
    ("sitemaster", "\u2003run".encode(), "run or stop"),  # em space
    ("backup_reserve_raw", b"4.99", "from 5 to 100"),
    ("backup_reserve_raw", b"0", "from 5 to 100"),
    ("off_grid", b"", "empty"),
    ("off_grid", b"yes", "true/false"),
    ("off_grid", b"1", "true/false"),
    ("off_grid", b"0", "true/false"),
    ("off_grid", b"tru", "true/false"),
    ("off_grid", b"null", "true/false"),
    ("off_grid", b"[true]", "not a JSON object or list"),
    ("off_grid", b"offgrid", "true/false"),
    ("sitemaster", b"", "empty"),
    ("sitemaster", b"start", "run or stop"),
    ("sitemaster", b"restart", "run or stop"),
    ("sitemaster", b"true", "run or stop"),
    ("sitemaster", b"1", "run or stop"),
    ("grid_charging", b"", "empty"),
    ("grid_charging", b"yes", "true/false"),
    ("grid_charging", b"1", "true/false"),
    ("grid_charging", b"NaN", "true/false"),
    ("grid_charging", b"null", "true/false"),
    ("grid_charging", b"[false]", "not a JSON object or list"),
    ("grid_charging", b"x" * 5000, "too large"),
    ("manual_backup", b"", "empty"),
    ("manual_backup", b"59", "from 60"),
    ("manual_backup", b"0", "from 60"),
    ("manual_backup", b"-60", "from 60"),
    ("manual_backup", b"604801", "from 60"),
    ("manual_backup", b"99999999999", "from 60"),
    ("manual_backup", b"NaN", "from 60"),
    ("manual_backup", b"1e3", "from 60"),
    ("manual_backup", b"true", "from 60"),
    ("manual_backup", b"stop", "from 60"),
    ("manual_backup", b'{"duration": 30}', "from 60"),
    ("manual_backup", b'{"duration": NaN}', "valid JSON"),
    ("manual_backup", b'{"duration": 600, "start": 1}', "from 60"),
    ("manual_backup", b'{"seconds": 600}', "from 60"),
    ("manual_backup", b"{", "valid JSON"),
    ("manual_backup", "\uff16\uff10".encode(), "from 60"),  # full-width digits
    ("export_rule", b"", "empty"),
    ("export_rule", b"always", "one of battery_ok"),
    ("export_rule", b"battery-ok", "one of battery_ok"),
    ("export_rule", b"1", "one of battery_ok"),
    ("export_rule", b"NaN", "one of battery_ok"),
    ("export_rule", b"true", "one of battery_ok"),
    ("export_rule", "n\u0435ver".encode(), "one of battery_ok"),  # Cyrillic e
    ("export_rule", b'{"export_rule":"never"}', "not a JSON object"),
    ("grid_power", b"100", "cannot be set"),
    ("battery_level", b"50", "cannot be set"),
    ("set", b"1", "cannot be set"),
]


@pytest.mark.parametrize(("key", "payload", "message"), BAD_FIELD_VALUES)
def test_bad_plain_values(key: str, payload: bytes, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        parse_field_set("gw", key, payload)


def test_json_set_is_one_change_with_its_transaction() -> None:
    body = {"backup_reserve": 20, "operation_mode": "backup", "transaction": "abc"}
    request = parse_json_set(json.dumps(body).encode(), gateway="gw")
    assert request.change == Change(operation_mode="backup", backup_reserve_raw=24.0)
    assert request.transaction == "abc"
    assert request.gateway == "gw"


def test_request_names_the_gateway() -> None:
    body = {"gateway": "home", "off_grid": False, "transaction": 7}
    request = parse_request("gateway/set", json.dumps(body).encode())
    assert (request.gateway, request.change, request.transaction) == (
        "home",
        Change(off_grid=False),
        7,
    )


BAD_JSON = [
    (b"", "empty"),
    (b"null", "JSON object"),
    (b"[]", "JSON object"),
    (b'"backup"', "JSON object"),
    (b"{", "valid JSON"),
    (b"{}", "nothing to change"),
    (b'{"transaction": "t"}', "nothing to change"),
    (b'{"colour": "red"}', "unknown field"),
    (b'{"grid_charging": "maybe"}', "true/false"),
    (b'{"grid_charging": 0}', "true/false"),
    (b'{"export_rule": 3}', "one of battery_ok"),
    (b'{"export_rule": null}', "one of battery_ok"),
    (b'{"export_rule": "never", "grid": 1}', "unknown field"),
    (b'{"manual_backup": 600, "backup_reserve": 20}', "on its own"),
    (b'{"manual_backup": {"duration": 1e9}}', "from 60"),
    (b'{"manual_backup": null}', "from 60"),
    (b'{"off_grid": true, "confirm": "yes"}', "must be true or false"),
    (b'{"off_grid": true, "confirm": 1}', "must be true or false"),
    (b'{"confirm": true}', "nothing to change"),
    (b'{"grid_charging": true, "confirm": true}', '"confirm" goes with "off_grid" only'),
    (b'{"backup_reserve": 20, "colour": "red"}', "unknown field"),
    (b'{"backup_reserve": "NaN"}', "number"),
    (b'{"backup_reserve": NaN}', "valid JSON"),
    (b'{"backup_reserve": Infinity}', "valid JSON"),
    (b'{"backup_reserve": 1e400}', "from 0 to 100"),
    (b'{"backup_reserve": true}', "number"),
    (b'{"backup_reserve": null}', "number"),
    (b'{"backup_reserve": [20]}', "number"),
    (b'{"backup_reserve": {"v": 20}}', "number"),
    (b'{"backup_reserve": 20, "backup_reserve_raw": 24}', "not both"),
    ('{"backup_reserve": "\uff12\uff10"}'.encode(), "number"),
    (b'{"backup_reserve": "\\u0662\\u0660"}', "number"),
    (b'{"backup_reserve": "\\u221220"}', "number"),
    (b'{"backup_reserve": "\\u00a020"}', "number"),
    ('{"operation_mode": "\uff42\uff41\uff43\uff4b\uff55\uff50"}'.encode(), "one of"),
    (b'{"off_grid": "\\u00a0true"}', "true/false"),
    (b'{"operation_mode": 1}', "one of"),
    (b'{"operation_mode": ["backup"]}', "one of"),
    (b'{"off_grid": "maybe"}', "true/false"),
    (b'{"off_grid": true, "backup_reserve": 20}', "on its own"),
    (b'{"sitemaster": "stop", "operation_mode": "backup"}', "on its own"),
    (b'{"backup_reserve": 20, "transaction": {"a": 1}}', "transaction"),
    (b'{"backup_reserve": 20, "transaction": "' + b"t" * 300 + b'"}', "transaction"),
    (b'{"backup_reserve": 20, "gateway": "other"}', "does not match"),
    (b"[" * 5000 + b"]" * 5000, "too large"),
    (b"[" * 2000 + b"]" * 2000, "valid JSON"),  # nested deeper than the parser goes
]


@pytest.mark.parametrize(("payload", "message"), BAD_JSON)
def test_bad_json_sets(payload: bytes, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        parse_json_set(payload, gateway="gw")


@pytest.mark.parametrize(
    ("command", "payload", "message"),
    [
        ("gateway/set", b'{"backup_reserve": 20}', '"gateway" is required'),
        ("gateway/set", b'{"gateway": 5, "backup_reserve": 20}', '"gateway" is required'),
        ("gateway/reboot", b"{}", "unknown request"),
        ("", b"{}", "unknown request"),
    ],
)
def test_bad_requests(command: str, payload: bytes, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        parse_request(command, payload)


def test_a_rejected_request_keeps_its_transaction() -> None:
    with pytest.raises(CommandError) as caught:
        parse_json_set(b'{"backup_reserve": 200, "transaction": "t1"}', gateway="gw")
    assert caught.value.transaction == "t1"
    assert transaction_of(b'{"transaction": 5}') == 5
    assert transaction_of(b"not json") is None


@settings(max_examples=2000, deadline=None)
@given(
    key=st.one_of(
        st.sampled_from(["operation_mode", "backup_reserve", "off_grid", "sitemaster"]),
        st.text(max_size=20),
    ),
    payload=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)),
)
def test_random_input_is_a_change_or_a_command_error(key: str, payload: bytes) -> None:
    try:
        request = parse_field_set("gw", key, payload)
    except CommandError:
        return
    assert request.change.kinds


@settings(max_examples=2000, deadline=None)
@given(
    body=st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=30),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=4)
        ),
        max_leaves=10,
    )
)
def test_random_json_is_a_change_or_a_command_error(body: object) -> None:
    try:
        payload = json.dumps(body).encode()
    except ValueError:
        return
    try:
        request = parse_json_set(payload, gateway="gw")
    except CommandError:
        return
    assert request.change.kinds


@settings(max_examples=2000, deadline=None)
@given(
    key=st.sampled_from(["operation_mode", "backup_reserve", "off_grid", "sitemaster"]),
    text=st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=12),
)
def test_only_ascii_text_is_ever_accepted(key: str, text: str) -> None:
    try:
        parse_field_set("gw", key, text.encode())
    except CommandError:
        return
    assert text.isascii(), text
