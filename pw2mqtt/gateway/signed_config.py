"""What config.json, read through signed control (TEDAPI v1r), says about the site's settings.

A Powerwall 3 and restricted firmware cannot say their mode or reserve over REST; config.json
can. Each field is read on its own: one of the wrong type is None, and the others still count.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from pw2mqtt.gateway.percent import app_from_raw

SIGNED_CONFIG: Final = "signed_config"
"""The snapshot field and availability source of what is read through signed control."""
EXPORT_RULES: Final = ("battery_ok", "pv_only", "never")


@dataclass(frozen=True, slots=True)
class SignedConfig:
    real_mode: str | None  # `default_real_mode`
    backup_reserve_raw: float | None  # `site_info.backup_reserve_percent`, raw %
    grid_charging: bool | None  # NOT `site_info.disallow_charge_from_grid_with_solar_installed`
    export_rule: str | None  # `site_info.customer_preferred_export_rule`
    hash: bytes = field(repr=False)  # what a write of config.json must quote

    @property
    def backup_reserve_app(self) -> float | None:
        raw = self.backup_reserve_raw
        return None if raw is None else app_from_raw(raw)


def parse_signed_config(
    config: Mapping[str, Any], config_hash: bytes
) -> tuple[SignedConfig, tuple[str, ...]]:
    """The settings in `config`, and one phrase per field that was there but unusable."""
    problems: list[str] = []
    site = config.get("site_info")
    if site is not None and not isinstance(site, Mapping):
        problems.append(f"site_info is a JSON {_kind(site)}, not an object")
        site = None
    site = site or {}
    mode = _text(config, "default_real_mode", problems)
    reserve = _percent(site, "backup_reserve_percent", problems)
    disallow = _flag(site, "disallow_charge_from_grid_with_solar_installed", problems)
    rule = _text(site, "customer_preferred_export_rule", problems)
    if rule is not None and rule not in EXPORT_RULES:
        problems.append(f"customer_preferred_export_rule {rule!r} is none of {EXPORT_RULES}")
        rule = None
    parsed = SignedConfig(
        real_mode=mode,
        backup_reserve_raw=reserve,
        grid_charging=None if disallow is None else not disallow,
        export_rule=rule,
        hash=config_hash,
    )
    return parsed, tuple(problems)


def _text(data: Mapping[str, Any], name: str, problems: list[str]) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{name} is {_shown(value)}, not a name")
        return None
    return value.strip()


def _percent(data: Mapping[str, Any], name: str, problems: list[str]) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    number = float(value) if numeric else None
    if number is None or not math.isfinite(number) or not 0.0 <= number <= 100.0:
        problems.append(f"{name} is {_shown(value)}, not a percentage")
        return None
    return number


def _flag(data: Mapping[str, Any], name: str, problems: list[str]) -> bool | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        problems.append(f"{name} is {_shown(value)}, not true or false")
        return None
    return value


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"a JSON {_kind(value)}"


def _kind(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean"}
    return names.get(type(value), "number")
