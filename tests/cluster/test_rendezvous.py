"""Rendezvous hashing: the same answer everywhere, an even spread, and only the necessary moves."""

from __future__ import annotations

from collections import Counter

from pw2mqtt.cluster.rendezvous import assign, preferred

KEYS = [f"gw-{i:03d}" for i in range(300)]
ALL = frozenset(KEYS)


def test_the_preference_does_not_depend_on_the_order_of_members() -> None:
    for key in KEYS[:50]:
        assert preferred(key, ["a", "b", "c"]) == preferred(key, ["c", "a", "b"])
    assert preferred("gw-000", []) is None


def test_three_members_share_300_keys_evenly() -> None:
    share = Counter(assign(dict.fromkeys("abc", ALL), KEYS).values())
    assert set(share) == {"a", "b", "c"}
    assert max(share.values()) <= 1.5 * 100
    assert min(share.values()) >= 100 / 1.5


def test_when_a_member_leaves_only_its_keys_move() -> None:
    before = assign(dict.fromkeys("abc", ALL), KEYS)
    after = assign(dict.fromkeys("ac", ALL), KEYS)
    moved = {key for key in KEYS if before[key] != after[key]}
    assert moved == {key for key, member in before.items() if member == "b"}


def test_a_member_is_preferred_only_for_keys_its_configuration_lists() -> None:
    plan = assign({"a": ALL, "b": frozenset(KEYS[:10])}, KEYS)
    assert all(plan[key] == "a" for key in KEYS[10:])
    assert set(plan) == ALL
    assert assign({"a": frozenset()}, ["gw-x"]) == {}
