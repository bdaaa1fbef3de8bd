"""Every MQTT topic pw2mqtt uses is spelled here and nowhere else."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pw2mqtt.config import is_valid_segment


def slugify(text: str) -> str:
    """`1232100-00-E--TG123456789ABC` → `tg123456789abc`-style slugs for topics and ids."""
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return slug or "gateway"


def gateway_slug(din: str | None, fallback: str) -> str:
    """The topic slug of a gateway: the serial part of its DIN (after `--`), else `fallback`."""
    if din:
        serial = din.rsplit("--", 1)[-1]
        return slugify(serial)
    return slugify(fallback)


@dataclass(frozen=True, slots=True)
class Topics:
    base: str = "pw2mqtt"
    discovery_prefix: str = "homeassistant"
    instance: str | None = None
    """In a fleet (`cluster.dsn`), this instance's name: its own state, info and health topics
    live under `<base>/bridge/instance/<instance>/`, so that one instance's last will or
    report never speaks for another."""

    def __post_init__(self) -> None:
        parts = [*self.base.split("/"), *self.discovery_prefix.split("/")]
        if self.instance is not None:
            parts.append(self.instance)
        for part in parts:
            if not is_valid_segment(part):
                raise ValueError(f"not a usable topic level: {part!r}")

    # -- the bridge itself -------------------------------------------------------------------

    @property
    def _own(self) -> str:
        """Where this instance's retained reports go."""
        if self.instance is None:
            return f"{self.base}/bridge"
        return f"{self.base}/bridge/instance/{self.instance}"

    @property
    def bridge_state(self) -> str:
        return f"{self._own}/state"

    @property
    def bridge_info(self) -> str:
        return f"{self._own}/info"

    @property
    def bridge_logging(self) -> str:
        return f"{self.base}/bridge/logging"

    @property
    def bridge_event(self) -> str:
        return f"{self.base}/bridge/event"

    @property
    def bridge_health(self) -> str:
        return f"{self._own}/health"

    def request(self, command: str) -> str:
        return f"{self.base}/bridge/request/{command}"

    def response(self, command: str) -> str:
        return f"{self.base}/bridge/response/{command}"

    @property
    def request_filter(self) -> str:
        return f"{self.base}/bridge/request/#"

    # -- one gateway ------------------------------------------------------------------------

    def availability(self, gateway: str) -> str:
        return f"{self.base}/{gateway}/availability"

    @property
    def availability_filter(self) -> str:
        return f"{self.base}/+/availability"

    def gateway_of(self, topic: str, leaf: str) -> str | None:
        """The gateway named by `<base>/<gateway>/<leaf>`, or None for any other topic."""
        prefix, suffix = f"{self.base}/", f"/{leaf}"
        if not (topic.startswith(prefix) and topic.endswith(suffix)):
            return None
        slug = topic[len(prefix) : -len(suffix)]
        return None if not slug or "/" in slug or slug == "bridge" else slug

    def source_availability(self, gateway: str, source: str) -> str:
        """`online` while the gateway endpoint `source` (a snapshot field) gives values."""
        return f"{self.base}/{gateway}/availability/{source}"

    def state(self, gateway: str) -> str:
        return f"{self.base}/{gateway}/state"

    def field(self, gateway: str, key: str) -> str:
        return f"{self.base}/{gateway}/{key}"

    def field_set(self, gateway: str, key: str) -> str:
        return f"{self.base}/{gateway}/{key}/set"

    def command_availability(self, gateway: str, kind: str) -> str:
        """`online` while commands of `kind` may be sent to this gateway."""
        return f"{self.base}/{gateway}/{kind}/availability"

    def gateway_set(self, gateway: str) -> str:
        return f"{self.base}/{gateway}/set"

    def gateway_get(self, gateway: str) -> str:
        """Any message here reads the gateway now (`bridge` is no gateway)."""
        return f"{self.base}/{gateway}/get"

    @property
    def get_filter(self) -> str:
        return f"{self.base}/+/get"

    @property
    def set_filters(self) -> tuple[str, str]:
        return (f"{self.base}/+/set", f"{self.base}/+/+/set")

    # -- Home Assistant ---------------------------------------------------------------------

    def discovery(self, device_id: str) -> str:
        return f"{self.discovery_prefix}/device/{device_id}/config"

    @property
    def discovery_filter(self) -> str:
        return f"{self.discovery_prefix}/device/+/config"

    @property
    def homeassistant_status(self) -> str:
        return f"{self.discovery_prefix}/status"
