"""Answers of /tedapi/v1r: typed results, both fault layouts, and clear errors for any bytes."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pw2mqtt.errors import GatewayResponseError
from pw2mqtt.gateway._proto import tedapi_v1r_pb2 as pb
from pw2mqtt.gateway.tedapi import messages
from pw2mqtt.gateway.tedapi.answers import (
    AuthorizedClients,
    BackupEvents,
    ClientState,
    FileContent,
    FileUpdated,
    IslandModeSet,
    ManualBackupCancelled,
    ManualBackupScheduled,
    parse_answer,
    parse_answer_as,
)
from pw2mqtt.gateway.tedapi.errors import (
    CommandRejectedError,
    ExpiryTooFarAheadError,
    FaultTimeoutError,
    InvalidSignatureError,
    KeyNotPairedError,
    MessageExpiredError,
    PairingNotFinishedError,
    SignedMessageFaultError,
    TedapiError,
    TedapiResponseError,
    UnexpectedAnswerError,
)
from pw2mqtt.gateway.tedapi.keys import SigningKey
from pw2mqtt.gateway.tedapi.messages import SignedRequest, sign_request
from tests.gateway.tedapi.conftest import DIN

ANSWERS = (
    FileContent,
    FileUpdated,
    IslandModeSet,
    ManualBackupScheduled,
    ManualBackupCancelled,
    BackupEvents,
    AuthorizedClients,
)
REQUEST_ID = "0b6f1a2c-3d4e-4f50-8a6b-7c8d9e0f1a2b"
NOW = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC
CONFIG = b'{"site_info": {"backup_reserve_percent": 24.0}}'


def _envelope(**payload: object) -> bytes:
    envelope = pb.Envelope(
        delivery_channel=2,
        sender=pb.Participant(din=DIN),
        recipient=pb.Participant(authorized_client=1),
        **payload,  # type: ignore[arg-type]
    )
    return envelope.SerializeToString()


def _answer(payload: bytes | None = None, *, status: pb.SignedStatus | None = None) -> bytes:
    """An answer whose envelope is its last field, so that every truncation breaks it."""
    message = pb.RoutableMessage(from_destination=pb.Destination(domain=7), status=status)
    if payload is not None:
        message.payload_bytes = payload
    return message.SerializeToString()


def _read_answer() -> bytes:
    read = pb.ReadFileResponse(
        file=pb.StoredFile(name="config.json", blob=CONFIG), hash=b"\xab" * 16
    )
    return _answer(_envelope(filestore=pb.FileStoreMessages(read_file_response=read)))


@pytest.fixture(scope="module")
def sent(key: SigningKey) -> SignedRequest:
    return sign_request(messages.read_config(DIN), din=DIN, key=key, now=NOW, request_id=REQUEST_ID)


# --- typed answers -------------------------------------------------------------------------------


def test_a_config_read() -> None:
    answer = parse_answer_as(FileContent, _read_answer())
    assert answer == FileContent(name="config.json", blob=CONFIG, hash=b"\xab" * 16)
    assert "backup_reserve" not in repr(answer)  # the blob is long; the repr leaves it out


def test_a_config_write() -> None:
    updated = pb.UpdateFileResponse(file=pb.StoredFile(name="config.json"), hash=b"\x01")
    body = _answer(_envelope(filestore=pb.FileStoreMessages(update_file_response=updated)))
    assert parse_answer(body) == FileUpdated(name="config.json", hash=b"\x01")


@pytest.mark.parametrize(
    ("teg", "expected"),
    [
        (
            pb.TegMessages(set_island_mode_response=pb.SetIslandModeResponse(result=1)),
            IslandModeSet(1),
        ),
        (
            pb.TegMessages(schedule_manual_backup_response=pb.ScheduleManualBackupResponse()),
            ManualBackupScheduled(),
        ),
        (
            pb.TegMessages(cancel_manual_backup_response=pb.CancelManualBackupResponse()),
            ManualBackupCancelled(),
        ),
    ],
)
def test_teg_answers(teg: pb.TegMessages, expected: object) -> None:
    assert parse_answer(_answer(_envelope(teg=teg))) == expected


def test_backup_events() -> None:
    schedule = pb.EventSchedule(start=pb.Instant(seconds=1_767_225_660), duration_seconds=3600)
    events = pb.GetBackupEventsResponse(
        manual_backup_event=pb.ManualBackupEvent(schedule=schedule),
        backup_events=[pb.BackupEvent(id="e1", name="Storm", schedule=schedule), pb.BackupEvent()],
    )
    body = _answer(_envelope(teg=pb.TegMessages(get_backup_events_response=events)))
    answer = parse_answer_as(BackupEvents, body)
    assert answer.manual is not None
    assert answer.manual.start == datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    assert answer.manual.end == datetime(2026, 1, 1, 1, 1, tzinfo=UTC)
    assert [(e.id, e.name) for e in answer.events] == [("e1", "Storm"), ("", "")]
    assert answer.events[0].schedule == answer.manual
    assert answer.events[1].schedule is None


def test_no_backup_events() -> None:
    events = pb.GetBackupEventsResponse()
    body = _answer(_envelope(teg=pb.TegMessages(get_backup_events_response=events)))
    assert parse_answer(body) == BackupEvents(manual=None, events=())


def test_authorized_clients(key: SigningKey) -> None:
    clients = pb.ListAuthorizedClientsResponse(
        clients=[
            pb.AuthorizedClient(
                client_type=1,
                description="pw2mqtt",
                key_type=1,
                public_key=key.public_key_der,
                state=3,
                added=pb.Instant(seconds=1_767_225_600),
            ),
            pb.AuthorizedClient(description="someday", state=9),
        ]
    )
    message = pb.AuthorizationMessages(list_authorized_clients_response=clients)
    answer = parse_answer_as(AuthorizedClients, _answer(_envelope(authorization=message)))
    ours = answer.find(key.public_key_der)
    assert ours is not None
    assert (ours.description, ours.state, ours.key_type) == ("pw2mqtt", ClientState.VERIFIED, 1)
    assert ours.fingerprint == key.fingerprint
    assert ours.added == datetime(2026, 1, 1, tzinfo=UTC)
    unknown = answer.clients[1]
    assert (unknown.state, unknown.state_code, unknown.added) == (None, 9, None)
    assert answer.find(b"other") is None


def test_an_answer_of_another_kind_is_unexpected() -> None:
    with pytest.raises(UnexpectedAnswerError, match="FileContent where BackupEvents"):
        parse_answer_as(BackupEvents, _read_answer())


@pytest.mark.parametrize(
    ("payload", "described"),
    [
        (_envelope(), "empty envelope"),
        (_envelope(teg=pb.TegMessages()), "empty teg"),
        (
            _envelope(teg=pb.TegMessages(get_backup_events_request=pb.GetBackupEventsRequest())),
            "teg.get_backup_events_request",
        ),
    ],
)
def test_an_envelope_without_a_known_answer(payload: bytes, described: str) -> None:
    with pytest.raises(UnexpectedAnswerError, match=described):
        parse_answer(_answer(payload))


def test_a_refusal_of_the_request_itself() -> None:
    error = pb.ErrorResponse(status=pb.RpcStatus(code=9, message="hash mismatch"))
    body = _answer(_envelope(common=pb.CommonMessages(error_response=error)))
    with pytest.raises(CommandRejectedError, match=r"\(code 9\): hash mismatch") as caught:
        parse_answer(body)
    assert caught.value.code == 9


# --- faults: both layouts ------------------------------------------------------------------------


def _pypowerwall_layout(fault: int) -> bytes:
    return _answer(status=pb.SignedStatus(status_or_fault=fault))


def _tesla_layout(fault: int) -> bytes:
    return _answer(status=pb.SignedStatus(status_or_fault=2, fault=fault))  # 2 = operation error


@pytest.mark.parametrize("layout", [_pypowerwall_layout, _tesla_layout], ids=["field1", "field2"])
@pytest.mark.parametrize(
    ("fault", "error", "says"),
    [
        (3, KeyNotPairedError, "pair the key: pw2mqtt pair"),
        (5, InvalidSignatureError, "signed for another gateway than " + DIN),
        (17, MessageExpiredError, "check the gateway's and this machine's clocks"),
        (20, ExpiryTooFarAheadError, "expires too far ahead"),
        (2, FaultTimeoutError, "try again"),
        (11, SignedMessageFaultError, "internal error"),
        (99, SignedMessageFaultError, "fault 99"),
    ],
)
def test_faults(
    layout: object, fault: int, error: type[Exception], says: str, sent: SignedRequest
) -> None:
    assert callable(layout)
    with pytest.raises(error, match=says) as caught:
        parse_answer(layout(fault), sent=sent)
    assert type(caught.value) is error
    assert isinstance(caught.value, SignedMessageFaultError)
    assert caught.value.fault == fault
    assert f"(fault {fault})" in str(caught.value)


def test_the_tesla_layout_is_not_read_as_a_timeout() -> None:
    """Field 1 holds 2 (operation error) in Tesla's layout: the fault in field 2 decides."""
    with pytest.raises(KeyNotPairedError):
        parse_answer(_tesla_layout(3))


