"""What gets published when: deadbands, heartbeats, and counters that never go down."""

from __future__ import annotations

from pw2mqtt.entities.catalogue import ENTITIES, Entity
from pw2mqtt.mqtt.tracker import ValueTracker

BY_KEY = {entity.key: entity for entity in ENTITIES}
POWER = BY_KEY["grid_power"]  # deadband 5 W
COUNTER = BY_KEY["grid_energy_imported"]  # monotonic kWh
MODE = BY_KEY["operation_mode"]


def keys(published: list[tuple[Entity, object]]) -> list[tuple[str, object]]:
    return [(entity.key, value) for entity, value in published]


def test_first_reading_is_always_published() -> None:
    tracker = ValueTracker(heartbeat=60)
    assert keys(tracker.due([(POWER, 100.0), (MODE, "backup")], now=0)) == [
        ("grid_power", 100.0),
        ("operation_mode", "backup"),
    ]


def test_changes_within_the_deadband_wait_for_the_heartbeat() -> None:
    tracker = ValueTracker(heartbeat=60)
    tracker.due([(POWER, 100.0)], now=0)
    assert tracker.due([(POWER, 104.0)], now=5) == []
    assert keys(tracker.due([(POWER, 106.0)], now=10)) == [("grid_power", 106.0)]
    assert tracker.due([(POWER, 106.0)], now=69) == []
    assert keys(tracker.due([(POWER, 106.0)], now=70)) == [("grid_power", 106.0)]


def test_text_values_publish_on_any_change() -> None:
    tracker = ValueTracker(heartbeat=60)
    tracker.due([(MODE, "backup")], now=0)
    assert tracker.due([(MODE, "backup")], now=1) == []
    assert keys(tracker.due([(MODE, "autonomous")], now=2)) == [("operation_mode", "autonomous")]


def test_a_lifetime_counter_never_goes_down() -> None:
    tracker = ValueTracker(heartbeat=60)
    tracker.due([(COUNTER, 752.046)], now=0)
    assert tracker.due([(COUNTER, 751.0)], now=5) == []
    assert tracker.due([(COUNTER, 0.001)], now=500) == []  # not even on a heartbeat
    assert tracker.last("grid_energy_imported") == 752.046
    assert keys(tracker.due([(COUNTER, 752.1)], now=501)) == [("grid_energy_imported", 752.1)]


def test_forget_republishes_everything_once() -> None:
    tracker = ValueTracker(heartbeat=60)
    tracker.due([(POWER, 100.0), (MODE, "backup")], now=0)
    tracker.forget()
    assert len(tracker.due([(POWER, 100.0), (MODE, "backup")], now=1)) == 2
    assert tracker.due([(POWER, 100.0), (MODE, "backup")], now=2) == []
