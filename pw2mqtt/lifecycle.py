"""`async with` for the objects that hold something open: a session, a listener, a server."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Closing:
    """Closed on the way out of `async with`."""

    async def close(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class Service(Closing):
    """Started on the way into `async with`, and closed again if starting fails half-way."""

    async def start(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        return self
