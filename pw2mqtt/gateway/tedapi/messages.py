"""The requests pw2mqtt sends to /tedapi/v1r: TEDAPI envelopes, and the signed frame around them.

Each builder returns the bytes of one envelope addressed to a gateway; `sign_request` wraps them
in a RoutableMessage signed for that gateway, which is the whole body of the POST. Everything is
computed from the arguments (the clock and the request id included), so equal inputs give equal
bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Final

from google.protobuf.message import DecodeError

from pw2mqtt.gateway._proto import tedapi_v1r_pb2 as pb
from pw2mqtt.gateway.tedapi.keys import SigningKey, fingerprint
from pw2mqtt.gateway.tedapi.signing import DOMAIN_ENERGY_DEVICE, sign

DEFAULT_LIFETIME_S: Final = 12
"""How long a signed request stays valid; the gateway refuses it later (fault 17)."""

DELIVERY_CHANNEL_HERMES_COMMAND: Final = 2
AUTHORIZED_CLIENT_CUSTOMER_APP: Final = 1
FILE_DOMAIN_CONFIG_JSON: Final = 1
CONFIG_FILE: Final = "config.json"
MIN_BACKUP_EVENT_S: Final = 60


class IslandMode(IntEnum):
    """Island modes of `set_island_mode` (numbers from pypowerwall, not confirmed locally)."""

    ON_GRID = 1
    OFF_GRID = 6


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A request ready to POST, with what is needed to explain the gateway's verdict on it."""

    body: bytes = field(repr=False)
    din: str
    request_id: str
    signed_at: float  # this machine's clock, Unix seconds
    expires_at: int
    key_fingerprint: str


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    """A signed request as a gateway sees it (for the simulator): nothing is verified yet."""

    public_key_der: bytes = field(repr=False)
    expires_at: int
    signature: bytes = field(repr=False)
    envelope: bytes = field(repr=False)
    request_id: bytes
    domain: int | None

    @property
    def key_fingerprint(self) -> str:
        return fingerprint(self.public_key_der)


def sign_request(
    envelope: bytes,
    *,
    din: str,
    key: SigningKey,
    now: float,
    request_id: str,
    lifetime_s: int = DEFAULT_LIFETIME_S,
) -> SignedRequest:
    """Sign `envelope` for the gateway `din`, valid from `now` for `lifetime_s` seconds.

    `request_id` goes in the message's uuid field; public clients send a 36-character UUID
    string, for example `str(uuid.uuid4())`.
    """
    if lifetime_s <= 0:
        msg = f"lifetime_s must be positive, not {lifetime_s}"
        raise ValueError(msg)
    expires_at = math.ceil(now) + lifetime_s
    message = pb.RoutableMessage(
        to_destination=pb.Destination(domain=DOMAIN_ENERGY_DEVICE),
        payload_bytes=envelope,
        uuid=request_id.encode("ascii"),
        signature=pb.Signature(
            signer=pb.SignerIdentity(public_key=key.public_key_der),
            rsa=pb.RsaSignature(
                expires_at=expires_at,
                signature=sign(key.private_key, din, expires_at, envelope),
            ),
        ),
    )
    return SignedRequest(
        body=message.SerializeToString(),
        din=din,
        request_id=request_id,
        signed_at=now,
        expires_at=expires_at,
        key_fingerprint=key.fingerprint,
    )


def read_signed_request(body: bytes) -> ReceivedRequest:
    """Take a POSTed body apart as a gateway does; ValueError when it is not a signed request."""
    message = pb.RoutableMessage()
    try:
        message.ParseFromString(body)
    except DecodeError as err:
        msg = f"not a RoutableMessage: {err}"
        raise ValueError(msg) from None
    if message.WhichOneof("payload") is None:
        msg = "the message carries no envelope"
        raise ValueError(msg)
    if message.signature.WhichOneof("kind") != "rsa":
        msg = "the message carries no RSA signature"
        raise ValueError(msg)
    if message.signature.signer.WhichOneof("identity") != "public_key":
        msg = "the message does not name its public key"
        raise ValueError(msg)
    destination = message.to_destination
    return ReceivedRequest(
        public_key_der=message.signature.signer.public_key,
        expires_at=message.signature.rsa.expires_at,
        signature=message.signature.rsa.signature,
        envelope=message.payload_bytes,
        request_id=message.uuid,
        domain=destination.domain if destination.WhichOneof("target") == "domain" else None,
    )


