"""The body of GET /tedapi/din: the gateway's DIN, which every signed request is personalized to.

Firmware 25.42.2 and later may gzip the body without saying so in Content-Encoding, so the
gzip magic bytes are checked rather than the headers.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from typing import Final

from pw2mqtt.gateway.tedapi.errors import DinError

_GZIP_MAGIC: Final = b"\x1f\x8b"
_MAX_BODY: Final = 4096
# Part number, revision letter, serial: 1232100-00-E--TG123456789012.
_DIN: Final = re.compile(r"[0-9]{7}-[0-9]{2}-[A-Z]--[A-Z0-9]{2,64}")
_SHOWN: Final = 60


def parse_din(body: bytes) -> str:
    text = _text(_gunzipped(body) if body.startswith(_GZIP_MAGIC) else body).strip()
    if not text:
        msg = "the gateway sent an empty DIN"
        raise DinError(msg)
    if _DIN.fullmatch(text) is None:
        shown = text[:_SHOWN] + ("..." if len(text) > _SHOWN else "")
        msg = f"{shown!r} is not a DIN (expected the shape 1232100-00-E--TG123456789012)"
        raise DinError(msg)
    return text


def _gunzipped(body: bytes) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as stream:
            data = stream.read(_MAX_BODY + 1)
    except (OSError, EOFError, zlib.error) as err:
        msg = f"the DIN body looks gzipped but does not decompress ({err})"
        raise DinError(msg) from None
    if len(data) > _MAX_BODY:
        msg = f"the DIN body decompresses to more than {_MAX_BODY} bytes"
        raise DinError(msg)
    return data


def _text(data: bytes) -> str:
    if len(data) > _MAX_BODY:
        msg = f"the DIN body is {len(data)} bytes long, far more than a DIN"
        raise DinError(msg)
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        msg = f"the DIN body is not ASCII text ({len(data)} bytes)"
        raise DinError(msg) from None
