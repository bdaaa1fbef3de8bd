"""Settings from YAML, environment variables and `…_FILE` secrets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pw2mqtt.config import (
    ClusterSettings,
    CommandSettings,
    GatewaySettings,
    HomeAssistantSettings,
    MqttSettings,
    MqttTlsSettings,
    PollSettings,
    Settings,
    TlsSettings,
    load_settings,
)
from pw2mqtt.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "pw2mqtt.example.yaml"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("PW2MQTT_"):
            monkeypatch.delenv(key)


def test_example_config_loads_and_documents_every_setting() -> None:
    settings = load_settings(EXAMPLE)
    assert settings.gateways[0].host == "192.168.1.5"
    text = EXAMPLE.read_text()
    models = (Settings, GatewaySettings, TlsSettings, PollSettings, MqttSettings, MqttTlsSettings)
    for model in (*models, HomeAssistantSettings, CommandSettings, ClusterSettings):
        for name in model.model_fields:
            assert re.search(rf"^\s*#?\s*(- )?{name}:", text, re.MULTILINE), name


def test_environment_overrides_the_file_item_by_item(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PW2MQTT_GATEWAYS__0__PASSWORD", "from-env")
    monkeypatch.setenv("PW2MQTT_GATEWAYS__0__POLL__FAST", "2")
    monkeypatch.setenv("PW2MQTT_LOG_LEVEL", "debug")
    settings = load_settings(EXAMPLE)
    gateway = settings.gateways[0]
    assert gateway.host == "192.168.1.5"  # kept from the file
    assert gateway.password.get_secret_value() == "from-env"
    assert gateway.poll.fast == 2.0
    assert gateway.poll.slow == 600.0
    assert settings.log_level == "debug"


def test_secret_from_file_and_gateways_from_environment_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "powerwall"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("PW2MQTT_GATEWAYS__0__HOST", "10.0.0.9:8443")
    monkeypatch.setenv("PW2MQTT_GATEWAYS__0__PASSWORD_FILE", str(secret))
    monkeypatch.setenv("PW2MQTT_GATEWAYS__1__HOST", "10.0.0.10")
    monkeypatch.setenv("PW2MQTT_GATEWAYS__1__PASSWORD", "other")
    monkeypatch.setenv("PW2MQTT_GATEWAYS__0__TLS__MODE", "ca")
    ca_file = tmp_path / "gw.pem"
    ca_file.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("PW2MQTT_GATEWAYS__0__TLS__CA_FILE", str(ca_file))
    settings = load_settings()
    first, second = settings.gateways
    assert first.password.get_secret_value() == "s3cret"
    assert first.address.port == 8443
    assert first.tls.ca_file == ca_file
    assert second.host == "10.0.0.10"


def test_unreadable_secret_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PW2MQTT_GATEWAYS__0__PASSWORD_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="PASSWORD_FILE: cannot read"):
        load_settings()


def test_one_line_per_problem(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "gateways:\n"
        "  - host: 'https://10.0.0.5'\n"
        "    password: x\n"
        "    timeout: -1\n"
        "    tls: {mode: ca}\n"
        "  - password: y\n"
        "colour: blue\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    problems = caught.value.problems
    assert any(p.startswith("gateways.0.host: give the gateway as host") for p in problems)
    assert any(p.startswith("gateways.0.timeout:") for p in problems)
    assert any("tls.mode 'ca' needs tls.ca_file" in p for p in problems)
    assert any(p.startswith("gateways.1.host: Field required") for p in problems)
    assert "colour: unknown setting" in problems
    assert len(problems) == 5


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("gateways: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(config)
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.yaml")


def test_password_is_never_shown() -> None:
    gateway = GatewaySettings(host="10.0.0.5", password="hunter2")  # type: ignore[arg-type]
    assert "hunter2" not in repr(gateway)
    assert "hunter2" not in str(gateway.model_dump())
