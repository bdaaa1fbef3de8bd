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
