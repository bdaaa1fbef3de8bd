"""`python -m pw2mqtt.cluster.probe`: one instance's ownership, without gateways or MQTT.

Runs a `Coordinator` for `--keys` made-up gateway keys and prints each change as a JSON line
(`{"at": <CLOCK_MONOTONIC>, "instance": ..., "key": ..., "epoch": <n or null>}`): to try a
database before pointing bridges at it, and for the tests and benchmark that SIGKILL instances.
The connection string comes from `PW2MQTT_CLUSTER__DSN`, so that it shows in no process list.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time

from pw2mqtt.cluster.coordinator import Coordinator
from pw2mqtt.cluster.ownership import ClusterError, default_instance_id


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pw2mqtt.cluster.probe")
    parser.add_argument("--instance", default=default_instance_id())
    parser.add_argument("--keys", type=int, default=10, help="gateway keys gw-000, gw-001, ...")
    parser.add_argument("--lease", type=float, default=15.0, help="lease seconds")
    return parser


def _print_change(instance: str, key: str, epoch: int | None) -> None:
    line = {"at": time.monotonic(), "instance": instance, "key": key, "epoch": epoch}
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def main() -> int:
    args = _parser().parse_args()
    dsn = os.environ.get("PW2MQTT_CLUSTER__DSN")
    if not dsn:
        sys.stderr.write("set PW2MQTT_CLUSTER__DSN to the PostgreSQL connection string\n")
        return 2
    coordinator = Coordinator(
        dsn,
        [f"gw-{i:03d}" for i in range(args.keys)],
        instance_id=args.instance,
        lease_seconds=args.lease,
        on_change=lambda key, epoch: _print_change(args.instance, key, epoch),
    )
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(coordinator.run())
    except ClusterError as err:
        sys.stderr.write(f"{err}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
