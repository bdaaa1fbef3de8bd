"""Shared fixtures: simulators on 127.0.0.1 and a small HTTPS client around aiohttp."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from pw2mqtt.simulator import GatewaySimulator, SimulatorOptions

# 2024-06-01 00:00 in America/Los_Angeles (PDT, -07:00): a whole simulated day ahead.
MIDNIGHT = 1_717_225_200.0
NOON = MIDNIGHT + 12 * 3600
CUSTOMER = ("customer", "Pw2MqttSim")
INSTALLER = ("installer", "Installer1")


@dataclass
class Answer:
    status: int
    raw: bytes
    headers: Any

    @property
    def json(self) -> Any:
        return json.loads(self.raw)


class Client:
    """Talks HTTPS to one simulator; keeps cookies like tesla_powerwall (unsafe jar for IPs)."""

    def __init__(self, sim: GatewaySimulator, timeout: float = 5.0) -> None:
        self.sim = sim
        self.session = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            timeout=aiohttp.ClientTimeout(total=timeout),
        )
        self.token: str | None = None

    async def close(self) -> None:
        await self.session.close()

    async def request(self, method: str, path: str, **kwargs: Any) -> Answer:
        async with self.session.request(method, self.sim.url + path, ssl=False, **kwargs) as r:
            return Answer(r.status, await r.read(), r.headers)

    async def get(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("POST", path, **kwargs)

    async def login(self, who: tuple[str, str] = CUSTOMER, *, form: bool = False) -> Answer:
        body = {"username": who[0], "password": who[1], "email": "", "force_sm_off": False}
        if form:
            answer = await self.post("/api/login/Basic", data={**body, "force_sm_off": "false"})
        else:
            answer = await self.post("/api/login/Basic", json=body)
        if answer.status == 200:
            self.token = answer.json["token"]
        return answer


def options(**kwargs: Any) -> SimulatorOptions:
    defaults: dict[str, Any] = {"speed": 0.0, "start_time": NOON, "control_port": None}
    return SimulatorOptions(**{**defaults, **kwargs})


@pytest.fixture
async def sim() -> AsyncIterator[GatewaySimulator]:
    async with GatewaySimulator(options()) as simulator:
        yield simulator


@pytest.fixture
async def client(sim: GatewaySimulator) -> AsyncIterator[Client]:
    c = Client(sim)
    yield c
    await c.close()


@pytest.fixture
async def customer(client: Client) -> Client:
    assert (await client.login()).status == 200
    return client
