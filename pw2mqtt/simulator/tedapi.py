"""POST /tedapi/v1r as a gateway answers it: the signed frame checked for real, then the request.

The checks, in order: the body must be a signed RoutableMessage for the energy-device domain
(else HTTP 400, or fault 8); the key must be paired (unknown, removed or timed out: fault 3); the
signature must verify over the TLV prefix built from this gateway's DIN (fault 5); `expires_at`
must not have passed (fault 17) nor lie more than `MAX_AHEAD_S` ahead (fault 20) by the
simulated clock; a key still waiting for the power toggle gets the plain text "authorization not
verified". Faults are written in Tesla's layout (field 2) or pypowerwall's (field 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

from google.protobuf.message import DecodeError

from pw2mqtt.gateway._proto import tedapi_v1r_pb2 as pb
from pw2mqtt.gateway.tedapi.keys import fingerprint
from pw2mqtt.gateway.tedapi.messages import ReceivedRequest, read_signed_request
from pw2mqtt.gateway.tedapi.signing import DOMAIN_ENERGY_DEVICE, load_public_key_der, verify
from pw2mqtt.simulator.config_file import (
    CODE_FAILED_PRECONDITION,
    CODE_INVALID_ARGUMENT,
    ConfigFile,
    ConfigRefusedError,
)
from pw2mqtt.simulator.keys import AuthorizedKey, KeyRegistry, KeyState
from pw2mqtt.simulator.site import Site

FaultLayout = Literal["tesla", "pypowerwall"]
FAULT_LAYOUTS: Final = ("tesla", "pypowerwall")

MAX_AHEAD_S: Final = 60
NOT_VERIFIED: Final = b"authorization not verified"
MIN_BACKUP_EVENT_S: Final = 60
CODE_NOT_FOUND: Final = 5
ISLAND_ON_GRID: Final = 1
ISLAND_OFF_GRID: Final = 6

FAULT_UNKNOWN_KEY: Final = 3
FAULT_INVALID_SIGNATURE: Final = 5
FAULT_INVALID_DOMAIN: Final = 8
FAULT_DECODING: Final = 10
FAULT_TIME_EXPIRED: Final = 17
FAULT_TOO_FAR_AHEAD: Final = 20
_OPERATION_ERROR: Final = 2


@dataclass(frozen=True, slots=True)
class SignedAnswer:
    status: int
    body: bytes


class SignedControl:
    """What a gateway keeps for signed control besides the keys: config.json, the fault layout
    and the manual backup event."""

    def __init__(self, site: Site, din: str, timezone: str) -> None:
        self.site = site
        self.din = din
        self.config = ConfigFile(site, din, timezone)
        self.fault_layout: FaultLayout = "tesla"
        self.requests = 0  # signed requests that passed every check

    def state_json(self, now: float) -> dict[str, Any]:
        event = self.site.backup_event
        return {
            "fault_layout": self.fault_layout,
            "apply_at_dispatch": self.config.apply_at_dispatch,
            "config_pending": self.config.pending,
            "config_writes": self.config.writes,
            "grid_charging": self.config.grid_charging,
            "export_rule": self.config.export_rule,
            "manual_backup_until": event[1] if event is not None and event[1] > now else None,
            "requests": self.requests,
        }


def answer(control: SignedControl, keys: KeyRegistry, body: bytes, now: float) -> SignedAnswer:
    """The gateway's answer to one POST /tedapi/v1r."""
    try:
        received = read_signed_request(body)
    except ValueError as err:
        return SignedAnswer(400, f"bad request: {err}".encode())
    fault = _fault(control, keys.get(received.public_key_der), received, now)
    if fault:
        return _frame(control, received, fault=fault)
    key = keys.get(received.public_key_der)
    if key is not None and key.state is KeyState.PENDING:
        return _frame(control, received, payload=NOT_VERIFIED)
    request = pb.Envelope()
    try:
        request.ParseFromString(received.envelope)
    except DecodeError:
        return _frame(control, received, fault=FAULT_DECODING)
    control.requests += 1
    reply = _handle(control, keys, request, now)
    return _frame(control, received, payload=_reply_envelope(control.din, reply))


