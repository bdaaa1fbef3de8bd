"""The simulated gateway's HTTPS listener: start, stop, and go away for a while as in a reboot."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl

from aiohttp import web

_LOGGER = logging.getLogger(__name__)


class HttpsListener:
    def __init__(self, app: web.Application, host: str, port: int, context: ssl.SSLContext) -> None:
        self._app = app
        self._host = host
        self.port = port
        self._ssl = context
        self._runner: web.AppRunner | None = None
        self._server: asyncio.Server | None = None
        self._up = asyncio.Event()
        self._restart: asyncio.Task[None] | None = None
        self.connections = 0  # TCP connections accepted (each one a TLS handshake)

    @property
    def is_up(self) -> bool:
        return self._up.is_set()

    async def wait_up(self) -> None:
        await self._up.wait()

    async def start(self) -> None:
        if self._runner is not None:
            return
        self._runner = web.AppRunner(
            self._app, handle_signals=False, access_log=None, shutdown_timeout=0.25
        )
        await self._runner.setup()
        await self._listen()

    async def close(self) -> None:
        if self._restart is not None:
            self._restart.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._restart
            self._restart = None
        await self._stop_listening()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def go_away(self, downtime: float, *, context: ssl.SSLContext | None = None) -> None:
        """Drop every connection, refuse new ones, and listen again after `downtime` seconds
        (with `context`, e.g. a new certificate, when given)."""
        if self._restart is not None:
            self._restart.cancel()
        await self._stop_listening()
        if context is not None:
            self._ssl = context
        self._restart = asyncio.create_task(self._come_back(downtime))

    async def _listen(self) -> None:
        assert self._runner is not None
        server = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()

        def accept() -> asyncio.BaseProtocol:
            self.connections += 1
            return server()

        self._server = await loop.create_server(
            accept, self._host, self.port, ssl=self._ssl, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._up.set()

    async def _stop_listening(self) -> None:
        self._up.clear()
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._runner is not None and self._runner.server is not None:
            for connection in self._runner.server.connections:
                transport = connection.transport
                if transport is not None:
                    transport.abort()

    async def _come_back(self, downtime: float) -> None:
        await asyncio.sleep(max(0.0, downtime))
        if self._runner is None:
            return
        for _attempt in range(50):
            try:
                await self._listen()
            except OSError:  # the port is briefly unavailable; try again
                await asyncio.sleep(0.1)
            else:
                return
        _LOGGER.error("simulated gateway could not listen on port %s again", self.port)
