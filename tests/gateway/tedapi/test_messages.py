"""The requests: envelopes for each command, signed as a gateway verifies them."""

from __future__ import annotations

import pytest

from pw2mqtt.gateway._proto import tedapi_v1r_pb2 as pb
from pw2mqtt.gateway.tedapi import messages
from pw2mqtt.gateway.tedapi.keys import SigningKey
from pw2mqtt.gateway.tedapi.messages import (
    IslandMode,
    read_signed_request,
    sign_request,
)
from pw2mqtt.gateway.tedapi.signing import load_public_key_der, verify
from tests.gateway.tedapi.conftest import DIN, OTHER_DIN

REQUEST_ID = "0b6f1a2c-3d4e-4f50-8a6b-7c8d9e0f1a2b"
NOW = 1_767_225_600.25  # 2026-01-01 00:00:00.25 UTC


def _envelope(data: bytes) -> pb.Envelope:
    envelope = pb.Envelope()
    envelope.ParseFromString(data)
    assert envelope.delivery_channel == 2  # Hermes command, as public clients send
    assert envelope.sender.authorized_client == 1
    assert envelope.recipient.din == DIN
    return envelope


def test_read_config() -> None:
    request = _envelope(messages.read_config(DIN)).filestore.read_file_request
    assert (request.domain, request.name, request.if_different_hash) == (1, "config.json", b"")


def test_update_config_quotes_the_read_hash() -> None:
    envelope = _envelope(messages.update_config(DIN, b'{"a": 1}', b"\x01\x02"))
    request = envelope.filestore.update_file_request
    assert request.domain == 1
    assert (request.file.name, request.file.blob, request.hash) == (
        "config.json",
        b'{"a": 1}',
        b"\x01\x02",
    )


def test_update_config_needs_the_read_hash() -> None:
    with pytest.raises(ValueError, match="read_hash"):
        messages.update_config(DIN, b"{}", b"")


def test_schedule_manual_backup() -> None:
    envelope = _envelope(messages.schedule_manual_backup(DIN, start=1_767_225_660, duration_s=60))
    schedule = envelope.teg.schedule_manual_backup_request.schedule
    assert schedule.start.seconds == 1_767_225_660
    assert schedule.duration_seconds == 60
    assert schedule.priority == 0
    with_priority = messages.schedule_manual_backup(DIN, start=1, duration_s=3600, priority=5)
    assert _envelope(with_priority).teg.schedule_manual_backup_request.schedule.priority == 5


def test_a_manual_backup_event_lasts_at_least_a_minute() -> None:
    with pytest.raises(ValueError, match="at least 60 s"):
        messages.schedule_manual_backup(DIN, start=1, duration_s=59)


@pytest.mark.parametrize(
    ("build", "kind"),
    [
        (messages.cancel_manual_backup, "cancel_manual_backup_request"),
        (messages.get_backup_events, "get_backup_events_request"),
    ],
)
def test_empty_teg_requests(build: object, kind: str) -> None:
    assert callable(build)
    envelope = _envelope(build(DIN))
    assert envelope.WhichOneof("payload") == "teg"
    assert envelope.teg.WhichOneof("message") == kind


@pytest.mark.parametrize(("mode", "number"), [(IslandMode.OFF_GRID, 6), (IslandMode.ON_GRID, 1)])
def test_set_island_mode_forces_by_default(mode: IslandMode, number: int) -> None:
    request = _envelope(messages.set_island_mode(DIN, mode)).teg.set_island_mode_request
    assert (request.mode, request.force) == (number, True)
    unforced = _envelope(messages.set_island_mode(DIN, mode, force=False))
    assert not unforced.teg.set_island_mode_request.force


def test_list_authorized_clients() -> None:
    envelope = _envelope(messages.list_authorized_clients(DIN))
    assert envelope.authorization.WhichOneof("message") == "list_authorized_clients_request"


def test_a_signed_request_verifies_as_a_gateway_checks_it(key: SigningKey) -> None:
    envelope = messages.read_config(DIN)
    signed = sign_request(envelope, din=DIN, key=key, now=NOW, request_id=REQUEST_ID)
    assert signed.expires_at == 1_767_225_601 + 12  # whole seconds, rounded up
    assert signed.signed_at == NOW
    assert signed.key_fingerprint == key.fingerprint
    assert signed.din == DIN

    received = read_signed_request(signed.body)
    assert received.domain == 7
    assert received.envelope == envelope
    assert received.expires_at == signed.expires_at
    assert received.request_id == REQUEST_ID.encode()
    assert received.public_key_der == key.public_key_der
    assert received.key_fingerprint == key.fingerprint
    public_key = load_public_key_der(received.public_key_der)
    assert verify(public_key, received.signature, DIN, received.expires_at, received.envelope)
    assert not verify(public_key, received.signature, OTHER_DIN, received.expires_at, envelope)


def test_the_signed_frame_on_the_wire(key: SigningKey) -> None:
    envelope = messages.get_backup_events(DIN)
    signed = sign_request(envelope, din=DIN, key=key, now=NOW, request_id=REQUEST_ID, lifetime_s=30)
    message = pb.RoutableMessage()
    message.ParseFromString(signed.body)
    assert message.to_destination.domain == 7
    assert message.payload_bytes == envelope
    assert message.uuid == REQUEST_ID.encode()
    assert message.signature.signer.public_key == key.public_key_der
    assert message.signature.rsa.expires_at == 1_767_225_601 + 30
    assert len(message.signature.rsa.signature) == key.key_size // 8
    assert not message.HasField("status")


def test_the_request_repr_shows_no_body_or_key(key: SigningKey) -> None:
    signed = sign_request(b"", din=DIN, key=key, now=NOW, request_id=REQUEST_ID)
    assert "body" not in repr(signed)
    assert REQUEST_ID in repr(signed)


def test_a_lifetime_must_be_positive(key: SigningKey) -> None:
    with pytest.raises(ValueError, match="lifetime_s"):
        sign_request(b"", din=DIN, key=key, now=NOW, request_id=REQUEST_ID, lifetime_s=0)


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xff",
        pb.RoutableMessage().SerializeToString(),
        pb.RoutableMessage(payload_bytes=b"x").SerializeToString(),
        pb.RoutableMessage(
            payload_bytes=b"x", signature=pb.Signature(rsa=pb.RsaSignature(signature=b"s"))
        ).SerializeToString(),
    ],
    ids=["garbage", "empty", "unsigned", "anonymous"],
)
def test_a_request_that_is_not_signed_is_refused(body: bytes) -> None:
    with pytest.raises(ValueError, match=r"RoutableMessage|envelope|signature|public key"):
        read_signed_request(body)
