"""The gateway's answers from /tedapi/v1r, decoded into frozen dataclasses, or a clear error.

An answer is a RoutableMessage. Its status says whether the gateway accepted the signature; two
layouts of that status exist in public sources (see proto/tedapi_v1r.proto), so the fault is
read from field 2 when it is set and from field 1 otherwise. An accepted message carries the
answering envelope, except for a key whose pairing was never confirmed at the Powerwall: then
the payload is the plain text "authorization not verified".

Whatever the bytes, `parse_answer` returns an `Answer` or raises a `TedapiResponseError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Final, TypeVar

from google.protobuf.message import DecodeError

from pw2mqtt.gateway._proto import tedapi_v1r_pb2 as pb
from pw2mqtt.gateway.tedapi.errors import (
    CommandRejectedError,
    ExpiryTooFarAheadError,
    FaultTimeoutError,
    InvalidSignatureError,
    KeyNotPairedError,
    MessageExpiredError,
    PairingNotFinishedError,
    SignedMessageFaultError,
    TedapiResponseError,
    UnexpectedAnswerError,
)
from pw2mqtt.gateway.tedapi.keys import fingerprint
from pw2mqtt.gateway.tedapi.messages import SignedRequest

NOT_VERIFIED_TEXT: Final = b"authorization not verified"

FAULT_TIMEOUT: Final = 2
FAULT_UNKNOWN_KEY: Final = 3
FAULT_INVALID_SIGNATURE: Final = 5
FAULT_TIME_EXPIRED: Final = 17
FAULT_EXPIRES_TOO_FAR_AHEAD: Final = 20

_FAULT_NAMES: Final = {
    1: "busy",
    4: "key inactive",
    6: "counter reused",
    7: "insufficient privileges",
    8: "invalid domain",
    9: "invalid command",
    10: "could not decode the request",
    11: "internal error",
    12: "wrong personalization",
    13: "bad parameter",
    14: "keychain full",
    18: "not provisioned",
    21: "remote access disabled",
}
_SHOWN_TEXT: Final = 80
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


class ClientState(IntEnum):
    """Where a paired key stands (the pairing request polled from Tesla reports the same)."""

    PENDING = 1  # waiting for the power toggle at the Powerwall
    TIMED_OUT = 2  # the toggle did not come in time: pair again
    VERIFIED = 3
    REMOVED = 4


@dataclass(frozen=True, slots=True)
class FileContent:
    """A file of the gateway with the hash a later write must quote (an optimistic lock)."""

    name: str
    blob: bytes = field(repr=False)
    hash: bytes


@dataclass(frozen=True, slots=True)
class FileUpdated:
    name: str
    hash: bytes  # the hash of the file as now stored


@dataclass(frozen=True, slots=True)
class IslandModeSet:
    result: int  # as the gateway reports it; its meaning is not public


@dataclass(frozen=True, slots=True)
class ManualBackupScheduled:
    pass


@dataclass(frozen=True, slots=True)
class ManualBackupCancelled:
    pass


@dataclass(frozen=True, slots=True)
class EventSchedule:
    start: datetime | None  # UTC
    duration_s: int
    priority: int

    @property
    def end(self) -> datetime | None:
        return None if self.start is None else self.start + timedelta(seconds=self.duration_s)


@dataclass(frozen=True, slots=True)
class BackupEvent:
    id: str
    name: str
    schedule: EventSchedule | None


@dataclass(frozen=True, slots=True)
class BackupEvents:
    manual: EventSchedule | None  # the manual backup event, if one is scheduled
    events: tuple[BackupEvent, ...]


@dataclass(frozen=True, slots=True)
class AuthorizedClient:
    """A key the gateway knows. `state_code` is kept as sent; `state` names the known ones."""

    public_key_der: bytes = field(repr=False)
    description: str
    state_code: int
    client_type: int
    key_type: int  # 1 RSA, 2 ECC
    added: datetime | None
    identifier: str

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key_der)

    @property
    def state(self) -> ClientState | None:
        try:
            return ClientState(self.state_code)
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class AuthorizedClients:
    clients: tuple[AuthorizedClient, ...]

    def find(self, public_key_der: bytes) -> AuthorizedClient | None:
        return next((c for c in self.clients if c.public_key_der == public_key_der), None)


Answer = (
    FileContent
    | FileUpdated
    | IslandModeSet
    | ManualBackupScheduled
    | ManualBackupCancelled
    | BackupEvents
    | AuthorizedClients
)
AnswerT = TypeVar(
    "AnswerT",
    FileContent,
    FileUpdated,
    IslandModeSet,
    ManualBackupScheduled,
    ManualBackupCancelled,
    BackupEvents,
    AuthorizedClients,
)


def parse_answer(
    body: bytes, *, sent: SignedRequest | None = None, gateway_clock: float | None = None
) -> Answer:
    """Decode an answer of /tedapi/v1r.

    `sent` (the request this answers) and `gateway_clock` (Unix seconds, from the answer's Date
    header, say) only make error messages more precise.
    """
    if _is_not_verified(body):
        raise PairingNotFinishedError
    message = pb.RoutableMessage()
    try:
        message.ParseFromString(body)
    except DecodeError:
        raise TedapiResponseError(_undecodable("the answer", body)) from None
    fault = _fault(message.status)
    if fault:
        raise fault_error(fault, sent=sent, gateway_clock=gateway_clock)
    if message.WhichOneof("payload") is None or not message.payload_bytes:
        raise TedapiResponseError("the answer carries neither an envelope nor a fault")
    payload = message.payload_bytes
    if _is_not_verified(payload):
        raise PairingNotFinishedError
    envelope = pb.Envelope()
    try:
        envelope.ParseFromString(payload)
    except DecodeError:
        raise TedapiResponseError(_undecodable("the answer's envelope", payload)) from None
    return _answer(envelope)


def parse_answer_as(
    kind: type[AnswerT],
    body: bytes,
    *,
    sent: SignedRequest | None = None,
    gateway_clock: float | None = None,
) -> AnswerT:
    """`parse_answer`, and an `UnexpectedAnswerError` unless the answer is a `kind`."""
    answer = parse_answer(body, sent=sent, gateway_clock=gateway_clock)
    if not isinstance(answer, kind):
        got, wanted = type(answer).__name__, kind.__name__
        msg = f"the gateway answered with {got} where {wanted} was expected"
        raise UnexpectedAnswerError(msg)
    return answer


def fault_error(
    fault: int, *, sent: SignedRequest | None = None, gateway_clock: float | None = None
) -> SignedMessageFaultError:
    """The error for a MessageFault number the gateway returned."""
    if fault == FAULT_TIMEOUT:
        return FaultTimeoutError()
    if fault == FAULT_UNKNOWN_KEY:
        return KeyNotPairedError(sent.key_fingerprint if sent else None)
    if fault == FAULT_INVALID_SIGNATURE:
        return InvalidSignatureError(sent.din if sent else None)
    if fault in (FAULT_TIME_EXPIRED, FAULT_EXPIRES_TOO_FAR_AHEAD):
        error = MessageExpiredError if fault == FAULT_TIME_EXPIRED else ExpiryTooFarAheadError
        return error(
            expires_at=sent.expires_at if sent else None,
            our_clock=sent.signed_at if sent else None,
            gateway_clock=gateway_clock,
        )
    name = _FAULT_NAMES.get(fault)
    detail = f": {name}" if name else ""
    return SignedMessageFaultError(fault, f"the gateway refused the signed request{detail}")


def _fault(status: pb.SignedStatus) -> int:
    # Tesla's layout puts the fault in field 2 (field 1 is then the operation status);
    # pypowerwall's puts it in field 1. A set field 2 wins.
    return status.fault or status.status_or_fault


def _is_not_verified(data: bytes) -> bool:
    return data.strip().lower() == NOT_VERIFIED_TEXT


def _answer(envelope: pb.Envelope) -> Answer:  # noqa: PLR0911 - one return per kind of answer
    part = envelope.WhichOneof("payload")
    if part == "common" and envelope.common.WhichOneof("message") == "error_response":
        status = envelope.common.error_response.status
        raise CommandRejectedError(status.code, status.message)
    if part == "filestore":
        files = envelope.filestore
        kind = files.WhichOneof("message")
        if kind == "read_file_response":
            read = files.read_file_response
            return FileContent(name=read.file.name, blob=read.file.blob, hash=read.hash)
        if kind == "update_file_response":
            updated = files.update_file_response
            return FileUpdated(name=updated.file.name, hash=updated.hash)
    if part == "teg":
        teg = envelope.teg
        kind = teg.WhichOneof("message")
        if kind == "set_island_mode_response":
            return IslandModeSet(result=teg.set_island_mode_response.result)
        if kind == "schedule_manual_backup_response":
            return ManualBackupScheduled()
        if kind == "cancel_manual_backup_response":
            return ManualBackupCancelled()
        if kind == "get_backup_events_response":
            return _backup_events(teg.get_backup_events_response)
    if part == "authorization":
        authorization = envelope.authorization
        if authorization.WhichOneof("message") == "list_authorized_clients_response":
            listed = authorization.list_authorized_clients_response.clients
            return AuthorizedClients(tuple(_client(c) for c in listed))
    raise UnexpectedAnswerError(
        f"the gateway answered with no known message ({_describe(envelope)})"
    )


def _backup_events(answer: pb.GetBackupEventsResponse) -> BackupEvents:
    manual = (
        _schedule(answer.manual_backup_event.schedule)
        if answer.HasField("manual_backup_event")
        and answer.manual_backup_event.HasField("schedule")
        else None
    )
    events = tuple(
        BackupEvent(
            id=event.id,
            name=event.name,
            schedule=_schedule(event.schedule) if event.HasField("schedule") else None,
        )
        for event in answer.backup_events
    )
    return BackupEvents(manual=manual, events=events)


def _schedule(schedule: pb.EventSchedule) -> EventSchedule:
    return EventSchedule(
        start=_instant(schedule.start) if schedule.HasField("start") else None,
        duration_s=schedule.duration_seconds,
        priority=schedule.priority,
    )


def _client(client: pb.AuthorizedClient) -> AuthorizedClient:
    return AuthorizedClient(
        public_key_der=client.public_key,
        description=client.description,
        state_code=client.state,
        client_type=client.client_type,
        key_type=client.key_type,
        added=_instant(client.added) if client.HasField("added") else None,
        identifier=client.identifier,
    )


def _instant(instant: pb.Instant) -> datetime | None:
    try:
        return _EPOCH + timedelta(seconds=instant.seconds, microseconds=instant.nanos // 1000)
    except OverflowError:  # a date no calendar holds: treat as absent rather than fail the answer
        return None


def _describe(envelope: pb.Envelope) -> str:
    part = envelope.WhichOneof("payload")
    if part is None:
        return "empty envelope"
    inner = getattr(envelope, part).WhichOneof("message")
    return f"{part}.{inner}" if inner else f"empty {part}"


def _undecodable(what: str, data: bytes) -> str:
    text = data.strip()
    if text and text.isascii() and text.decode("ascii").isprintable():
        shown = text[:_SHOWN_TEXT].decode("ascii")
        more = "..." if len(text) > _SHOWN_TEXT else ""
        return f"{what} is text, not protobuf: {shown!r}{more}"
    return f"{what} is not a protobuf message ({len(data)} bytes)"