# --- envelopes -----------------------------------------------------------------------------------


def read_file(din: str, name: str, *, domain: int) -> bytes:
    request = pb.ReadFileRequest(domain=domain, name=name)
    return _envelope(din, filestore=pb.FileStoreMessages(read_file_request=request))


def read_config(din: str) -> bytes:
    """Ask for config.json; the answer is a `FileContent` with the hash a write must quote."""
    return read_file(din, CONFIG_FILE, domain=FILE_DOMAIN_CONFIG_JSON)


def update_config(din: str, blob: bytes, read_hash: bytes) -> bytes:
    """Replace config.json with `blob` unless it changed since the read that gave `read_hash`."""
    if not read_hash:
        msg = "read_hash is required: the write is refused unless it quotes the read's hash"
        raise ValueError(msg)
    request = pb.UpdateFileRequest(
        domain=FILE_DOMAIN_CONFIG_JSON,
        file=pb.StoredFile(name=CONFIG_FILE, blob=blob),
        hash=read_hash,
    )
    return _envelope(din, filestore=pb.FileStoreMessages(update_file_request=request))


def schedule_manual_backup(
    din: str, *, start: int, duration_s: int, priority: int | None = None
) -> bytes:
    """Keep the battery for backup from `start` (Unix seconds) for `duration_s` seconds.

    The gateway takes events of at least a minute, and only when no other manual event is
    scheduled: cancel that one first.
    """
    if duration_s < MIN_BACKUP_EVENT_S:
        msg = f"a manual backup event lasts at least {MIN_BACKUP_EVENT_S} s, not {duration_s}"
        raise ValueError(msg)
    schedule = pb.EventSchedule(start=pb.Instant(seconds=start), duration_seconds=duration_s)
    if priority is not None:
        schedule.priority = priority
    request = pb.ScheduleManualBackupRequest(schedule=schedule)
    return _envelope(din, teg=pb.TegMessages(schedule_manual_backup_request=request))


def cancel_manual_backup(din: str) -> bytes:
    request = pb.CancelManualBackupRequest()
    return _envelope(din, teg=pb.TegMessages(cancel_manual_backup_request=request))


def get_backup_events(din: str) -> bytes:
    request = pb.GetBackupEventsRequest()
    return _envelope(din, teg=pb.TegMessages(get_backup_events_request=request))


def set_island_mode(din: str, mode: IslandMode, *, force: bool = True) -> bytes:
    """Go off-grid or reconnect. Experimental: no public source shows it working over v1r."""
    request = pb.SetIslandModeRequest(mode=int(mode), force=force)
    return _envelope(din, teg=pb.TegMessages(set_island_mode_request=request))


def list_authorized_clients(din: str) -> bytes:
    request = pb.ListAuthorizedClientsRequest()
    return _envelope(
        din, authorization=pb.AuthorizationMessages(list_authorized_clients_request=request)
    )


def _envelope(
    din: str,
    *,
    filestore: pb.FileStoreMessages | None = None,
    teg: pb.TegMessages | None = None,
    authorization: pb.AuthorizationMessages | None = None,
) -> bytes:
    envelope = pb.Envelope(
        delivery_channel=DELIVERY_CHANNEL_HERMES_COMMAND,
        sender=pb.Participant(authorized_client=AUTHORIZED_CLIENT_CUSTOMER_APP),
        recipient=pb.Participant(din=din),
        filestore=filestore,
        teg=teg,
        authorization=authorization,
    )
    return envelope.SerializeToString()
