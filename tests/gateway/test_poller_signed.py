"""The poller's signed reads against the simulator over real HTTPS: beside the REST reads, never
in their way; a refused key drops what it read at once and rests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pw2mqtt.config import GatewaySettings, PollSettings
from pw2mqtt.gateway.poller import GatewayPoller, GatewayUpdate
from pw2mqtt.gateway.rest.client import GatewayClient
from pw2mqtt.gateway.signed_config import SIGNED_CONFIG, SignedConfig
from pw2mqtt.gateway.signed_reads import SignedReader
from pw2mqtt.gateway.tedapi.errors import KeyNotPairedError
from pw2mqtt.gateway.tedapi.keys import SigningKey, generate_key
from pw2mqtt.simulator import GatewaySimulator, SimulatorOptions
from pw2mqtt.simulator.keys import KeyState

POLL = PollSettings(fast=1.0, medium=2.0, slow=10.0, detail=0.0)
V1R = "/tedapi/v1r"


class HeldReader(SignedReader):
    """A signed read that waits for the test before it goes out: a slow gateway's answer."""

    def __init__(self, client: GatewayClient, key: SigningKey) -> None:
        super().__init__(client, key)
        self.release = asyncio.Event()
        self.done = asyncio.Event()

    async def read(self) -> SignedConfig | None:
        await self.release.wait()
        try:
            return await super().read()
        finally:
            self.done.set()


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return generate_key(key_size=2048)


@pytest.fixture
async def sim(key: SigningKey) -> AsyncIterator[GatewaySimulator]:
    async with GatewaySimulator(SimulatorOptions(control_port=None, profile="pw3")) as simulator:
        simulator.set_key_state(key.public_key_der, KeyState.VERIFIED)
        yield simulator


def client_for(sim: GatewaySimulator, tmp_path: Path) -> GatewayClient:
    settings = GatewaySettings.model_validate(
        {"host": f"localhost:{sim.port}", "password": "Pw2MqttSim", "timeout": 3.0}
    )
    return GatewayClient(settings, tmp_path / "state")


def v1r_calls(sim: GatewaySimulator) -> int:
    return sum(1 for call in sim.calls if call.path == V1R)


async def test_a_slow_signed_read_delays_no_fast_poll(
    sim: GatewaySimulator, key: SigningKey, tmp_path: Path
) -> None:
    async with client_for(sim, tmp_path) as client:
        reader = HeldReader(client, key)
        clock = Clock()
        updates: list[GatewayUpdate] = []
        poller = GatewayPoller(client, POLL, updates.append, clock=clock, signed=reader)
        for _ in range(3):  # the signed read hangs; the fast tier goes on
            clock.now += 1.0
            update = await asyncio.wait_for(poller.poll_once(), timeout=5)
            assert update.snapshot is not None
            assert update.snapshot.aggregates is not None
            assert update.snapshot.signed_config is None
        assert v1r_calls(sim) == 0
        reader.release.set()
        await asyncio.wait_for(reader.done.wait(), timeout=10)
        await asyncio.sleep(0)  # the task's end is seen by the poller's next poll
        clock.now += 1.0
        update = await poller.poll_once()
    assert update.snapshot is not None
    config = update.snapshot.signed_config
    assert config is not None
    assert config.export_rule == "pv_only"
    assert config.real_mode == sim.state.mode


async def test_a_removed_key_drops_its_values_at_once_and_rests(
    sim: GatewaySimulator, key: SigningKey, tmp_path: Path
) -> None:
    async with client_for(sim, tmp_path) as client:
        clock = Clock()
        poller = GatewayPoller(
            client, POLL, lambda _: None, clock=clock, signed=SignedReader(client, key)
        )

        async def settle() -> GatewayUpdate:
            await asyncio.sleep(1.0)  # the signed read runs beside the poll; take it next tick
            clock.now += 1.0
            return await poller.poll_once()

        await poller.poll_once()
        update = await settle()
        assert update.snapshot is not None
        assert update.snapshot.signed_config is not None
        sim.set_key_state(key.public_key_der, KeyState.REMOVED)
        poller.refresh()  # as after a command: config.json is read again
        await poller.poll_once()
        update = await settle()
        assert update.snapshot is not None
        assert update.snapshot.signed_config is None
        assert isinstance(update.snapshot.failed[SIGNED_CONFIG], KeyNotPairedError)
        assert update.snapshot.aggregates is not None  # REST carries on
        calls = v1r_calls(sim)
        for _ in range(3):  # slow ticks go by; the key rests
            clock.now += POLL.slow
            await poller.poll_once()
        await asyncio.sleep(0.5)
    assert v1r_calls(sim) == calls
