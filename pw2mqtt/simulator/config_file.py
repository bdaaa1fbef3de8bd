"""The gateway's config.json as signed control reads and writes it, tied to the site's state.

A read shows the site's current operation mode and raw reserve, so changes made through REST or
the control API show up there, and its hash (SHA-256 of the bytes served) changes with them. A
write must quote the hash of the file it replaces: a stale one is refused. Grid charging and the
export rule live only here.

`apply_at_dispatch` mimics 26.10.x: a written file is stored (and read back) at once, but the
site keeps its old mode and reserve until the next dispatch, such as a manual backup event being
scheduled or cancelled.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from typing import Any, Final

from pw2mqtt.simulator.site import MODES, Site

EXPORT_RULES: Final = ("battery_ok", "pv_only", "never")
CODE_INVALID_ARGUMENT: Final = 3
CODE_FAILED_PRECONDITION: Final = 9


class ConfigRefusedError(ValueError):
    """The gateway refuses a request; `code` is the gRPC-style status code it answers with."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class ConfigFile:
    def __init__(self, site: Site, din: str, timezone: str) -> None:
        self._site = site
        self._stored: dict[str, Any] = {
            "vin": din,
            "default_real_mode": site.mode,
            "site_info": {
                "site_name": "Home Energy Gateway",
                "timezone": timezone,
                "backup_reserve_percent": site.reserve,
                "disallow_charge_from_grid_with_solar_installed": False,
                "customer_preferred_export_rule": "pv_only",
            },
            "strategy": {"TOU_mode": "economics"},
        }
        self._pending = False  # written but not yet applied to the site (apply_at_dispatch)
        self.apply_at_dispatch = False
        self.writes = 0

    @property
    def pending(self) -> bool:
        return self._pending

    def document(self) -> dict[str, Any]:
        """config.json as a read returns it now."""
        doc = copy.deepcopy(self._stored)
        if not self._pending:
            doc["default_real_mode"] = self._site.mode
            doc["site_info"]["backup_reserve_percent"] = self._site.reserve
        return doc

    def blob(self) -> bytes:
        return json.dumps(self.document(), separators=(",", ":")).encode()

    def hash(self) -> bytes:
        return hashlib.sha256(self.blob()).digest()

    @property
    def grid_charging(self) -> bool:
        return not self._stored["site_info"].get("disallow_charge_from_grid_with_solar_installed")

    @property
    def export_rule(self) -> str:
        return str(self._stored["site_info"].get("customer_preferred_export_rule"))

    def write(self, now: float, blob: bytes, quoted_hash: bytes) -> bytes:
        """Store `blob` unless the file changed since the read that gave `quoted_hash`."""
        if quoted_hash != self.hash():
            raise ConfigRefusedError(
                CODE_FAILED_PRECONDITION, "hash mismatch: config.json changed since it was read"
            )
        self._stored = _validated(blob)
        self.writes += 1
        self._pending = True
        if not self.apply_at_dispatch:
            self.dispatch(now)
        return self.hash()

    def dispatch(self, now: float) -> None:
        """Apply a written mode and reserve to the site, if one waits."""
        if not self._pending:
            return
        self._pending = False
        info = self._stored["site_info"]
        self._site.set_operation(
            now, self._stored["default_real_mode"], float(info["backup_reserve_percent"])
        )


def _validated(blob: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(blob)
    except (UnicodeDecodeError, ValueError):
        raise _invalid("config.json is not JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("site_info"), dict):
        raise _invalid("config.json must be an object with a site_info object")
    if doc.get("default_real_mode") not in MODES:
        raise _invalid(f"default_real_mode must be one of {', '.join(MODES)}")
    info = doc["site_info"]
    reserve = info.get("backup_reserve_percent")
    if (
        isinstance(reserve, bool)
        or not isinstance(reserve, int | float)
        or not math.isfinite(reserve)
        or not 0 <= reserve <= 100
    ):
        raise _invalid("site_info.backup_reserve_percent must be a number within 0..100")
    grid = info.get("disallow_charge_from_grid_with_solar_installed", False)
    if not isinstance(grid, bool):
        raise _invalid("disallow_charge_from_grid_with_solar_installed must be a boolean")
    if info.get("customer_preferred_export_rule", "pv_only") not in EXPORT_RULES:
        raise _invalid(f"customer_preferred_export_rule must be one of {', '.join(EXPORT_RULES)}")
    return doc


def _invalid(message: str) -> ConfigRefusedError:
    return ConfigRefusedError(CODE_INVALID_ARGUMENT, message)
