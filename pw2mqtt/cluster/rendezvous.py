"""Rendezvous (highest-random-weight) hashing: which live member each gateway prefers.

Every member computes the same answer from the same member list, without talking to the others;
when a member joins or leaves, only the gateways it wins or held move.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping


def weight(member: str, key: str) -> int:
    digest = hashlib.blake2b(f"{member}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def preferred(key: str, members: Iterable[str]) -> str | None:
    """The member with the highest weight for `key` (ties broken by name), or None if none."""
    return max(members, key=lambda member: (weight(member, key), member), default=None)


def assign(serving: Mapping[str, frozenset[str]], keys: Iterable[str]) -> dict[str, str]:
    """For each key, the preferred member among those whose configuration lists it."""
    chosen: dict[str, str] = {}
    for key in keys:
        winner = preferred(key, (m for m, listed in serving.items() if key in listed))
        if winner is not None:
            chosen[key] = winner
    return chosen
