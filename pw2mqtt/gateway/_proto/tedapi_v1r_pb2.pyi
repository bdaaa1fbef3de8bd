from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union
from typing import Any as _Any

DESCRIPTOR: _descriptor.FileDescriptor

class Destination(_message.Message):
    __slots__ = ("domain", "routing_address")
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    ROUTING_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    domain: int
    routing_address: bytes
    def __init__(self, domain: _Optional[int] = ..., routing_address: _Optional[bytes] = ...) -> None: ...

class SignedStatus(_message.Message):
    __slots__ = ("status_or_fault", "fault")
    STATUS_OR_FAULT_FIELD_NUMBER: _ClassVar[int]
    FAULT_FIELD_NUMBER: _ClassVar[int]
    status_or_fault: int
    fault: int
    def __init__(self, status_or_fault: _Optional[int] = ..., fault: _Optional[int] = ...) -> None: ...

class SignerIdentity(_message.Message):
    __slots__ = ("public_key", "handle")
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    public_key: bytes
    handle: int
    def __init__(self, public_key: _Optional[bytes] = ..., handle: _Optional[int] = ...) -> None: ...

class RsaSignature(_message.Message):
    __slots__ = ("expires_at", "signature")
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    expires_at: int
    signature: bytes
    def __init__(self, expires_at: _Optional[int] = ..., signature: _Optional[bytes] = ...) -> None: ...

class Signature(_message.Message):
    __slots__ = ("signer", "rsa")
    SIGNER_FIELD_NUMBER: _ClassVar[int]
    RSA_FIELD_NUMBER: _ClassVar[int]
    signer: SignerIdentity
    rsa: RsaSignature
    def __init__(self, signer: _Optional[_Union[SignerIdentity, _Mapping[str, _Any]]] = ..., rsa: _Optional[_Union[RsaSignature, _Mapping[str, _Any]]] = ...) -> None: ...

class RoutableMessage(_message.Message):
    __slots__ = ("to_destination", "from_destination", "payload_bytes", "status", "signature", "request_uuid", "uuid")
    TO_DESTINATION_FIELD_NUMBER: _ClassVar[int]
    FROM_DESTINATION_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_BYTES_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_UUID_FIELD_NUMBER: _ClassVar[int]
    UUID_FIELD_NUMBER: _ClassVar[int]
    to_destination: Destination
    from_destination: Destination
    payload_bytes: bytes
    status: SignedStatus
    signature: Signature
    request_uuid: bytes
    uuid: bytes
    def __init__(self, to_destination: _Optional[_Union[Destination, _Mapping[str, _Any]]] = ..., from_destination: _Optional[_Union[Destination, _Mapping[str, _Any]]] = ..., payload_bytes: _Optional[bytes] = ..., status: _Optional[_Union[SignedStatus, _Mapping[str, _Any]]] = ..., signature: _Optional[_Union[Signature, _Mapping[str, _Any]]] = ..., request_uuid: _Optional[bytes] = ..., uuid: _Optional[bytes] = ...) -> None: ...

class Participant(_message.Message):
    __slots__ = ("din", "tesla_service", "local", "authorized_client")
    DIN_FIELD_NUMBER: _ClassVar[int]
    TESLA_SERVICE_FIELD_NUMBER: _ClassVar[int]
    LOCAL_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZED_CLIENT_FIELD_NUMBER: _ClassVar[int]
    din: str
    tesla_service: int
    local: int
    authorized_client: int
    def __init__(self, din: _Optional[str] = ..., tesla_service: _Optional[int] = ..., local: _Optional[int] = ..., authorized_client: _Optional[int] = ...) -> None: ...

class Envelope(_message.Message):
    __slots__ = ("delivery_channel", "sender", "recipient", "common", "teg", "authorization", "filestore")
    DELIVERY_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    COMMON_FIELD_NUMBER: _ClassVar[int]
    TEG_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    FILESTORE_FIELD_NUMBER: _ClassVar[int]
    delivery_channel: int
    sender: Participant
    recipient: Participant
    common: CommonMessages
    teg: TegMessages
    authorization: AuthorizationMessages
    filestore: FileStoreMessages
    def __init__(self, delivery_channel: _Optional[int] = ..., sender: _Optional[_Union[Participant, _Mapping[str, _Any]]] = ..., recipient: _Optional[_Union[Participant, _Mapping[str, _Any]]] = ..., common: _Optional[_Union[CommonMessages, _Mapping[str, _Any]]] = ..., teg: _Optional[_Union[TegMessages, _Mapping[str, _Any]]] = ..., authorization: _Optional[_Union[AuthorizationMessages, _Mapping[str, _Any]]] = ..., filestore: _Optional[_Union[FileStoreMessages, _Mapping[str, _Any]]] = ...) -> None: ...

