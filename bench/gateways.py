"""The simulated gateways of one run: their host process and their control APIs."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import aiohttp


@dataclass(frozen=True, slots=True)
class Gateway:
    port: int
    fingerprint: str
    control: str
    din: str
    password: str

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass(frozen=True, slots=True)
class Call:
    time: float  # simulated epoch seconds on arrival (the simulators run at real speed)
    method: str
    path: str
    status: int


class SimulatedGateways:
    """`count` simulators in their own process (python -m bench.simhost), steered over HTTP."""

    def __init__(self, count: int, *, profile: str, latency: float, jitter: float) -> None:
        self._argv = [
            sys.executable, "-m", "bench.simhost",
            "--count", str(count), "--profile", profile,
            "--latency", str(latency), "--jitter", str(jitter),
        ]  # fmt: skip
        self._process: asyncio.subprocess.Process | None = None
        self._session: aiohttp.ClientSession | None = None
        self.gateways: list[Gateway] = []

    async def __aenter__(self) -> Self:
        self._process = await asyncio.create_subprocess_exec(
            *self._argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        assert self._process.stdout is not None
        line = await asyncio.wait_for(self._process.stdout.readline(), 120)
        if not line:
            raise RuntimeError("the simulator host exited before describing its gateways")
        self.gateways = [Gateway(**g) for g in json.loads(line)["gateways"]]
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            try:
                await asyncio.wait_for(self._process.wait(), 15)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()

    async def _post(self, gateway: Gateway, path: str, body: dict[str, Any]) -> dict[str, Any]:
        assert self._session is not None
        async with self._session.post(gateway.control + path, json=body) as response:
            response.raise_for_status()
            answer: dict[str, Any] = await response.json()
            return answer

    async def set_solar(self, gateway: Gateway, watts: float | None) -> None:
        await self._post(gateway, "/solar", {"value": watts})

    async def state(self, gateway: Gateway) -> dict[str, Any]:
        assert self._session is not None
        async with self._session.get(gateway.control + "/state") as response:
            response.raise_for_status()
            answer: dict[str, Any] = await response.json()
            return answer

    async def call_count(self, gateway: Gateway) -> int:
        return int((await self.state(gateway))["calls"])

    async def calls(self, gateway: Gateway, since: int = 0) -> list[Call]:
        assert self._session is not None
        url = f"{gateway.control}/calls?since={since}"
        async with self._session.get(url) as response:
            response.raise_for_status()
            body = await response.json()
        return [Call(c["time"], c["method"], c["path"], c["status"]) for c in body["calls"]]
