"""The simulated gateways of one run: their host process and their control APIs."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import aiohttp

LOGIN = "/api/login/Basic"


@dataclass(frozen=True, slots=True)
class Gateway:
    port: int
    fingerprint: str
    control: str
    din: str
    password: str
    clock: float = 0.0  # simulated epoch seconds less time.monotonic(), in its host process

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass(frozen=True, slots=True)
class Call:
    time: float  # simulated epoch seconds on arrival (the simulators run at real speed)
    method: str
    path: str
    status: int
    session: int | None = None  # which login's token it carried
    login: str | None = None  # for a successful login: the e-mail it gave


class SimulatedGateways:
    """`count` simulators in `hosts` processes of their own (python -m bench.simhost), steered
    over HTTP; the gateways are dealt to the processes in consecutive blocks."""

    def __init__(
        self, count: int, *, profile: str, latency: float, jitter: float, hosts: int = 1
    ) -> None:
        hosts = max(1, min(hosts, count))
        blocks = [count // hosts + (1 if i < count % hosts else 0) for i in range(hosts)]
        firsts = [sum(blocks[:i]) for i in range(hosts)]
        common = ["--profile", profile, "--latency", str(latency), "--jitter", str(jitter)]
        self._argvs = [
            [sys.executable, "-m", "bench.simhost", "--count", str(n), "--first", str(i), *common]
            for n, i in zip(blocks, firsts, strict=True)
        ]
        self._processes: list[asyncio.subprocess.Process] = []
        self._session: aiohttp.ClientSession | None = None
        self.gateways: list[Gateway] = []

    @property
    def pids(self) -> list[int]:
        """The simulator host processes, to measure their CPU."""
        return [process.pid for process in self._processes]

    async def __aenter__(self) -> Self:
        try:
            for argv in self._argvs:
                self._processes.append(
                    await asyncio.create_subprocess_exec(
                        *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
                    )
                )
            described = await asyncio.gather(*(self._described(p) for p in self._processes))
        except BaseException:
            await self._stop()
            raise
        self.gateways = [gateway for block in described for gateway in block]
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        return self

    @staticmethod
    async def _described(process: asyncio.subprocess.Process) -> list[Gateway]:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 300)
        if not line:
            raise RuntimeError("the simulator host exited before describing its gateways")
        return [Gateway(**g) for g in json.loads(line)["gateways"]]

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
        await self._stop()

    async def _stop(self) -> None:
        await asyncio.gather(*(_end(process) for process in self._processes))

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
        return [_call(c) for c in body["calls"]]


def _call(c: dict[str, Any]) -> Call:
    body = c.get("body")
    login = c["path"] == LOGIN and c["status"] == 200 and isinstance(body, dict)
    email = str(body.get("email", "?")) if login and isinstance(body, dict) else None
    return Call(c["time"], c["method"], c["path"], c["status"], c.get("session"), email)


async def _end(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), 15)
    except TimeoutError:
        process.kill()
        await process.wait()