class RpcStatus(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class ErrorResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: RpcStatus
    def __init__(self, status: _Optional[_Union[RpcStatus, _Mapping[str, _Any]]] = ...) -> None: ...

class CommonMessages(_message.Message):
    __slots__ = ("error_response",)
    ERROR_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    error_response: ErrorResponse
    def __init__(self, error_response: _Optional[_Union[ErrorResponse, _Mapping[str, _Any]]] = ...) -> None: ...

class StoredFile(_message.Message):
    __slots__ = ("name", "blob")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BLOB_FIELD_NUMBER: _ClassVar[int]
    name: str
    blob: bytes
    def __init__(self, name: _Optional[str] = ..., blob: _Optional[bytes] = ...) -> None: ...

class ReadFileRequest(_message.Message):
    __slots__ = ("domain", "name", "if_different_hash")
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    IF_DIFFERENT_HASH_FIELD_NUMBER: _ClassVar[int]
    domain: int
    name: str
    if_different_hash: bytes
    def __init__(self, domain: _Optional[int] = ..., name: _Optional[str] = ..., if_different_hash: _Optional[bytes] = ...) -> None: ...

class ReadFileResponse(_message.Message):
    __slots__ = ("file", "hash")
    FILE_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    file: StoredFile
    hash: bytes
    def __init__(self, file: _Optional[_Union[StoredFile, _Mapping[str, _Any]]] = ..., hash: _Optional[bytes] = ...) -> None: ...

class UpdateFileRequest(_message.Message):
    __slots__ = ("domain", "file", "hash")
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    domain: int
    file: StoredFile
    hash: bytes
    def __init__(self, domain: _Optional[int] = ..., file: _Optional[_Union[StoredFile, _Mapping[str, _Any]]] = ..., hash: _Optional[bytes] = ...) -> None: ...

class UpdateFileResponse(_message.Message):
    __slots__ = ("file", "hash")
    FILE_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    file: StoredFile
    hash: bytes
    def __init__(self, file: _Optional[_Union[StoredFile, _Mapping[str, _Any]]] = ..., hash: _Optional[bytes] = ...) -> None: ...

class FileStoreMessages(_message.Message):
    __slots__ = ("read_file_request", "read_file_response", "update_file_request", "update_file_response")
    READ_FILE_REQUEST_FIELD_NUMBER: _ClassVar[int]
    READ_FILE_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_FILE_REQUEST_FIELD_NUMBER: _ClassVar[int]
    UPDATE_FILE_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    read_file_request: ReadFileRequest
    read_file_response: ReadFileResponse
    update_file_request: UpdateFileRequest
    update_file_response: UpdateFileResponse
    def __init__(self, read_file_request: _Optional[_Union[ReadFileRequest, _Mapping[str, _Any]]] = ..., read_file_response: _Optional[_Union[ReadFileResponse, _Mapping[str, _Any]]] = ..., update_file_request: _Optional[_Union[UpdateFileRequest, _Mapping[str, _Any]]] = ..., update_file_response: _Optional[_Union[UpdateFileResponse, _Mapping[str, _Any]]] = ...) -> None: ...

class Instant(_message.Message):
    __slots__ = ("seconds", "nanos")
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    NANOS_FIELD_NUMBER: _ClassVar[int]
    seconds: int
    nanos: int
    def __init__(self, seconds: _Optional[int] = ..., nanos: _Optional[int] = ...) -> None: ...

class SetIslandModeRequest(_message.Message):
    __slots__ = ("mode", "force")
    MODE_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    mode: int
    force: bool
    def __init__(self, mode: _Optional[int] = ..., force: _Optional[bool] = ...) -> None: ...

class SetIslandModeResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: int
    def __init__(self, result: _Optional[int] = ...) -> None: ...

class EventSchedule(_message.Message):
    __slots__ = ("start", "duration_seconds", "priority")
    START_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    start: Instant
    duration_seconds: int
    priority: int
    def __init__(self, start: _Optional[_Union[Instant, _Mapping[str, _Any]]] = ..., duration_seconds: _Optional[int] = ..., priority: _Optional[int] = ...) -> None: ...

class ScheduleManualBackupRequest(_message.Message):
    __slots__ = ("schedule",)
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    schedule: EventSchedule
    def __init__(self, schedule: _Optional[_Union[EventSchedule, _Mapping[str, _Any]]] = ...) -> None: ...

class ScheduleManualBackupResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CancelManualBackupRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CancelManualBackupResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetBackupEventsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ManualBackupEvent(_message.Message):
    __slots__ = ("schedule",)
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    schedule: EventSchedule
    def __init__(self, schedule: _Optional[_Union[EventSchedule, _Mapping[str, _Any]]] = ...) -> None: ...

class BackupEvent(_message.Message):
    __slots__ = ("id", "name", "schedule")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    schedule: EventSchedule
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., schedule: _Optional[_Union[EventSchedule, _Mapping[str, _Any]]] = ...) -> None: ...

