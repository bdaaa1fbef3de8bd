"""What `pw2mqtt demo` shows: the values and traffic seen on the demo's own broker.

`FlowModel` is fed every message an ordinary MQTT client receives on `pw2mqtt/#` (and the
discovery topics), so the view shows exactly what Home Assistant or Node-RED would see. The
renderers are pure functions of the model; `LiveScreen` redraws a block of lines in place.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

from pw2mqtt.mqtt.topics import Topics

RATE_WINDOW = 5.0
"""Seconds over which messages per second are averaged."""
RECENT = 4
"""How many of the latest topics the live view lists."""
IDLE_W = 10.0
"""Battery or grid power below this many watts counts as idle."""
POWER_KEYS = ("solar_power", "load_power", "battery_power", "grid_power")


@dataclass(frozen=True, slots=True)
class Glyphs:
    """Characters for the view; plain ASCII when the terminal cannot print UTF-8."""

    ellipsis: str
    dot: str
    full: str
    empty: str

    @classmethod
    def for_stream(cls, stream: TextIO) -> Glyphs:
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        if encoding in ("utf8", "utf8sig"):
            return cls("…", "·", "█", "░")
        return cls("...", "|", "#", "-")


class FlowModel:
    """The demo's picture of one gateway, built only from MQTT messages."""

    def __init__(
        self, topics: Topics, clock: Callable[[], float] = time.monotonic, recent: int = RECENT
    ) -> None:
        self.topics = topics
        self._clock = clock
        self.gateway: str | None = None
        self.values: dict[str, str] = {}
        self.bridge_state: str | None = None
        self.availability: str | None = None
        self.last_log: str | None = None
        self.discovery_seen = False
        self.polls = 0
        """JSON state messages seen: each ends the batch of one poll's values."""
        self.total = 0
        self.recent: deque[tuple[str, str]] = deque(maxlen=recent)
        self._times: deque[float] = deque()
        self._started = clock()

    def wants(self, topic: str) -> bool:
        """Whether `topic` is one the demo subscribes to (a broker may send others)."""
        if topic.startswith(f"{self.topics.base}/"):
            return True
        prefix = f"{self.topics.discovery_prefix}/device/"
        return topic.startswith(prefix) and topic.endswith("/config")

    def feed(self, topic: str, payload: bytes) -> None:
        if not self.wants(topic):
            return
        now = self._clock()
        self.total += 1
        self._times.append(now)
        self._forget_before(now - RATE_WINDOW)
        text = payload.decode("utf-8", errors="replace")
        self.recent.append((topic, text))
        if not topic.startswith(f"{self.topics.base}/"):
            self.discovery_seen = self.discovery_seen or bool(payload)
            return
        parts = topic[len(self.topics.base) + 1 :].split("/")
        if parts[0] == "bridge":
            self._bridge(parts[1:], text)
        elif len(parts) == 2:
            gateway, key = parts
            if self.gateway is None:
                self.gateway = gateway
            if gateway != self.gateway:
                return
            if key == "availability":
                self.availability = text
            elif key == "state":
                self.polls += 1
            else:
                self.values[key] = text

    def _bridge(self, parts: list[str], text: str) -> None:
        if parts == ["state"]:
            self.bridge_state = text
        elif parts == ["logging"]:
            try:
                record = json.loads(text)
                self.last_log = f"{record['level']}: {record['message']}"
            except (ValueError, KeyError, TypeError):
                self.last_log = text

    def _forget_before(self, limit: float) -> None:
        while self._times and self._times[0] < limit:
            self._times.popleft()

    def rate(self) -> float:
        """Messages per second over the last few seconds."""
        now = self._clock()
        self._forget_before(now - RATE_WINDOW)
        span = min(RATE_WINDOW, max(now - self._started, 1.0))
        return len(self._times) / span

    @property
    def online(self) -> bool:
        """The bridge is up and its gateway answers."""
        return self.bridge_state == "online" and self.availability == "online"

    @property
    def has_flows(self) -> bool:
        """A whole poll has been published, with the power flows in it."""
        return self.polls > 0 and all(key in self.values for key in POWER_KEYS)

    def number(self, key: str) -> float | None:
        try:
            return float(self.values[key])
        except (KeyError, ValueError):
            return None


# -- formatting -------------------------------------------------------------------------------


def watts(value: float | None) -> str:
    return "-" if value is None else f"{abs(value):.0f} W"


def battery_direction(value: float | None) -> str:
    if value is None:
        return ""
    if value <= -IDLE_W:
        return "charging"
    return "discharging" if value >= IDLE_W else "idle"


