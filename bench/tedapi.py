"""`python -m bench.tedapi`: what signed control costs: RSA-4096 signing and a signed read.

The read is one `read_config` through `GatewayClient.tedapi` against the simulator (profile
26.26, in this process, no added latency) over real HTTPS on loopback, after a first read that
logs in, fetches the DIN and opens the connection. It includes signing, the simulator's
verification and the JSON decoding of config.json. Not part of `python -m bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.stats import percentile
from pw2mqtt.config import GatewaySettings
from pw2mqtt.gateway.rest.client import GatewayClient
from pw2mqtt.gateway.tedapi.keys import KEY_SIZE, SigningKey, generate_key
from pw2mqtt.gateway.tedapi.messages import read_config, sign_request
from pw2mqtt.simulator.keys import KeyState
from pw2mqtt.simulator.server import GatewaySimulator, SimulatorOptions

DIN = "1232100-00-E--TG123456789ABC"


def _timed(action: Callable[[], object], count: int) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


async def _round_trips(key: SigningKey, count: int) -> list[float]:
    async with GatewaySimulator(SimulatorOptions(profile="26.26", control_port=None)) as sim:
        sim.set_key_state(key.public_key_der, KeyState.VERIFIED, "bench")
        settings = GatewaySettings.model_validate(
            {"host": f"localhost:{sim.port}", "password": sim.options.customer_password}
        )
        with tempfile.TemporaryDirectory() as state:
            async with GatewayClient(settings, Path(state)) as client:
                signed = client.tedapi(key, wall_clock=sim.now)
                await signed.read_config()  # login, DIN, TLS handshake
                times = []
                for _ in range(count):
                    start = time.perf_counter()
                    await signed.read_config()
                    times.append(time.perf_counter() - start)
    return times


def _line(name: str, seconds: list[float]) -> str:
    median = statistics.median(seconds) * 1000
    p95 = (percentile(seconds, 95) or 0.0) * 1000
    return f"| {name} | {len(seconds)} | {median:.1f} | {p95:.1f} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tedapi", description=__doc__)
    parser.add_argument("--count", type=int, default=30, help="repetitions per figure (30)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    key = generate_key(key_size=KEY_SIZE)
    keygen = time.perf_counter() - start
    envelope = read_config(DIN)
    signing = _timed(
        lambda: sign_request(
            envelope, din=DIN, key=key, now=time.time(), request_id="bench-request"
        ),
        args.count,
    )
    trips = asyncio.run(_round_trips(key, args.count))
    print(f"RSA-{KEY_SIZE} key generation: {keygen * 1000:.0f} ms (once per installation)")
    print("| measurement | n | median ms | p95 ms |")
    print("|---|---|---|---|")
    print(_line(f"sign one request (RSA-{KEY_SIZE}, PKCS#1 v1.5, SHA-512)", signing))
    print(_line("signed config read, simulator over HTTPS", trips))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
