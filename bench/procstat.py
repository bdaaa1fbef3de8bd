"""CPU and memory of one process (all its threads) from /proc, sampled while it runs."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of the process so far (every thread; not its children)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        # The command name may hold spaces; the fields after its closing parenthesis do not.
        fields = stat.read().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / _TICKS


def rss_bytes(pid: int) -> tuple[int, int]:
    """(resident set size now, its peak so far) in bytes."""
    now = peak = 0
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                now = int(line.split()[1]) * 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) * 1024
    return now, peak


_IMPORTS = """
import pw2mqtt.app.cli, pw2mqtt.bridge.runtime, pw2mqtt.config
for line in open("/proc/self/status"):
    if line.startswith("VmRSS:"):
        print(int(line.split()[1]) * 1024)
"""


def imports_rss_mb() -> float:
    """RSS of a fresh interpreter once it has imported what `pw2mqtt run` loads: the floor."""
    out = subprocess.run(
        [sys.executable, "-c", _IMPORTS], capture_output=True, text=True, timeout=60, check=True
    )
    return int(out.stdout.strip()) / 2**20


@dataclass
class Usage:
    """What a `Sampler` saw over a measurement window."""

    cpu_s: float = 0.0
    wall_s: float = 0.0
    rss_peak: int = 0
    rss_samples: list[int] = field(default_factory=list)

    @property
    def rss_steady(self) -> int:
        """Median RSS over the second half of the window, after start-up has settled."""
        tail = self.rss_samples[len(self.rss_samples) // 2 :]
        return int(statistics.median(tail)) if tail else 0

    @property
    def cpu_share(self) -> float:
        """CPU seconds per wall second: 1.0 is one core kept busy."""
        return self.cpu_s / self.wall_s if self.wall_s else 0.0


class Sampler:
    """Call `begin()` at the start of the window, `sample()` now and then, `end()` at its end."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._cpu0 = 0.0
        self._t0 = 0.0
        self.usage = Usage()

    def begin(self) -> None:
        self._cpu0 = cpu_seconds(self.pid)
        self._t0 = time.monotonic()
        self.usage = Usage()

    def sample(self) -> None:
        now, peak = rss_bytes(self.pid)
        self.usage.rss_samples.append(now)
        self.usage.rss_peak = max(self.usage.rss_peak, peak)

    def end(self) -> Usage:
        self.sample()
        self.usage.cpu_s = cpu_seconds(self.pid) - self._cpu0
        self.usage.wall_s = time.monotonic() - self._t0
        return self.usage