def grid_direction(value: float | None) -> str:
    if value is None:
        return ""
    if value >= IDLE_W:
        return "importing"
    return "exporting" if value <= -IDLE_W else "idle"


def percent(text: str | None) -> str:
    if text is None:
        return "-"
    try:
        return f"{float(text):.1f} %"
    except ValueError:
        return text


def charge_bar(text: str | None, glyphs: Glyphs, width: int = 10) -> str:
    try:
        level = float(text) if text is not None else None
    except ValueError:
        level = None
    if level is None:
        return glyphs.empty * width
    filled = round(max(0.0, min(100.0, level)) / 100 * width)
    return glyphs.full * filled + glyphs.empty * (width - filled)


def shorten(text: str, width: int, glyphs: Glyphs) -> str:
    """`text` cut to `width` characters, with an ellipsis when cut."""
    if len(text) <= width:
        return text
    return text[: max(0, width - len(glyphs.ellipsis))] + glyphs.ellipsis


def status_line(model: FlowModel, sim_time: datetime | None) -> str:
    """One line for logs and pipes: every value that matters, with directions."""
    values = model.values
    battery = model.number("battery_power")
    grid = model.number("grid_power")
    parts = [
        f"{sim_time:%H:%M}" if sim_time else "--:--",
        f"solar {watts(model.number('solar_power'))}",
        f"load {watts(model.number('load_power'))}",
        f"battery {watts(battery)} {battery_direction(battery)}".rstrip(),
        f"grid {watts(grid)} {grid_direction(grid)}".rstrip(),
        f"charge {percent(values.get('battery_level'))}",
        f"grid {values.get('grid_status', '-')}",
        f"mode {values.get('operation_mode', '-')}",
        f"reserve {percent(values.get('backup_reserve'))}",
        f"{model.rate():.1f} msg/s",
        f"{model.total} published",
    ]
    return " | ".join(parts)


def live_lines(
    model: FlowModel,
    sim_time: datetime | None,
    *,
    speed: float,
    broker: str,
    glyphs: Glyphs,
    width: int,
) -> list[str]:
    """The block the live view redraws about once a second."""
    values = model.values
    battery = model.number("battery_power")
    grid = model.number("grid_power")
    dot = glyphs.dot
    when = f"{sim_time:%a %H:%M} ({sim_time.tzname()})" if sim_time else "--:--"
    gateway = model.gateway or "-"
    bridge = model.bridge_state or "-"
    lines = [
        f"simulated {when} at {speed:g}x {dot} bridge {bridge} {dot} gateway {gateway} "
        f"{model.availability or '-'}",
        f"  solar    {watts(model.number('solar_power')):>8}",
        f"  load     {watts(model.number('load_power')):>8}",
        f"  battery  {watts(battery):>8}  {battery_direction(battery):<12}"
        f"{charge_bar(values.get('battery_level'), glyphs)} "
        f"{percent(values.get('battery_level'))}",
        f"  grid     {watts(grid):>8}  {grid_direction(grid):<12}{values.get('grid_status', '-')}",
        f"  mode     {values.get('operation_mode', '-')} {dot} reserve "
        f"{percent(values.get('backup_reserve'))}",
        f"  MQTT     {model.rate():.1f} msg/s {dot} {model.total} published {dot} {broker}",
    ]
    for index, (topic, payload) in enumerate(reversed(model.recent)):
        label = "  latest   " if index == 0 else "           "
        room = max(10, width - len(label) - len(topic) - 3)
        text = " ".join(payload.split()) if payload else "(empty)"
        lines.append(f"{label}{topic} = {shorten(text, room, glyphs)}")
    if model.last_log:
        lines.append(f"  log      {model.last_log}")
    lines.append("  Ctrl-C stops the demo")
    return [shorten(line, width, glyphs) for line in lines]


class LiveScreen:
    """Draws a block of lines, then redraws it in place (ANSI cursor movement)."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._height = 0

    def draw(self, lines: Sequence[str]) -> None:
        out = self._out
        if self._height:
            out.write(f"\x1b[{self._height}F")  # to the start of the block's first line
        else:
            out.write("\x1b[?25l")  # hide the cursor while redrawing
        for line in lines:
            out.write(f"\x1b[2K{line}\n")
        extra = self._height - len(lines)
        if extra > 0:  # the block shrank: blank what is left of the old one
            out.write("\x1b[2K\n" * extra + f"\x1b[{extra}F")
        self._height = len(lines)
        out.flush()

    def close(self) -> None:
        if self._height:
            self._out.write("\x1b[?25h")
            self._out.flush()
            self._height = 0
