"""docs/configuration.md is generated from the settings model; it must be current and complete."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from pw2mqtt.config import Settings
from pw2mqtt.reference import configuration as config_reference
from pw2mqtt.reference.configuration import REGENERATE, render, rows

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_docs_configuration_md_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        f"docs/configuration.md is out of date; regenerate it with `{REGENERATE}`"
    )


def _leaves(model: type[BaseModel], prefix: str = "") -> set[str]:
    found: set[str] = set()
    for name, field in model.model_fields.items():
        annotation: Any = field.annotation
        item = getattr(annotation, "__args__", (None,))[0]
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found |= _leaves(annotation, f"{prefix}{name}.")
        elif isinstance(item, type) and issubclass(item, BaseModel):
            found |= _leaves(item, f"{prefix}{name}[].")
        else:
            found.add(f"{prefix}{name}")
    return found


def test_every_setting_is_listed_once_with_a_description() -> None:
    listed = [row.path.strip("`") for row in rows()]
    assert sorted(listed) == sorted(_leaves(Settings))
    text = render()
    for row in rows():
        assert text.count(f"| {row.path} |") == 1, row.path
        assert row.description, f"{row.path}: add a docstring under the field in config.py"


def test_environment_names_are_the_ones_the_settings_read(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        "PW2MQTT_GATEWAYS__0__HOST": "192.168.1.5",
        "PW2MQTT_GATEWAYS__0__PASSWORD": "ABCDE",
        "PW2MQTT_GATEWAYS__0__TLS__MODE": "insecure",
        "PW2MQTT_GATEWAYS__0__POLL__FAST": "2",
        "PW2MQTT_MQTT__TLS__ENABLED": "true",
        "PW2MQTT_COMMANDS__MIN_INTERVAL": "3",
    }
    documented = {name for row in rows() for name in row.env.replace("`", "").split(", ")}
    assert set(values) <= documented
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.gateways[0].tls.mode == "insecure"
    assert settings.gateways[0].poll.fast == 2
    assert settings.mqtt.tls.enabled is True
    assert settings.commands.min_interval == 3


def test_main_prints_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    config_reference.main()
    assert capsys.readouterr().out == render()
