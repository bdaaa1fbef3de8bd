"""Warnings and errors of the bridge, kept for `<base>/bridge/logging`."""

from __future__ import annotations

import asyncio
import logging
from collections import deque


class LogRelay(logging.Handler):
    """The newest 100 warnings and errors, without repeats; `wake` tells the publisher."""

    def __init__(self, wake: asyncio.Event) -> None:
        super().__init__(logging.WARNING)
        self._wake = wake
        self._records: deque[dict[str, str]] = deque(maxlen=100)
        self._last: tuple[str, str] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if (record.name, message) == self._last:
            return
        self._last = (record.name, message)
        level = record.levelname.lower()
        self._records.append({"level": level, "message": message, "namespace": record.name})
        self._wake.set()

    def take(self) -> list[dict[str, str]]:
        records = list(self._records)
        self._records.clear()
        return records
