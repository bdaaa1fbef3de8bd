"""config.json's settings, each field read on its own."""

from __future__ import annotations

from typing import Any

from pw2mqtt.gateway.signed_config import SignedConfig, parse_signed_config

GOOD: dict[str, Any] = {
    "default_real_mode": "self_consumption",
    "site_info": {
        "backup_reserve_percent": 24,
        "disallow_charge_from_grid_with_solar_installed": True,
        "customer_preferred_export_rule": "pv_only",
    },
}


def test_a_good_config_gives_every_field() -> None:
    parsed, problems = parse_signed_config(GOOD, b"\x01\x02")
    assert parsed == SignedConfig("self_consumption", 24.0, False, "pv_only", b"\x01\x02")
    assert parsed.backup_reserve_app == 20.0
    assert problems == ()


def test_missing_fields_are_unknown_without_complaint() -> None:
    parsed, problems = parse_signed_config({"vin": "x"}, b"")
    assert parsed == SignedConfig(None, None, None, None, b"")
    assert problems == ()


def test_wrong_types_spoil_only_their_own_field() -> None:
    bad = {
        "default_real_mode": 3,
        "site_info": {
            "backup_reserve_percent": "24",
            "disallow_charge_from_grid_with_solar_installed": 0,
            "customer_preferred_export_rule": "sell_everything",
        },
    }
    parsed, problems = parse_signed_config(bad, b"")
    assert parsed == SignedConfig(None, None, None, None, b"")
    assert len(problems) == 4
    assert any("backup_reserve_percent is '24'" in p for p in problems)
    mixed = {**GOOD, "site_info": {**GOOD["site_info"], "backup_reserve_percent": 250.0}}
    parsed, problems = parse_signed_config(mixed, b"")
    assert parsed.backup_reserve_raw is None
    assert parsed.real_mode == "self_consumption"
    assert parsed.grid_charging is False
    assert problems == ("backup_reserve_percent is 250.0, not a percentage",)


def test_site_info_that_is_not_an_object_is_said() -> None:
    parsed, problems = parse_signed_config({"default_real_mode": "backup", "site_info": []}, b"")
    assert parsed.real_mode == "backup"
    assert parsed.backup_reserve_raw is None
    assert problems == ("site_info is a JSON array, not an object",)