def test_an_unknown_key_names_its_fingerprint(sent: SignedRequest, key: SigningKey) -> None:
    with pytest.raises(KeyNotPairedError, match=re.escape(key.fingerprint)):
        parse_answer(_pypowerwall_layout(3), sent=sent)
    with pytest.raises(KeyNotPairedError, match="this signing key"):
        parse_answer(_pypowerwall_layout(3))


def test_an_expired_request_shows_both_clocks(sent: SignedRequest) -> None:
    with pytest.raises(MessageExpiredError) as caught:
        parse_answer(_tesla_layout(17), sent=sent, gateway_clock=NOW + 600)
    message = str(caught.value)
    assert "valid until 2026-01-01 00:00:12 UTC" in message
    assert "signed at 2026-01-01 00:00:00 UTC by this machine's clock" in message
    assert "gateway clock 2026-01-01 00:10:00 UTC" in message
    assert caught.value.gateway_clock == NOW + 600


def test_an_expired_request_without_context_still_says_what_to_do() -> None:
    with pytest.raises(MessageExpiredError, match=r"expired: check the gateway's"):
        parse_answer(_pypowerwall_layout(17))


def test_a_fault_wins_over_a_payload() -> None:
    body = pb.RoutableMessage(
        payload_bytes=_envelope(), status=pb.SignedStatus(status_or_fault=5)
    ).SerializeToString()
    with pytest.raises(InvalidSignatureError):
        parse_answer(body)