def _fault(
    control: SignedControl, key: AuthorizedKey | None, received: ReceivedRequest, now: float
) -> int:
    if received.domain != DOMAIN_ENERGY_DEVICE:
        return FAULT_INVALID_DOMAIN
    if key is None or key.state not in (KeyState.PENDING, KeyState.VERIFIED):
        return FAULT_UNKNOWN_KEY
    if not _verifies(control.din, key, received):
        return FAULT_INVALID_SIGNATURE
    if received.expires_at < now:
        return FAULT_TIME_EXPIRED
    if received.expires_at > now + MAX_AHEAD_S:
        return FAULT_TOO_FAR_AHEAD
    return 0


def _verifies(din: str, key: AuthorizedKey, received: ReceivedRequest) -> bool:
    try:
        public_key = load_public_key_der(key.public_key_der)
    except ValueError:
        return False
    return verify(public_key, received.signature, din, received.expires_at, received.envelope)


def _frame(
    control: SignedControl,
    received: ReceivedRequest,
    *,
    fault: int = 0,
    payload: bytes | None = None,
) -> SignedAnswer:
    message = pb.RoutableMessage(
        from_destination=pb.Destination(domain=DOMAIN_ENERGY_DEVICE),
        request_uuid=received.request_id,
    )
    if fault and control.fault_layout == "tesla":
        message.status.status_or_fault = _OPERATION_ERROR
        message.status.fault = fault
    elif fault:
        message.status.status_or_fault = fault
    if payload is not None:
        message.payload_bytes = payload
    return SignedAnswer(200, message.SerializeToString())


def _reply_envelope(din: str, reply: pb.Envelope) -> bytes:
    reply.delivery_channel = 2
    reply.sender.din = din
    reply.recipient.authorized_client = 1
    return reply.SerializeToString()


# -- the requests ---------------------------------------------------------------------------


def _handle(
    control: SignedControl, keys: KeyRegistry, request: pb.Envelope, now: float
) -> pb.Envelope:
    part = request.WhichOneof("payload")
    if request.recipient.WhichOneof("id") != "din" or request.recipient.din != control.din:
        return _error(CODE_INVALID_ARGUMENT, "the envelope is addressed to another gateway")
    try:
        if part == "filestore":
            return _filestore(control, request.filestore, now)
        if part == "teg":
            return _teg(control, request.teg, now)
        if part == "authorization":
            return _authorization(keys, request.authorization)
    except ConfigRefusedError as err:
        return _error(err.code, str(err))
    return _error(CODE_INVALID_ARGUMENT, f"unsupported request: {part or 'none'}")


def _error(code: int, message: str) -> pb.Envelope:
    status = pb.RpcStatus(code=code, message=message)
    return pb.Envelope(common=pb.CommonMessages(error_response=pb.ErrorResponse(status=status)))


def _filestore(control: SignedControl, files: pb.FileStoreMessages, now: float) -> pb.Envelope:
    kind = files.WhichOneof("message")
    config = control.config
    if kind == "read_file_request":
        _config_file(files.read_file_request.domain, files.read_file_request.name)
        read = pb.ReadFileResponse(
            file=pb.StoredFile(name="config.json", blob=config.blob()), hash=config.hash()
        )
        return pb.Envelope(filestore=pb.FileStoreMessages(read_file_response=read))
    if kind == "update_file_request":
        update = files.update_file_request
        _config_file(update.domain, update.file.name)
        new_hash = config.write(now, update.file.blob, update.hash)
        done = pb.UpdateFileResponse(file=pb.StoredFile(name="config.json"), hash=new_hash)
        return pb.Envelope(filestore=pb.FileStoreMessages(update_file_response=done))
    return _error(CODE_INVALID_ARGUMENT, f"unsupported file request: {kind}")


