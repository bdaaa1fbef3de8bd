"""Warnings and errors of the bridge, kept for `<base>/bridge/logging`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import Iterator
from pathlib import Path

STATE_DIR_TEXT = "<state_dir>"


class LogRelay(logging.Handler):
    """The newest 100 warnings and errors, without repeats; `wake` tells the publisher.

    Whoever reads the broker need not learn the host's file system: the state directory's path
    is shown as `<state_dir>`.
    """

    def __init__(self, wake: asyncio.Event, state_dir: Path | None = None) -> None:
        super().__init__(logging.WARNING)
        self._wake = wake
        self._records: deque[dict[str, str]] = deque(maxlen=100)
        self._last: tuple[str, str] | None = None
        self._hidden = _spellings(state_dir) if state_dir is not None else ()

    def emit(self, record: logging.LogRecord) -> None:
        message = self._without_paths(record.getMessage())
        if (record.name, message) == self._last:
            return
        self._last = (record.name, message)
        level = record.levelname.lower()
        self._records.append({"level": level, "message": message, "namespace": record.name})
        self._wake.set()

    @contextlib.contextmanager
    def listening(self, logger: logging.Logger) -> Iterator[None]:
        """Relay what `logger` says while the block runs."""
        logger.addHandler(self)
        try:
            yield
        finally:
            logger.removeHandler(self)

    def take(self) -> list[dict[str, str]]:
        records = list(self._records)
        self._records.clear()
        return records

    def _without_paths(self, message: str) -> str:
        for path in self._hidden:
            message = message.replace(path, STATE_DIR_TEXT)
        return message


def _spellings(state_dir: Path) -> tuple[str, ...]:
    """The ways a message may spell the directory, longest first so none is left half-replaced."""
    forms = {os.path.abspath(state_dir)}  # a relative spelling ("state") could be any word
    with contextlib.suppress(OSError, RuntimeError):
        forms.add(str(state_dir.resolve()))
    forms = {form.rstrip(os.sep) for form in forms if form.rstrip(os.sep)}
    return tuple(sorted(forms, key=len, reverse=True))
