"""Where signed local control (TEDAPI v1r) stands for one gateway, in the words a user sees.

`pw2mqtt check` and `pw2mqtt pair --status` both ask this one question: is there a key, does the
gateway offer v1r, and does it know the key — unknown, pending (the power toggle was not done) or
verified.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pw2mqtt.errors import GatewayError
from pw2mqtt.gateway.rest.client import GatewayClient
from pw2mqtt.gateway.tedapi.errors import KeyFileMissingError, KeyStoreError
from pw2mqtt.gateway.tedapi.keys import SigningKey, load_key, resolve_key_path

State = Literal["verified", "pending", "unknown key", "unavailable"]


@dataclass(frozen=True, slots=True)
class SignedControl:
    state: State
    detail: str
    key: SigningKey | None = None

    def line(self) -> str:
        return f"signed control: {self.state} ({self.detail})"


async def signed_control(
    client: GatewayClient, state_dir: Path, gateway_slug: str | None = None
) -> SignedControl:
    """One signed read at most; a key problem or a gateway without v1r is `unavailable`."""
    try:
        key = load_key(resolve_key_path(state_dir, gateway_slug))
    except KeyFileMissingError:
        return SignedControl("unavailable", "no signing key: run pw2mqtt keys generate")
    except KeyStoreError as err:
        return SignedControl("unavailable", str(err))
    try:
        status = await client.tedapi(key).key_status()
    except GatewayError as err:
        return SignedControl("unavailable", f"key {key.fingerprint}: {err}", key)
    if status == "verified":
        return SignedControl("verified", f"key {key.fingerprint}", key)
    if status == "pending":
        return SignedControl(
            "pending",
            f"key {key.fingerprint} is registered but the owner's power toggle was not seen; "
            "switch the Powerwall off and on as pw2mqtt pair describes",
            key,
        )
    return SignedControl(
        "unknown key", f"the gateway does not know key {key.fingerprint}: run pw2mqtt pair", key
    )