def _config_file(domain: int, name: str) -> None:
    if domain != 1 or name != "config.json":
        raise ConfigRefusedError(CODE_NOT_FOUND, f"no file {name!r} in domain {domain}")


def _teg(control: SignedControl, teg: pb.TegMessages, now: float) -> pb.Envelope:
    kind = teg.WhichOneof("message")
    site = control.site
    if kind == "set_island_mode_request":
        mode = teg.set_island_mode_request.mode
        if mode not in (ISLAND_ON_GRID, ISLAND_OFF_GRID):
            return _error(CODE_INVALID_ARGUMENT, f"unknown island mode {mode}")
        site.request_island(now, off_grid=mode == ISLAND_OFF_GRID)
        done = pb.SetIslandModeResponse(result=0)
        return pb.Envelope(teg=pb.TegMessages(set_island_mode_response=done))
    if kind == "schedule_manual_backup_request":
        _schedule(control, teg.schedule_manual_backup_request.schedule, now)
        scheduled = pb.ScheduleManualBackupResponse()
        return pb.Envelope(teg=pb.TegMessages(schedule_manual_backup_response=scheduled))
    if kind == "cancel_manual_backup_request":
        site.set_backup_event(now, None)
        control.config.dispatch(now)
        cancelled = pb.CancelManualBackupResponse()
        return pb.Envelope(teg=pb.TegMessages(cancel_manual_backup_response=cancelled))
    if kind == "get_backup_events_request":
        events = pb.GetBackupEventsResponse()
        event = site.backup_event
        if event is not None and event[1] > now:
            events.manual_backup_event.schedule.CopyFrom(_event_schedule(event))
        return pb.Envelope(teg=pb.TegMessages(get_backup_events_response=events))
    return _error(CODE_INVALID_ARGUMENT, f"unsupported TEG request: {kind}")


def _schedule(control: SignedControl, schedule: pb.EventSchedule, now: float) -> None:
    if schedule.duration_seconds < MIN_BACKUP_EVENT_S:
        raise ConfigRefusedError(
            CODE_INVALID_ARGUMENT, f"a manual backup event lasts at least {MIN_BACKUP_EVENT_S} s"
        )
    current = control.site.backup_event
    if current is not None and current[1] > now:
        raise ConfigRefusedError(
            CODE_FAILED_PRECONDITION, "a manual backup event is already scheduled: cancel it first"
        )
    start = float(schedule.start.seconds) if schedule.HasField("start") else now
    control.site.set_backup_event(now, (start, start + schedule.duration_seconds))
    control.config.dispatch(now)


def _event_schedule(event: tuple[float, float]) -> pb.EventSchedule:
    start, end = event
    return pb.EventSchedule(
        start=pb.Instant(seconds=int(start)), duration_seconds=round(end - start)
    )


def _authorization(keys: KeyRegistry, messages: pb.AuthorizationMessages) -> pb.Envelope:
    kind = messages.WhichOneof("message")
    if kind == "list_authorized_clients_request":
        listed = pb.ListAuthorizedClientsResponse(clients=[_client(k) for k in keys.clients()])
        return pb.Envelope(
            authorization=pb.AuthorizationMessages(list_authorized_clients_response=listed)
        )
    if kind == "remove_authorized_client_request":
        public_key = messages.remove_authorized_client_request.public_key
        if not keys.remove(public_key):
            return _error(CODE_NOT_FOUND, "no such authorized client")
        removed = pb.RemoveAuthorizedClientResponse()
        return pb.Envelope(
            authorization=pb.AuthorizationMessages(remove_authorized_client_response=removed)
        )
    return _error(CODE_INVALID_ARGUMENT, f"unsupported authorization request: {kind}")


def _client(key: AuthorizedKey) -> pb.AuthorizedClient:
    return pb.AuthorizedClient(
        client_type=1,
        description=key.description,
        key_type=1,
        public_key=key.public_key_der,
        roles=[1],
        state=int(key.state),
        verification=4,
        added=pb.Instant(seconds=int(key.added_at)),
        identifier=fingerprint(key.public_key_der),
    )
