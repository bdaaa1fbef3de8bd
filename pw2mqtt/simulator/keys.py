"""The simulated gateway's authorised signing keys, each with the state the owner's pairing left.

The cloud side (a pairing request, the owner's power toggle) and the gateway side (checking a
signed message, listing and removing clients) both work on this one registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class KeyState(IntEnum):
    """As the cloud's pairing request reports them."""

    PENDING = 1
    TIMEOUT = 2
    VERIFIED = 3
    REMOVED = 4


@dataclass(slots=True)
class AuthorizedKey:
    public_key_der: bytes  # PKCS#1 DER, as carried in a signed message
    description: str
    state: KeyState
    added_at: float  # simulated epoch seconds


class KeyRegistry:
    def __init__(self) -> None:
        self._keys: dict[bytes, AuthorizedKey] = {}

    def add(self, public_key_der: bytes, description: str, now: float) -> AuthorizedKey:
        """A pairing request: the key waits for the owner's power toggle."""
        key = AuthorizedKey(public_key_der, description, KeyState.PENDING, now)
        self._keys[public_key_der] = key
        return key

    def get(self, public_key_der: bytes) -> AuthorizedKey | None:
        return self._keys.get(public_key_der)

    def set_state(self, public_key_der: bytes, state: KeyState) -> None:
        key = self._keys.get(public_key_der)
        if key is None:
            raise KeyError("no such key")
        key.state = state

    def toggle(self) -> list[AuthorizedKey]:
        """The owner switched the Powerwall off and on: every pending key becomes verified."""
        verified = [key for key in self._keys.values() if key.state is KeyState.PENDING]
        for key in verified:
            key.state = KeyState.VERIFIED
        return verified

    def remove(self, public_key_der: bytes) -> bool:
        key = self._keys.get(public_key_der)
        if key is None:
            return False
        key.state = KeyState.REMOVED
        return True

    def clients(self) -> list[AuthorizedKey]:
        return list(self._keys.values())
