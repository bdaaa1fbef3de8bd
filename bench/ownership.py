"""Reading a fleet's ownership changes: who owned which gateway when, and whether two ever did.

An event is one `on_change` call: (monotonic time, instance, key, epoch or None for a loss).
CLOCK_MONOTONIC is one clock for every process on a machine, so events of several processes
compare. An instance that died (SIGKILL) owns nothing from the moment it died: pass that moment
in `ends`.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Event:
    at: float
    instance: str
    key: str
    epoch: int | None


@dataclass(frozen=True, slots=True)
class Tenure:
    """`instance` owned `key` under `epoch` from `start` until `end` (inf: still owns it)."""

    key: str
    instance: str
    epoch: int
    start: float
    end: float


def tenures(events: Iterable[Event], ends: Mapping[str, float] | None = None) -> list[Tenure]:
    ends = ends or {}
    open_: dict[tuple[str, str], tuple[int, float]] = {}
    found: list[Tenure] = []
    for event in sorted(events, key=lambda e: e.at):
        slot = (event.instance, event.key)
        if slot in open_:  # a loss, or a new grant that ends the one before
            epoch, start = open_.pop(slot)
            found.append(Tenure(event.key, event.instance, epoch, start, event.at))
        if event.epoch is not None:
            open_[slot] = (event.epoch, event.at)
    for (instance, key), (epoch, start) in open_.items():
        found.append(Tenure(key, instance, epoch, start, ends.get(instance, float("inf"))))
    return sorted(found, key=lambda t: (t.key, t.start))


def double_owned(all_tenures: Iterable[Tenure]) -> list[tuple[Tenure, Tenure]]:
    """Every pair of tenures of one key that overlap in time (must be none)."""
    by_key: dict[str, list[Tenure]] = defaultdict(list)
    for tenure in all_tenures:
        by_key[tenure.key].append(tenure)
    pairs: list[tuple[Tenure, Tenure]] = []
    for held in by_key.values():
        held.sort(key=lambda t: t.start)
        for i, first in enumerate(held):
            pairs.extend((first, later) for later in held[i + 1 :] if later.start < first.end)
    return pairs


def epochs_not_increasing(all_tenures: Iterable[Tenure]) -> list[tuple[Tenure, Tenure]]:
    """Consecutive tenures of one key whose epoch did not grow (must be none)."""
    by_key: dict[str, list[Tenure]] = defaultdict(list)
    for tenure in all_tenures:
        by_key[tenure.key].append(tenure)
    wrong: list[tuple[Tenure, Tenure]] = []
    for held in by_key.values():
        held.sort(key=lambda t: t.start)
        wrong.extend((a, b) for a, b in itertools.pairwise(held) if b.epoch <= a.epoch)
    return wrong


def takeovers(all_tenures: Iterable[Tenure], instance: str, since: float) -> dict[str, float]:
    """For each key `instance` held at `since`: seconds until another instance took it over."""
    held = sorted(all_tenures, key=lambda t: (t.key, t.start))
    lost = {t.key for t in held if t.instance == instance and t.start <= since <= t.end}
    delays: dict[str, float] = {}
    for tenure in held:
        if tenure.key in lost and tenure.instance != instance and tenure.start >= since:
            delays.setdefault(tenure.key, tenure.start - since)
    return delays


@dataclass(frozen=True, slots=True)
class Use:
    """One request as a gateway saw it: the session it carried (None: no valid one) and, for a
    successful login, the e-mail it gave (each instance of a fleet logs in with its own)."""

    session: int | None
    login: str | None = None


def turns(uses: Iterable[Use], whose: Mapping[int, str]) -> list[str]:
    """Who used a gateway, in order of arrival, one entry per uninterrupted turn; a name that
    comes back after another's turn means two instances used it at once (or it moved back)."""
    users = (whose.get(use.session, "?") for use in uses if use.session is not None)
    return [user for user, _ in itertools.groupby(users)]


def logins(uses: Iterable[Use]) -> dict[int, str]:
    """Session → the e-mail its login gave."""
    return {u.session: u.login for u in uses if u.session is not None and u.login is not None}
