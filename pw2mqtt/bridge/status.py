"""What the bridge says about itself: `<state_dir>/status.json` and `<base>/bridge/info`."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pw2mqtt import __version__
from pw2mqtt.bridge.gateway import BridgedGateway
from pw2mqtt.bridge.outbox import ONLINE
from pw2mqtt.bridge.status_file import BridgeStatus, write_status
from pw2mqtt.config import Settings

_LOGGER = logging.getLogger(__name__)

STATUS_INTERVAL = 5.0


async def keep_status_file(
    state_dir: Path,
    owned: Callable[[], Sequence[BridgedGateway]],
    mqtt_connected: Callable[[], bool],
) -> None:
    """Keep `<state_dir>/status.json` current for `pw2mqtt healthcheck`: about the gateways
    this instance polls (all of them, unless it shares a fleet)."""
    failing: str | None = None  # said once, not every few seconds while it lasts
    while True:
        gateways = owned()
        polled = [g.last_ok for g in gateways if g.last_ok is not None]
        status = BridgeStatus(
            pid=os.getpid(),
            updated=time.time(),
            mqtt_connected=mqtt_connected(),
            last_poll_ok=max(polled, default=None),
            gateways_owned=len(gateways),
        )
        try:
            write_status(state_dir, status)
        except OSError as err:
            reason = err.strerror or type(err).__name__
            if reason != failing:
                _LOGGER.warning(
                    "cannot write the status file (%s); `pw2mqtt healthcheck` will report the "
                    "bridge unhealthy until it can",
                    reason,
                )
            failing = reason
        else:
            if failing is not None:
                _LOGGER.info("the status file is written again")
            failing = None
        await asyncio.sleep(STATUS_INTERVAL)


def bridge_info(settings: Settings, gateways: Sequence[BridgedGateway]) -> dict[str, Any]:
    """The retained `<base>/bridge/info`: version, each gateway, the configuration (no secrets)."""
    return {
        "version": __version__,
        "gateways": [
            {
                "gateway": gateway.slug,
                "host": str(gateway.client.address),
                "din": gateway.device.din if gateway.device else None,
                "firmware": gateway.device.firmware if gateway.device else None,
                "available": gateway.availability == ONLINE,
                "unsupported_endpoints": sorted(gateway.client.unsupported),
                "entities": sorted(gateway.announced or ()),
            }
            for gateway in gateways
        ],
        "config": settings.model_dump(mode="json"),
    }
