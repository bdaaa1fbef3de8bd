"""What can go wrong with signed local control; every message says what to do about it.

No message ever contains private key material: keys are named by path or fingerprint only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar, Final

from pw2mqtt.errors import EndpointUnsupportedError, GatewayError, GatewayResponseError

V1R_PATH: Final = "/tedapi/v1r"
DIN_PATH: Final = "/tedapi/din"

PAIR_HINT: Final = "pair the key: pw2mqtt pair"
CLOCK_HINT: Final = "check the gateway's and this machine's clocks (NTP)"
POWER_TOGGLE_HINT: Final = (
    "toggle the Powerwall's power to finish pairing (Powerwall 2: its AC disconnect or breaker "
    "off and on; Powerwall 3: its On/Off switch off for about 15 s), within about 10 minutes "
    "of the pairing request"
)


class TedapiError(GatewayError):
    """Signed local control (TEDAPI v1r) could not be used."""


# --- answers of the gateway ----------------------------------------------------------------------


class TedapiResponseError(GatewayResponseError, TedapiError):
    """An answer of /tedapi/v1r or /tedapi/din that could not be understood."""

    def __init__(
        self, message: str, *, endpoint: str = V1R_PATH, status: int | None = None
    ) -> None:
        super().__init__(endpoint, message, status)


class DinError(TedapiResponseError):
    """The body of GET /tedapi/din is not a DIN."""

    def __init__(self, message: str) -> None:
        super().__init__(message, endpoint=DIN_PATH)


class PairingNotFinishedError(TedapiResponseError):
    """The gateway knows the key but its pairing was never confirmed at the Powerwall."""

    def __init__(self) -> None:
        super().__init__(f"the gateway answered 'authorization not verified': {POWER_TOGGLE_HINT}")


class CommandRejectedError(TedapiResponseError):
    """The gateway accepted the signature but refused the request itself."""

    def __init__(self, code: int, detail: str) -> None:
        shown = detail or "no detail given"
        super().__init__(f"the gateway refused the request (code {code}): {shown}")
        self.code = code
        self.detail = detail


class UnexpectedAnswerError(TedapiResponseError):
    """A well-formed answer that does not answer the request that was sent."""


class SignedControlUnsupportedError(EndpointUnsupportedError, TedapiError):
    """404 on /tedapi/v1r or /tedapi/din: the gateway's firmware has no signed control."""

    def __init__(self, endpoint: str = V1R_PATH) -> None:
        super().__init__(
            endpoint,
            "signed control not offered by this firmware (404); the REST API is all there is",
            404,
        )


class ConfigChangedError(TedapiResponseError):
    """config.json changed between the read and the write: read it again, then write once more."""

    def __init__(self, detail: str) -> None:
        shown = f" ({detail})" if detail else ""
        super().__init__(
            f"the gateway refused the config write: config.json changed since it was read{shown}"
        )


class SignedMessageFaultError(TedapiResponseError):
    """The gateway refused a signed message; `fault` is Tesla's MessageFault number."""

    def __init__(self, fault: int, message: str) -> None:
        super().__init__(f"{message} (fault {fault})")
        self.fault = fault


class FaultTimeoutError(SignedMessageFaultError):
    """Fault 2: the part of the gateway that handles the request did not answer in time."""

    def __init__(self) -> None:
        super().__init__(2, "the gateway timed out handling the request: try again in a minute")


class KeyNotPairedError(SignedMessageFaultError):
    """Fault 3: the gateway does not know the key that signed the message."""

    def __init__(self, fingerprint: str | None) -> None:
        key = f"key {fingerprint}" if fingerprint else "signing key"
        super().__init__(3, f"the gateway does not know this {key}: {PAIR_HINT}")
        self.fingerprint = fingerprint


class InvalidSignatureError(SignedMessageFaultError):
    """Fault 5: the signature does not match what the gateway expected to be signed."""

    def __init__(self, din: str | None) -> None:
        signed_for = f" than {din}" if din else ""
        super().__init__(
            5,
            "the gateway rejected the signature: the request was altered on the way or signed "
            f"for another gateway{signed_for}; check the gateway's DIN (GET {DIN_PATH}) and "
            "that the key file was not replaced since pairing",
        )
        self.din = din


class _ClockFaultError(SignedMessageFaultError):
    FAULT: ClassVar[int]
    PROBLEM: ClassVar[str]

    def __init__(
        self,
        *,
        expires_at: int | None = None,
        our_clock: float | None = None,
        gateway_clock: float | None = None,
    ) -> None:
        facts = []
        if expires_at is not None:
            facts.append(f"valid until {_utc(expires_at)}")
        if our_clock is not None:
            facts.append(f"signed at {_utc(our_clock)} by this machine's clock")
        if gateway_clock is not None:
            facts.append(f"gateway clock {_utc(gateway_clock)}")
        known = "; ".join(facts)
        detail = f" ({known})" if known else ""
        super().__init__(self.FAULT, f"{self.PROBLEM}{detail}: {CLOCK_HINT}")
        self.expires_at = expires_at
        self.our_clock = our_clock
        self.gateway_clock = gateway_clock


class MessageExpiredError(_ClockFaultError):
    """Fault 17: by the gateway's clock the message had expired when it arrived."""

    FAULT = 17
    PROBLEM = "the gateway says the request had expired"


class ExpiryTooFarAheadError(_ClockFaultError):
    """Fault 20: by the gateway's clock the message expires too far in the future."""

    FAULT = 20
    PROBLEM = "the gateway says the request expires too far ahead"


# --- the key store -------------------------------------------------------------------------------


class KeyStoreError(TedapiError):
    """The signing key could not be created, read or used; `path` is the key file, if any."""

    def __init__(self, message: str, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


class KeyFileMissingError(KeyStoreError):
    def __init__(self, path: Path) -> None:
        super().__init__(
            f"no signing key at {path}: create and pair one with pw2mqtt pair, "
            "or import a PEM private key made by another tool",
            path,
        )


class KeyFileExistsError(KeyStoreError):
    def __init__(self, path: Path) -> None:
        super().__init__(
            f"a signing key already exists at {path}; it may be paired with a gateway, so it is "
            "not replaced: move it away first if you really mean to replace it",
            path,
        )


class KeyFilePermissionsError(KeyStoreError):
    """The key file is readable or writable by others than its owner (ssh refuses these too)."""

    def __init__(self, path: Path, mode: int) -> None:
        super().__init__(
            f"permissions {mode:04o} for {path} are too open: the signing key must be readable "
            f"and writable by its owner only; fix it with: chmod 600 {path}",
            path,
        )
        self.mode = mode


class KeyFileAccessError(KeyStoreError):
    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"cannot use the signing key file {path}: {reason}", path)


class UnsupportedKeyError(KeyStoreError):
    """A private key that is not RSA or is too short, or is not a usable PEM private key."""

    def __init__(self, reason: str, path: Path | None = None) -> None:
        where = f" in {path}" if path is not None else ""
        super().__init__(f"unusable private key{where}: {reason}", path)


def _utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
