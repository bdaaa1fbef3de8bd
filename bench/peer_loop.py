"""The fallback peer: what a hand-written pypowerwall + paho-mqtt bridge does each poll.

Runs inside the peer's own virtual environment (it imports pypowerwall, which pw2mqtt does not).
It polls, then publishes every field, retained, under pypowerwall/default/.
"""

import argparse
import os
import signal
import sys
import time

import paho.mqtt.client as mqtt
import pypowerwall
from paho.mqtt.enums import CallbackAPIVersion


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--interval", type=float, default=5.0)
    args = parser.parse_args()
    stop: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    signal.signal(signal.SIGINT, lambda *_: stop.append(True))

    gateway = pypowerwall.Powerwall(
        os.environ["PW_HOST"],
        os.environ["PW_PASSWORD"],
        os.environ.get("PW_EMAIL", "bench@example.com"),
        os.environ.get("PW_TIMEZONE", "UTC"),
        cachefile=os.environ.get("PW_CACHE_FILE", ".powerwall"),
        auto_select=True,
    )
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="pypowerwall-loop")
    client.connect(os.environ["MQTT_HOST"], int(os.environ["MQTT_PORT"]))
    client.loop_start()
    base = "pypowerwall/default/"
    while not stop:
        started = time.monotonic()
        power = gateway.power() or {}
        fields = {
            "solar": power.get("solar"),
            "grid": power.get("site"),
            "battery": power.get("battery"),
            "home": power.get("load"),
            "level": gateway.level(),
            "grid_status": gateway.grid_status(),
            "reserve": gateway.get_reserve(),
            "mode": gateway.get_mode(),
        }
        for name, value in fields.items():
            if value is not None:
                client.publish(base + name, str(value), qos=1, retain=True)
        time.sleep(max(0.0, args.interval - (time.monotonic() - started)))
    client.loop_stop()
    client.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