class GetBackupEventsResponse(_message.Message):
    __slots__ = ("manual_backup_event", "backup_events")
    MANUAL_BACKUP_EVENT_FIELD_NUMBER: _ClassVar[int]
    BACKUP_EVENTS_FIELD_NUMBER: _ClassVar[int]
    manual_backup_event: ManualBackupEvent
    backup_events: _containers.RepeatedCompositeFieldContainer[BackupEvent]
    def __init__(self, manual_backup_event: _Optional[_Union[ManualBackupEvent, _Mapping[str, _Any]]] = ..., backup_events: _Optional[_Iterable[_Union[BackupEvent, _Mapping[str, _Any]]]] = ...) -> None: ...

class TegMessages(_message.Message):
    __slots__ = ("set_island_mode_request", "set_island_mode_response", "schedule_manual_backup_request", "schedule_manual_backup_response", "cancel_manual_backup_request", "cancel_manual_backup_response", "get_backup_events_request", "get_backup_events_response")
    SET_ISLAND_MODE_REQUEST_FIELD_NUMBER: _ClassVar[int]
    SET_ISLAND_MODE_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_MANUAL_BACKUP_REQUEST_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_MANUAL_BACKUP_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    CANCEL_MANUAL_BACKUP_REQUEST_FIELD_NUMBER: _ClassVar[int]
    CANCEL_MANUAL_BACKUP_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    GET_BACKUP_EVENTS_REQUEST_FIELD_NUMBER: _ClassVar[int]
    GET_BACKUP_EVENTS_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    set_island_mode_request: SetIslandModeRequest
    set_island_mode_response: SetIslandModeResponse
    schedule_manual_backup_request: ScheduleManualBackupRequest
    schedule_manual_backup_response: ScheduleManualBackupResponse
    cancel_manual_backup_request: CancelManualBackupRequest
    cancel_manual_backup_response: CancelManualBackupResponse
    get_backup_events_request: GetBackupEventsRequest
    get_backup_events_response: GetBackupEventsResponse
    def __init__(self, set_island_mode_request: _Optional[_Union[SetIslandModeRequest, _Mapping[str, _Any]]] = ..., set_island_mode_response: _Optional[_Union[SetIslandModeResponse, _Mapping[str, _Any]]] = ..., schedule_manual_backup_request: _Optional[_Union[ScheduleManualBackupRequest, _Mapping[str, _Any]]] = ..., schedule_manual_backup_response: _Optional[_Union[ScheduleManualBackupResponse, _Mapping[str, _Any]]] = ..., cancel_manual_backup_request: _Optional[_Union[CancelManualBackupRequest, _Mapping[str, _Any]]] = ..., cancel_manual_backup_response: _Optional[_Union[CancelManualBackupResponse, _Mapping[str, _Any]]] = ..., get_backup_events_request: _Optional[_Union[GetBackupEventsRequest, _Mapping[str, _Any]]] = ..., get_backup_events_response: _Optional[_Union[GetBackupEventsResponse, _Mapping[str, _Any]]] = ...) -> None: ...

