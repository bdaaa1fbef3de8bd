"""Shared fixtures: a real Mosquitto broker on a free 127.0.0.1 port, stopped at teardown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mqtt_probe import Broker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A running broker without persistence; `stop()`/`start()` restart it on the same port."""
    yield from _run(Broker(tmp_path / "broker"))


@pytest.fixture
def persistent_broker(tmp_path: Path) -> Iterator[Broker]:
    """A running broker whose retained messages survive `stop()` + `start()`."""
    yield from _run(Broker(tmp_path / "broker", persistence=True))


def _run(broker: Broker) -> Iterator[Broker]:
    broker.workdir.mkdir(parents=True, exist_ok=True)
    try:
        broker.start()
        yield broker
    finally:
        broker.kill()
