"""The body of GET /tedapi/din: plain or gzipped, trimmed, and checked for a DIN's shape."""

from __future__ import annotations

import gzip

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pw2mqtt.errors import GatewayResponseError
from pw2mqtt.gateway.tedapi.din import parse_din
from pw2mqtt.gateway.tedapi.errors import DinError
from tests.gateway.tedapi.conftest import DIN


@pytest.mark.parametrize(
    "body",
    [
        DIN.encode(),
        f"{DIN}\n".encode(),
        f"  {DIN}\r\n".encode(),
        gzip.compress(DIN.encode()),
        gzip.compress(f"{DIN}\n".encode()),
    ],
    ids=["plain", "newline", "whitespace", "gzip", "gzip newline"],
)
def test_a_din_plain_or_gzipped(body: bytes) -> None:
    assert parse_din(body) == DIN


@pytest.mark.parametrize(
    "din",
    ["1707000-11-J--TG12345678AB", "1118431-01-E--T17F0000000", "1232100-10-E--TG1210480A1B2C"],
)
def test_other_din_shapes(din: str) -> None:
    assert parse_din(din.encode()) == din


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"", "empty DIN"),
        (b" \n", "empty DIN"),
        (b"<html>Forbidden</html>", "is not a DIN"),
        (b'{"din": "x"}', "is not a DIN"),
        (b"TETHC--1232100-00-E--TG123456789012", "is not a DIN"),
        (f"{DIN} {DIN}".encode(), "is not a DIN"),
        ("1232100-00-E--TG12345678901\u00e9".encode(), "not ASCII"),
        (b"\x1f\x8b\x08\x00broken", "does not decompress"),
        (gzip.compress(DIN.encode(), mtime=0)[:-6], "does not decompress"),
        (gzip.compress(b"x" * 100_000, mtime=0), "more than 4096 bytes"),
        (b"x" * 5000, "far more than a DIN"),
    ],
)
def test_anything_else_is_a_clear_error(body: bytes, says: str) -> None:
    with pytest.raises(DinError, match=says) as caught:
        parse_din(body)
    assert isinstance(caught.value, GatewayResponseError)
    assert caught.value.endpoint == "/tedapi/din"


def test_a_long_body_is_shortened_in_the_message() -> None:
    with pytest.raises(DinError) as caught:
        parse_din(b"y" * 1000)
    assert len(str(caught.value)) < 200


@given(st.binary(max_size=256))
def test_random_bytes_are_a_din_or_a_clear_error(body: bytes) -> None:
    try:
        din = parse_din(body)
    except DinError:
        return
    assert din == din.strip()
    assert "--" in din


@given(st.binary(max_size=256))
def test_random_gzipped_bytes_are_a_din_or_a_clear_error(body: bytes) -> None:
    try:
        parse_din(gzip.compress(body))
    except DinError:
        return