class AuthorizedClient(_message.Message):
    __slots__ = ("client_type", "description", "key_type", "public_key", "roles", "state", "verification", "added", "identifier", "authorized_by_public_key")
    CLIENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    KEY_TYPE_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    VERIFICATION_FIELD_NUMBER: _ClassVar[int]
    ADDED_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZED_BY_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    client_type: int
    description: str
    key_type: int
    public_key: bytes
    roles: _containers.RepeatedScalarFieldContainer[int]
    state: int
    verification: int
    added: Instant
    identifier: str
    authorized_by_public_key: bytes
    def __init__(self, client_type: _Optional[int] = ..., description: _Optional[str] = ..., key_type: _Optional[int] = ..., public_key: _Optional[bytes] = ..., roles: _Optional[_Iterable[int]] = ..., state: _Optional[int] = ..., verification: _Optional[int] = ..., added: _Optional[_Union[Instant, _Mapping[str, _Any]]] = ..., identifier: _Optional[str] = ..., authorized_by_public_key: _Optional[bytes] = ...) -> None: ...

class AddAuthorizedClientRequest(_message.Message):
    __slots__ = ("client_type", "description", "key_type", "public_key")
    CLIENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    KEY_TYPE_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    client_type: int
    description: str
    key_type: int
    public_key: bytes
    def __init__(self, client_type: _Optional[int] = ..., description: _Optional[str] = ..., key_type: _Optional[int] = ..., public_key: _Optional[bytes] = ...) -> None: ...

class AddAuthorizedClientResponse(_message.Message):
    __slots__ = ("client",)
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    client: AuthorizedClient
    def __init__(self, client: _Optional[_Union[AuthorizedClient, _Mapping[str, _Any]]] = ...) -> None: ...

class RemoveAuthorizedClientRequest(_message.Message):
    __slots__ = ("public_key",)
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    public_key: bytes
    def __init__(self, public_key: _Optional[bytes] = ...) -> None: ...

class RemoveAuthorizedClientResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListAuthorizedClientsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListAuthorizedClientsResponse(_message.Message):
    __slots__ = ("clients", "enable_line_switch_off")
    CLIENTS_FIELD_NUMBER: _ClassVar[int]
    ENABLE_LINE_SWITCH_OFF_FIELD_NUMBER: _ClassVar[int]
    clients: _containers.RepeatedCompositeFieldContainer[AuthorizedClient]
    enable_line_switch_off: bool
    def __init__(self, clients: _Optional[_Iterable[_Union[AuthorizedClient, _Mapping[str, _Any]]]] = ..., enable_line_switch_off: _Optional[bool] = ...) -> None: ...

class AuthorizationMessages(_message.Message):
    __slots__ = ("add_authorized_client_request", "add_authorized_client_response", "remove_authorized_client_request", "remove_authorized_client_response", "list_authorized_clients_request", "list_authorized_clients_response")
    ADD_AUTHORIZED_CLIENT_REQUEST_FIELD_NUMBER: _ClassVar[int]
    ADD_AUTHORIZED_CLIENT_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    REMOVE_AUTHORIZED_CLIENT_REQUEST_FIELD_NUMBER: _ClassVar[int]
    REMOVE_AUTHORIZED_CLIENT_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    LIST_AUTHORIZED_CLIENTS_REQUEST_FIELD_NUMBER: _ClassVar[int]
    LIST_AUTHORIZED_CLIENTS_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    add_authorized_client_request: AddAuthorizedClientRequest
    add_authorized_client_response: AddAuthorizedClientResponse
    remove_authorized_client_request: RemoveAuthorizedClientRequest
    remove_authorized_client_response: RemoveAuthorizedClientResponse
    list_authorized_clients_request: ListAuthorizedClientsRequest
    list_authorized_clients_response: ListAuthorizedClientsResponse
    def __init__(self, add_authorized_client_request: _Optional[_Union[AddAuthorizedClientRequest, _Mapping[str, _Any]]] = ..., add_authorized_client_response: _Optional[_Union[AddAuthorizedClientResponse, _Mapping[str, _Any]]] = ..., remove_authorized_client_request: _Optional[_Union[RemoveAuthorizedClientRequest, _Mapping[str, _Any]]] = ..., remove_authorized_client_response: _Optional[_Union[RemoveAuthorizedClientResponse, _Mapping[str, _Any]]] = ..., list_authorized_clients_request: _Optional[_Union[ListAuthorizedClientsRequest, _Mapping[str, _Any]]] = ..., list_authorized_clients_response: _Optional[_Union[ListAuthorizedClientsResponse, _Mapping[str, _Any]]] = ...) -> None: ...
