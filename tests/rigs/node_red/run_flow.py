#!/usr/bin/env python3
"""Node-RED, headless on 127.0.0.1, running one flows file against a given MQTT broker.

    run_flow.py [-p PORT] [-b BROKER_PORT] [-H BROKER_HOST] [-t TIMEOUT] FLOWS.json

Uses the node-red that `scripts/install-nodered.sh` put in the rigs' cache (tests.rigs). It copies
the flows into a throw-away user folder with every `mqtt-broker` node pointed at the broker,
starts Node-RED (editor off, admin API on, loopback only), and once the flows are started, the
admin API answers and MQTT is connected, prints `nodered-rig: ready …` on stderr. It then runs
until SIGTERM or SIGINT, and stops Node-RED by its process group. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from tests.rigs import NODE_RED_JS, missing

SETTINGS = """module.exports = {
  uiHost: "127.0.0.1", uiPort: %d, flowFile: "flows.json", credentialSecret: false,
  disableEditor: true, telemetry: { enabled: false }, diagnostics: { enabled: false },
  externalModules: { autoInstall: false, palette: { allowInstall: false } },
  logging: { console: { level: "info", metrics: false, audit: false } },
};
"""


def point_at_broker(flows: list[dict[str, object]], host: str, port: int) -> int:
    """Every mqtt-broker node to host:port without TLS; how many there are."""
    brokers = [node for node in flows if node.get("type") == "mqtt-broker"]
    for node in brokers:
        node.update(broker=host, port=str(port), usetls=False)
    return len(brokers)


def ready(log: Path, port: int, brokers: int) -> bool:
    text = log.read_text(errors="replace")
    if "Started flows" not in text or (brokers and "Connected to broker" not in text):
        return False
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/flows", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("-p", "--port", type=int, default=18880)
    parser.add_argument("-b", "--broker-port", type=int, default=1883)
    parser.add_argument("-H", "--broker-host", default="127.0.0.1")
    parser.add_argument("-t", "--timeout", type=float, default=60.0)
    parser.add_argument("flows", type=Path)
    args = parser.parse_args()
    problem = missing("nodered")
    if problem:
        print(f"nodered-rig: {problem}", file=sys.stderr)
        return 1
    flows = json.loads(args.flows.read_text(encoding="utf-8"))
    work = Path(tempfile.mkdtemp(prefix="pw2mqtt-node-red-"))
    brokers = point_at_broker(flows, args.broker_host, args.broker_port)
    (work / "flows.json").write_text(json.dumps(flows, indent=1))
    (work / "settings.js").write_text(SETTINGS % args.port)
    log = work / "node-red.log"
    stop = False

    def on_signal(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    started = time.monotonic()
    with log.open("wb") as out:
        node_red = subprocess.Popen(
            ["node", str(NODE_RED_JS), "--userDir", str(work), "--settings",
             str(work / "settings.js"), "--port", str(args.port)],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        while not ready(log, args.port, brokers):
            if stop or node_red.poll() is not None or time.monotonic() - started > args.timeout:
                sys.stderr.write(
                    f"nodered-rig: Node-RED did not start; its log:\n{log.read_text()}"
                )
                return 1
            time.sleep(0.1)
        time.sleep(0.3)  # the `mqtt in` nodes' subscriptions reach the broker
        elapsed = time.monotonic() - started
        print(
            f"nodered-rig: ready in {elapsed:.1f} s on http://127.0.0.1:{args.port} "
            f"(pid {node_red.pid}), broker {args.broker_host}:{args.broker_port}",
            file=sys.stderr,
            flush=True,
        )
        while not stop and node_red.poll() is None:
            time.sleep(0.2)
        return 0 if stop else 1
    finally:
        if node_red.poll() is None:
            os.killpg(node_red.pid, signal.SIGTERM)
            try:
                node_red.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(node_red.pid, signal.SIGKILL)
                node_red.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