# --- pairing not finished ------------------------------------------------------------------------


def test_authorization_not_verified_means_the_power_toggle_is_missing() -> None:
    body = pb.RoutableMessage(
        to_destination=pb.Destination(domain=7),
        from_destination=pb.Destination(domain=7),
        payload_bytes=b"authorization not verified",
        request_uuid=REQUEST_ID.encode(),
        uuid=b"9d3c1f7e-2b4a-4c5d-8e6f-0a1b2c3d4e5f",
    ).SerializeToString()
    assert len(body) < 128  # a short answer, like the one of about 101 bytes users reported
    with pytest.raises(PairingNotFinishedError, match="toggle the Powerwall's power") as caught:
        parse_answer(body)
    assert isinstance(caught.value, TedapiResponseError)


@pytest.mark.parametrize("text", [b"Authorization not verified\n", b"authorization not verified"])
def test_authorization_not_verified_as_the_whole_body(text: bytes) -> None:
    with pytest.raises(PairingNotFinishedError):
        parse_answer(text)


# --- anything else is a clear error, never a crash ------------------------------------------------


def test_every_truncation_of_a_valid_answer_is_a_clear_error() -> None:
    body = _read_answer()
    assert isinstance(parse_answer(body), FileContent)
    for length in range(len(body)):
        with pytest.raises(TedapiResponseError):
            parse_answer(body[:length])


def test_every_truncation_of_a_valid_envelope_is_a_clear_error() -> None:
    message = pb.RoutableMessage()
    message.ParseFromString(_read_answer())
    envelope = message.payload_bytes
    for length in range(1, len(envelope)):
        with pytest.raises(TedapiResponseError):
            parse_answer(_answer(envelope[:length]))


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"", "neither an envelope nor a fault"),
        (_answer(b""), "neither an envelope nor a fault"),
        (b"<html>502 Bad Gateway</html>", "text, not protobuf: '<html>502 Bad Gateway</html>'"),
        (b"\xff\xff\xff\xff", r"not a protobuf message \(4 bytes\)"),
        (_answer(b"\xff\xff"), "envelope is not a protobuf message"),
    ],
)
def test_undecodable_answers(body: bytes, says: str) -> None:
    with pytest.raises(TedapiResponseError, match=says) as caught:
        parse_answer(body)
    assert isinstance(caught.value, GatewayResponseError)
    assert isinstance(caught.value, TedapiError)
    assert caught.value.endpoint == "/tedapi/v1r"


def _answer_or_clear_error(body: bytes) -> None:
    try:
        answer = parse_answer(body)
    except TedapiResponseError:
        return
    assert isinstance(answer, ANSWERS)


@given(st.binary(max_size=512))
def test_random_bytes_are_an_answer_or_a_clear_error(body: bytes) -> None:
    _answer_or_clear_error(body)


@given(st.binary(max_size=512))
def test_a_random_envelope_is_an_answer_or_a_clear_error(payload: bytes) -> None:
    _answer_or_clear_error(_answer(payload))


@given(
    st.integers(min_value=0, max_value=len(_read_answer()) - 1), st.binary(min_size=1, max_size=8)
)
def test_a_corrupted_answer_is_an_answer_or_a_clear_error(at: int, noise: bytes) -> None:
    body = _read_answer()
    _answer_or_clear_error(body[:at] + noise + body[at + len(noise) :])


def test_fault_messages_show_no_private_key(sent: SignedRequest, key: SigningKey) -> None:
    numbers = key.private_key.private_numbers()
    for fault in (2, 3, 5, 17, 20, 11):
        with pytest.raises(SignedMessageFaultError) as caught:
            parse_answer(_tesla_layout(fault), sent=sent)
        text = str(caught.value) + repr(caught.value)
        assert str(numbers.d) not in text
        assert f"{numbers.d:x}" not in text
