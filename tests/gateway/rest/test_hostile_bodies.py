"""Hostile and impossible gateway answers, served by the simulator over real HTTPS."""

from __future__ import annotations

import logging
import resource
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pw2mqtt.config import GatewaySettings
from pw2mqtt.errors import GatewayResponseError
from pw2mqtt.gateway.connection import MAX_BODY_BYTES
from pw2mqtt.gateway.rest.client import GatewayClient
from pw2mqtt.gateway.rest.models import GRID_FAULTS, SOE
from pw2mqtt.gateway.rest.values import MAX_LIST_ITEMS
from pw2mqtt.simulator import GatewaySimulator, SimulatorOptions

PASSWORD = "Pw2MqttSim"


@pytest.fixture
async def sim() -> AsyncIterator[GatewaySimulator]:
    async with GatewaySimulator(SimulatorOptions(speed=0.0, control_port=None)) as simulator:
        yield simulator


@pytest.fixture
async def client(sim: GatewaySimulator, tmp_path: Path) -> AsyncIterator[GatewayClient]:
    settings = GatewaySettings.model_validate(
        {"host": f"localhost:{sim.port}", "password": PASSWORD, "timeout": 10.0}
    )
    async with GatewayClient(settings, tmp_path / "state") as gateway:
        yield gateway


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def test_a_huge_body_is_refused_unread(sim: GatewaySimulator, client: GatewayClient) -> None:
    sim.replace_body(GRID_FAULTS.path, b"[" + b"1," * 5_000_000 + b"1]")  # 10 MB
    before, started = peak_rss_mb(), time.monotonic()
    with pytest.raises(GatewayResponseError, match="too large") as caught:
        await client.read(GRID_FAULTS)
    assert time.monotonic() - started < 5.0
    assert peak_rss_mb() - before < 100  # not gigabytes: the body was never held whole
    assert f"at most {MAX_BODY_BYTES // 1024} kB" in str(caught.value)
    sim.replace_body(GRID_FAULTS.path, None)
    assert (await client.read(SOE)).percentage >= 0  # the connection is usable afterwards


async def test_a_long_list_is_one_error(sim: GatewaySimulator, client: GatewayClient) -> None:
    items = 100_000  # 200 kB: under the size bound, far over any real list
    sim.replace_body(GRID_FAULTS.path, b"[" + b"1," * (items - 1) + b"1]")
    started = time.monotonic()
    with pytest.raises(GatewayResponseError) as caught:
        await client.read(GRID_FAULTS)
    assert time.monotonic() - started < 2.0
    assert f"a list of {items} items; at most {MAX_LIST_ITEMS} expected" in str(caught.value)


@pytest.mark.parametrize("impossible", [b"4294967295", b"-60", b"-5", b"150"])
async def test_an_impossible_charge_keeps_the_last_good_value(
    sim: GatewaySimulator,
    client: GatewayClient,
    caplog: pytest.LogCaptureFixture,
    impossible: bytes,
) -> None:
    good = await client.fetch_snapshot([SOE])
    assert good.soe is not None
    sim.replace_body(SOE.path, b'{"percentage": ' + impossible + b"}")
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            bad = await client.fetch_snapshot([SOE])
            assert bad.soe is None  # left out: merging carries the last good reading over
            assert good.merged(bad).soe == good.soe
    warnings = [r.getMessage() for r in caplog.records if "impossible state of charge" in r.message]
    assert len(warnings) == 1, warnings  # said once, not every poll
    assert "keeping the last good value" in warnings[0]

    sim.replace_body(SOE.path, None)
    again = await client.fetch_snapshot([SOE])
    assert again.soe is not None


async def test_a_charge_just_past_100_is_a_reading(
    sim: GatewaySimulator, client: GatewayClient
) -> None:
    sim.replace_body(SOE.path, b'{"percentage": 100.7}')
    snapshot = await client.fetch_snapshot([SOE])
    assert snapshot.soe is not None
    assert snapshot.soe.app_percentage == 100.0
