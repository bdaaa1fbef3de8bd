"""The exception tree. Every error pw2mqtt raises on purpose derives from `Pw2MqttError`."""

from __future__ import annotations


class Pw2MqttError(Exception):
    """Base class for pw2mqtt errors."""


class ConfigError(Pw2MqttError):
    """The configuration is invalid; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class StateDirError(Pw2MqttError):
    """The state directory cannot keep what pw2mqtt must save (read-only, full, not a directory)."""

    def __init__(self, directory: object, err: OSError) -> None:
        reason = err.strerror or type(err).__name__
        super().__init__(f"cannot save state in {directory}: {reason}")
        self.directory = directory
        self.reason = reason


class GatewayError(Pw2MqttError):
    """The gateway could not be used."""


class StateNotKeptError(GatewayError):
    """What a request needs saved (the session of a login, a first TLS pin) could not be saved, so
    it is not sent: every restart would log in again, and a few quick restarts lock logins."""


class GatewayConnectionError(GatewayError):
    """The gateway could not be reached: refused, reset, DNS, or a TLS handshake that failed."""


class GatewayBackingOffError(GatewayConnectionError):
    """Nothing was sent: the last attempt failed and the next is not due yet."""


class GatewayTimeoutError(GatewayConnectionError, TimeoutError):
    """The gateway did not answer within the request timeout."""


class GatewayTlsError(GatewayConnectionError):
    """The TLS handshake was aborted or the certificate could not be verified."""


class CertificatePinMismatchError(GatewayTlsError):
    """The gateway presented a certificate other than the pinned one; nothing was sent."""

    def __init__(self, host: str, pinned: str, seen: str) -> None:
        super().__init__(
            f"the TLS certificate of {host} changed: pinned sha256 {pinned}, now {seen}; "
            "nothing was sent"
        )
        self.pinned = pinned
        self.seen = seen


class GatewayAuthError(GatewayError):
    """The gateway rejected the credentials."""


class GatewayLockedOutError(GatewayAuthError):
    """The gateway refuses logins for a while ("Api Limit reached")."""


class GatewayPausedError(GatewayError):
    """Requests to this gateway are paused after a 429/503 or failed logins."""

    def __init__(self, reason: str, remaining: float) -> None:
        super().__init__(f"gateway paused for {remaining:.0f} s more: {reason}")
        self.reason = reason
        self.remaining = remaining


class GatewayResponseError(GatewayError):
    """The gateway answered with an unexpected status or a body that could not be decoded."""

    def __init__(self, endpoint: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{endpoint}: {message}")
        self.endpoint = endpoint
        self.status = status


class GatewayBusyError(GatewayResponseError):
    """The gateway answered 429 or 503."""


class EndpointUnsupportedError(GatewayResponseError):
    """The gateway answered 404: this firmware or model does not offer the endpoint."""


class PermissionDeniedError(GatewayResponseError):
    """The gateway answered 403 to a write: the role may not do this on this firmware."""


class SitemasterStoppedError(GatewayResponseError):
    """The gateway answered 502 with an empty body: the sitemaster is stopped."""


class CommandError(Pw2MqttError):
    """A command was invalid or could not be carried out; reported on MQTT, never fatal."""

    def __init__(self, message: str, transaction: str | int | float | bool | None = None) -> None:
        super().__init__(message)
        self.transaction = transaction
