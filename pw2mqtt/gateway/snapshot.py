"""One immutable view of everything read from a gateway, built up across poll tiers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from pw2mqtt.errors import GatewayError
from pw2mqtt.gateway.rest.models import (
    Aggregates,
    GridFaults,
    Meters,
    Networks,
    Operation,
    Powerwalls,
    SiteInfo,
    Sitemaster,
    SiteName,
    Soe,
    SolarPowerwall,
    Status,
    SystemGridStatus,
    SystemStatus,
    UpdateStatus,
)
from pw2mqtt.gateway.rest.vitals import DeviceVitals
from pw2mqtt.gateway.signed_config import SignedConfig


@dataclass(frozen=True, slots=True)
class GatewaySnapshot:
    """The models read at `taken_at`, one field per endpoint (named as in `READ_ENDPOINTS`).

    A snapshot built by a poll holds what that poll read; `fresh` is derived from the fields that
    are set. `older.merged(newer)` fills the gaps from `older`, so endpoints read at a slower rate
    carry over, while `fresh` stays the set the newer poll actually read. `failed` names the
    endpoints that are failing now, and why; their field holds the last good value while it is
    recent enough, else None.
    """

    taken_at: datetime
    status: Status | None = None
    aggregates: Aggregates | None = None
    soe: Soe | None = None
    grid_status: SystemGridStatus | None = None
    system_status: SystemStatus | None = None
    grid_faults: GridFaults | None = None
    sitemaster: Sitemaster | None = None
    operation: Operation | None = None
    site_info: SiteInfo | None = None
    site_name: SiteName | None = None
    powerwalls: Powerwalls | None = None
    solar_powerwall: SolarPowerwall | None = None
    meters_site: Meters | None = None
    meters_solar: Meters | None = None
    update_status: UpdateStatus | None = None
    networks: Networks | None = None
    vitals: DeviceVitals | None = None  # /api/devices/vitals, decoded from protobuf
    signed_config: SignedConfig | None = None  # config.json through /tedapi/v1r
    failed: Mapping[str, GatewayError] = field(default_factory=dict, compare=False)
    fresh: frozenset[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        if self.taken_at.utcoffset() != timedelta(0):
            raise ValueError("taken_at must be an aware UTC datetime")
        read = frozenset(name for name in ENDPOINT_NAMES if getattr(self, name) is not None)
        object.__setattr__(self, "fresh", read)  # the frozen dataclass way to set a derived field

    def get(self, name: str) -> BaseModel | DeviceVitals | SignedConfig | None:
        """The model stored for an endpoint name (`None` if never read); KeyError if unknown."""
        if name not in ENDPOINT_NAMES:
            raise KeyError(name)
        model: BaseModel | DeviceVitals | SignedConfig | None = getattr(self, name)
        return model

    def merged(self, newer: GatewaySnapshot) -> GatewaySnapshot:
        """`newer`, with the endpoints it did not read carried over from this snapshot."""
        stale = (name for name in ENDPOINT_NAMES if name not in newer.fresh)
        carried: dict[str, Any] = {name: self.get(name) for name in stale}
        result = replace(newer, **carried)
        object.__setattr__(result, "fresh", newer.fresh)
        return result

    def judged(self, failed: Mapping[str, GatewayError], drop: Iterable[str]) -> GatewaySnapshot:
        """This snapshot with `failed` as the failing endpoints and the values of `drop` gone."""
        gone = frozenset(drop)
        cleared: dict[str, Any] = dict.fromkeys(gone)
        result = replace(self, failed=dict(failed), **cleared)
        object.__setattr__(result, "fresh", self.fresh - gone)
        return result


ENDPOINT_NAMES: tuple[str, ...] = tuple(
    f.name for f in fields(GatewaySnapshot) if f.name not in {"taken_at", "fresh", "failed"}
)


def rest_din(snapshot: GatewaySnapshot) -> str | None:
    """The DIN the REST API gives: `/api/status`, else `/api/powerwalls` (firmware 1.50)."""
    din = snapshot.status.din if snapshot.status else None
    if not din and snapshot.powerwalls is not None:
        din = snapshot.powerwalls.gateway_din
    return din.strip() or None if din else None
