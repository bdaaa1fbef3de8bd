"""What can go wrong with Tesla's cloud; every message says what to do and none shows a token."""

from __future__ import annotations

from typing import Final

from pw2mqtt.errors import Pw2MqttError

RENEW_ADVICE: Final = (
    "get a new refresh token (Owner API: any Tesla sign-in tool that prints one; Fleet API: your "
    "developer app's OAuth flow) and put it in the --token-file or PW2MQTT_TESLA_REFRESH_TOKEN"
)


class CloudError(Pw2MqttError):
    """Tesla's cloud could not be used."""


class TokenFileError(CloudError):
    """The token file is missing, unreadable or holds no token."""


class TokenRejectedError(CloudError):
    """Tesla refused the token: it is wrong, expired or revoked."""

    def __init__(self, what: str) -> None:
        super().__init__(f"Tesla refused {what} (wrong or expired): {RENEW_ADVICE}")


class CloudConnectionError(CloudError):
    """Tesla's cloud could not be reached."""


class RateLimitedError(CloudError):
    """Tesla kept answering 429 until the deadline."""


class CloudResponseError(CloudError):
    """An answer that is not what the request asks for."""

    def __init__(self, what: str, status: int, detail: str = "") -> None:
        shown = f": {detail}" if detail else ""
        super().__init__(f"{what}: Tesla answered HTTP {status}{shown}")
        self.status = status


class SiteNotFoundError(CloudError):
    """No energy site of the account has the gateway's DIN."""

    def __init__(self, din: str | None, seen: list[str]) -> None:
        listed = ", ".join(seen) if seen else "none"
        if din is None:
            problem = "several energy sites on this account: give --din to pick one"
        else:
            problem = f"no energy site of this Tesla account has the gateway DIN {din}"
        super().__init__(f"{problem} (DINs seen: {listed})")
        self.din = din
        self.seen = seen
