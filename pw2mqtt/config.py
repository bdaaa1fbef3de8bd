"""Settings: a YAML file, `PW2MQTT_…` environment variables (`__` for nesting) and `…_FILE` secrets.

Precedence, highest first: environment variables, `…_FILE` variables, the YAML file, defaults.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, cast

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    YamlConfigSettingsSource,
)

from pw2mqtt.errors import ConfigError
from pw2mqtt.gateway.address import GatewayAddress
from pw2mqtt.gateway.tls import TlsMode, normalise_fingerprint

ENV_PREFIX = "PW2MQTT_"
SECRET_KEYS = frozenset({"password", "username", "dsn"})
"""Settings that may also be given as `…_FILE`: the name of a file holding the value."""
_SLUG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")


_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")


def is_valid_segment(text: str) -> bool:
    """A topic level we may publish under: no wildcards, no separators, nothing exotic. The
    one rule for the settings that name topics and for the topic builder."""
    return bool(_SEGMENT.match(text))


def default_state_dir() -> Path:
    if explicit := os.environ.get("PW2MQTT_STATE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "pw2mqtt"


def _check_host(value: str) -> str:
    GatewayAddress.parse(value)
    return value.strip()


def is_slug(text: str) -> bool:
    """A gateway's topic slug: lowercase ASCII letters, digits, `_` and `-`."""
    return bool(text) and set(text) <= _SLUG_CHARS


def _existing_file(value: Path | None) -> Path | None:
    if value is not None and not value.is_file():
        raise ValueError(f"no such file: {value}")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _secret_not_blank(value: SecretStr) -> SecretStr:
    _not_blank(value.get_secret_value())
    return value


def _check_slug(value: str | None) -> str | None:
    if value is not None and not is_slug(value):
        raise ValueError("use lowercase letters, digits, '_' and '-' only")
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsSettings(_Section):
    mode: TlsMode = "pin"
    """`pin`: trust the first certificate seen and refuse any other; `ca`: verify against
    `ca_file`; `insecure`: verify nothing."""
    ca_file: Annotated[Path | None, AfterValidator(_existing_file)] = None
    fingerprint: str | None = None
    """Pin this SHA-256 fingerprint instead of the first one seen."""

    @field_validator("fingerprint")
    @classmethod
    def _fingerprint(cls, value: str | None) -> str | None:
        return None if value is None else normalise_fingerprint(value)

    @model_validator(mode="after")
    def _ca_needs_file(self) -> TlsSettings:
        if self.mode == "ca" and self.ca_file is None:
            raise ValueError("tls.mode 'ca' needs tls.ca_file")
        return self


class PollSettings(_Section):
    fast: float = Field(5.0, ge=1.0)
    """Seconds between reads of aggregates, state of charge and grid status."""
    medium: float = Field(30.0, ge=1.0)
    """Seconds between reads of operation, sitemaster and system status."""
    slow: float = Field(600.0, ge=10.0)
    """Seconds between reads of status, site info and Powerwalls."""
    detail: float = Field(30.0, ge=0.0)
    """Seconds between reads of per-device detail (vitals, solar inverter and strings, alerts);
    0 turns it off."""
    offline_after: int = Field(3, ge=1)
    """Polls in a row in which power flows, charge and grid status all fail before the gateway
    is reported offline. Until then, and for a few intervals after a single endpoint fails, the
    last good values stay."""


class GatewayCommandSettings(_Section):
    """This gateway's own command settings; a key left out takes the global `commands` value."""

    operation_mode: bool | None = None
    """As `commands.operation_mode`, for this gateway."""
    backup_reserve: bool | None = None
    """As `commands.backup_reserve`, for this gateway."""
    off_grid: bool | None = None
    """As `commands.off_grid`, for this gateway."""
    sitemaster: bool | None = None
    """As `commands.sitemaster`, for this gateway."""
    grid_charging: bool | None = None
    """As `commands.grid_charging`, for this gateway."""
    export_rule: bool | None = None
    """As `commands.export_rule`, for this gateway."""
    manual_backup: bool | None = None
    """As `commands.manual_backup`, for this gateway."""
    allow_grid_control: bool | None = None
    """As `commands.allow_grid_control`, for this gateway."""
    transport: Literal["auto", "rest", "v1r"] | None = None
    """As `commands.transport`, for this gateway."""
    min_interval: float | None = Field(None, ge=0)
    """As `commands.min_interval`, for this gateway."""
    confirm_timeout: float | None = Field(None, gt=0, le=600)
    """As `commands.confirm_timeout`, for this gateway."""
    recheck_refused: float | None = Field(None, ge=60)
    """As `commands.recheck_refused`, for this gateway."""
    dispatch_workaround: bool | None = None
    """As `commands.dispatch_workaround`, for this gateway."""


class GatewaySettings(_Section):
    host: Annotated[str, AfterValidator(_check_host)]
    """Host name or IP address of the gateway, optionally with a port (`192.168.1.5:8443`)."""
    password: Annotated[SecretStr, AfterValidator(_secret_not_blank)]
    """The customer password (or installer password with `role: installer`)."""
    role: Literal["customer", "installer"] = "customer"
    email: str = "pw2mqtt@localhost"
    """Sent with the login; the gateway ignores it."""
    name: Annotated[str | None, AfterValidator(_check_slug)] = None
    """Topic slug for this gateway; defaults to one derived from its DIN."""
    server_name: str | None = None
    """TLS server name (SNI). Default: `powerwall` for a host name, none for an IP address;
    an empty string sends none."""
    tls: TlsSettings = TlsSettings()
    timeout: float = Field(10.0, gt=0, le=120)
    """Seconds before a request to the gateway is abandoned."""
    max_concurrency: int = Field(1, ge=1, le=4)
    """Requests in flight at once to this gateway."""
    pause_seconds: float = Field(300.0, ge=0)
    """How long to leave the gateway alone after a login lockout or repeated failed logins, and
    the longest pause when it says it is busy (429, or 503 from a core endpoint): those pauses
    start at 15 s and double each time in a row."""
    login_failure_limit: int = Field(3, ge=1)
    """Failed logins in a row before pausing."""
    backoff_max: float = Field(300.0, ge=1)
    """Ceiling of the exponential backoff after network failures, in seconds."""
    poll: PollSettings = PollSettings()
    commands: GatewayCommandSettings = GatewayCommandSettings()
    """Per-gateway command settings: see the Commands section."""

    @property
    def address(self) -> GatewayAddress:
        return GatewayAddress.parse(self.host)


class MqttTlsSettings(_Section):
    enabled: bool = False
    ca_file: Annotated[Path | None, AfterValidator(_existing_file)] = None
    """CA bundle that signed the broker's certificate; default: the system's."""
    certfile: Annotated[Path | None, AfterValidator(_existing_file)] = None
    """Client certificate, for brokers that ask for one."""
    keyfile: Annotated[Path | None, AfterValidator(_existing_file)] = None
    insecure: bool = False
    """Do not verify the broker's certificate."""


class MqttSettings(_Section):
    host: Annotated[str, AfterValidator(_not_blank)] = "localhost"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    client_id: str | None = None
    """Stable across restarts, so the broker keeps one session per bridge. Default:
    `pw2mqtt` and a short hash of the base topic and the gateways' names (or hosts), so two
    bridges never take each other's place. In a fleet (`cluster.dsn`), `-<instance_id>` is
    appended, so each instance has its own."""
    keepalive: int = Field(60, ge=5, le=3600)
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    tls: MqttTlsSettings = MqttTlsSettings()
    base_topic: str = "pw2mqtt"
    retain: bool = True
    """Retain per-field state topics and the JSON state (bridge, availability and discovery
    topics are always retained)."""
    heartbeat: float = Field(60.0, ge=10)
    """Seconds after which an unchanged value is published again."""

    @field_validator("base_topic")
    @classmethod
    def _topic(cls, value: str) -> str:
        return _check_topic(value)

    @field_validator("client_id")
    @classmethod
    def _client_id(cls, value: str) -> str:
        return _not_blank(value)


class HomeAssistantSettings(_Section):
    enabled: bool = True
    """Publish Home Assistant discovery. Nothing else needs Home Assistant."""
    discovery_prefix: str = "homeassistant"
    legacy_object_id: bool = True
    """Also send `object_id`: Home Assistant before 2025.10 ignores `default_entity_id` and
    would name the entities after the site instead; newer releases take `default_entity_id` and
    say nothing about the extra field."""

    @field_validator("discovery_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        return _check_topic(value)


def _check_topic(value: str) -> str:
    """Topic levels the topic builder accepts: one rule for both, so what passes here works."""
    if not value or not all(is_valid_segment(part) for part in value.split("/")):
        raise ValueError("use ASCII letters, digits, '_' and '-' per level, no wildcards")
    return value


CommandTransport = Literal["auto", "rest", "v1r"]
COMMAND_KINDS = (
    "operation_mode",
    "backup_reserve",
    "off_grid",
    "sitemaster",
    "grid_charging",
    "export_rule",
    "manual_backup",
)
GRID_CONTROL_KINDS = ("off_grid", "sitemaster")


class CommandSettings(_Section):
    """Commands act on a house's power supply: every kind is off until enabled here. A gateway's
    own `gateways[].commands` block overrides these defaults key by key."""

    operation_mode: bool = False
    """Accept `operation_mode` commands (self_consumption, autonomous, backup)."""
    backup_reserve: bool = False
    """Accept `backup_reserve` / `backup_reserve_raw` commands."""
    off_grid: bool = False
    """Accept `off_grid` commands; needs `allow_grid_control` too."""
    sitemaster: bool = False
    """Accept `sitemaster` run/stop commands (always over REST); needs `allow_grid_control` too."""
    grid_charging: bool = False
    """Accept `grid_charging` commands (true/false; signed control only)."""
    export_rule: bool = False
    """Accept `export_rule` commands (battery_ok, pv_only, never; signed control only)."""
    manual_backup: bool = False
    """Accept `manual_backup` commands (start a manual backup event, or cancel it; signed
    control only)."""
    allow_grid_control: bool = False
    """The second opt-in, for commands that can take the house off the grid or stop its
    batteries."""
    transport: CommandTransport = "auto"
    """How commands reach the gateway: `v1r` (signed local control, needs a paired key: `pw2mqtt
    pair`), `rest` (the documented REST calls), or `auto`: signed control when the gateway says
    the key is verified, else REST."""
    min_interval: float = Field(10.0, ge=0)
    """Seconds between two writes of one kind to a gateway; a burst collapses to the newest."""
    confirm_timeout: float = Field(60.0, gt=0, le=600)
    """Seconds to wait for the gateway to show a change before answering with an error."""
    recheck_refused: float = Field(6 * 3600.0, ge=60)
    """Seconds before a kind the gateway refused (403/404/405) is tried again."""
    dispatch_workaround: bool = True
    """When a signed write is stored but the gateway does not apply it (seen on 26.10), schedule
    a 60 s manual backup event and cancel it, which makes the gateway apply it; only used when
    reading back shows it is needed."""

    @model_validator(mode="after")
    def _grid_control_opt_in(self) -> CommandSettings:
        needs = [kind for kind in GRID_CONTROL_KINDS if getattr(self, kind)]
        if needs and not self.allow_grid_control:
            raise ValueError(
                f"{' and '.join(needs)} can take the house off the grid or stop its batteries: "
                "set commands.allow_grid_control: true as well to enable them"
            )
        return self

    @property
    def enabled(self) -> frozenset[str]:
        return frozenset(kind for kind in COMMAND_KINDS if getattr(self, kind))

    def overridden_by(self, own: GatewayCommandSettings) -> CommandSettings:
        """These defaults with a gateway's own settings on top, checked as one block."""
        return CommandSettings.model_validate(
            {**self.model_dump(), **own.model_dump(exclude_none=True)}
        )


class ClusterSettings(_Section):
    """Several instances sharing one fleet of gateways through PostgreSQL (docs/cluster.md)."""

    dsn: SecretStr | None = None
    """PostgreSQL connection string (`postgresql://user:password@host/db`); unset: one instance
    that needs no database."""
    instance_id: Annotated[str | None, AfterValidator(_check_slug)] = None
    """This instance's name in the fleet, unique among running instances; default
    `<hostname>-<pid>`."""
    lease_seconds: float = Field(15.0, ge=2, le=600)
    """How long a gateway stays owned without a renewal; another instance takes it over within
    about 4/3 of this after its owner dies."""
    on_database_down: Literal["stop", "standalone"] = "stop"
    """When PostgreSQL cannot be reached at start: `stop` with an error, or `standalone`: own
    every gateway as a single instance would (only safe when no other instance runs)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    gateways: list[GatewaySettings] = Field(default_factory=list)
    mqtt: MqttSettings = MqttSettings()
    homeassistant: HomeAssistantSettings = HomeAssistantSettings()
    commands: CommandSettings = CommandSettings()
    cluster: ClusterSettings = ClusterSettings()
    state_dir: Path = Field(default_factory=default_state_dir)
    """Where TLS pins and login sessions are kept (one sub-directory per gateway)."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @property
    def mqtt_client_id(self) -> str:
        """`mqtt.client_id`, else one derived from what tells this bridge apart from others."""
        if self.mqtt.client_id:
            return self.mqtt.client_id
        names = sorted(gateway.name or gateway.address.key for gateway in self.gateways)
        seed = "\n".join([self.mqtt.base_topic, *names]).encode()
        return "pw2mqtt" + hashlib.sha256(seed).hexdigest()[:12]

    @field_validator("gateways", mode="before")
    @classmethod
    def _list_from_indexed(cls, value: Any) -> Any:
        if isinstance(value, dict) and value and all(str(key).isdigit() for key in value):
            return [value[key] for key in sorted(value, key=int)]
        return value

    @field_validator("gateways")
    @classmethod
    def _distinct_gateways(cls, value: list[GatewaySettings]) -> list[GatewaySettings]:
        """Two entries for one gateway mean two sessions on it; two with one name publish over
        each other."""
        for kind, keys in (
            ("host", [gateway.address.key for gateway in value]),
            ("name", [gateway.name for gateway in value]),
        ):
            for later, key in enumerate(keys):
                if key is not None and keys.index(key) < later:
                    raise ValueError(
                        f"gateways {keys.index(key)} and {later} have the same {kind}; "
                        "list each gateway once, each with its own name"
                    )
        return value

    @model_validator(mode="after")
    def _gateway_commands(self) -> Settings:
        for index, gateway in enumerate(self.gateways):
            try:
                self.commands_for(gateway)
            except ValidationError as err:
                problems = "; ".join(
                    str(e["msg"]).removeprefix("Value error, ") for e in err.errors()
                )
                raise ValueError(f"gateways {index} commands: {problems}") from None
        return self

    def commands_for(self, gateway: GatewaySettings) -> CommandSettings:
        """The command settings in force for one gateway."""
        return self.commands.overridden_by(gateway.commands)

    @field_validator("state_dir")
    @classmethod
    def _state_dir(cls, value: Path) -> Path:
        if value.exists() and not value.is_dir():
            raise ValueError(f"not a directory: {value}")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            _EnvWithoutFileVariables(settings_cls),
            _FileSecretsSource(settings_cls),
            _IndexedYamlSource(settings_cls),  # reads model_config["yaml_file"], if set
        )


class _FileSecretsSource(PydanticBaseSettingsSource):
    """`PW2MQTT_A__B_FILE=/run/secrets/x` sets `a.b` to the file's content (Docker secrets)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key, path in os.environ.items():
            if not key.startswith(ENV_PREFIX) or not key.endswith("_FILE"):
                continue
            parts = key[len(ENV_PREFIX) : -len("_FILE")].lower().split("__")
            if parts[-1] not in SECRET_KEYS:
                continue
            try:
                content = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as err:
                raise ConfigError([f"{key}: cannot read {path}: {err.strerror}"]) from err
            _set_path(values, parts, content)
        return values


def _set_path(target: dict[str, Any], parts: list[str], value: str) -> None:
    node = target
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


class _EnvWithoutFileVariables(EnvSettingsSource):
    """`PW2MQTT_…` variables, less the `…_FILE` ones `_FileSecretsSource` reads."""

    def __call__(self) -> dict[str, Any]:
        return _without_file_keys(super().__call__())


def _without_file_keys(data: dict[str, Any]) -> dict[str, Any]:
    file_keys = {f"{key}_file" for key in SECRET_KEYS}
    return {
        key: _without_file_keys(value) if isinstance(value, dict) else value
        for key, value in data.items()
        if key not in file_keys
    }


class _IndexedYamlSource(YamlConfigSettingsSource):
    """The YAML file, with the gateway list keyed by index.

    Environment variables address list items as `GATEWAYS__0__…`, which arrive keyed by index;
    keying the file's list the same way lets the two merge item by item instead of one list
    replacing the other.
    """

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        try:
            text = Path(file_path).read_bytes().decode("utf-8")
        except UnicodeDecodeError as err:
            raise ConfigError([f"{file_path}: not UTF-8 text (byte {err.start})"]) from None
        except OSError as err:
            raise ConfigError([f"{file_path}: cannot read it: {err.strerror}"]) from None
        stream = io.StringIO(text)
        stream.name = str(file_path)  # named in YAML's error messages
        data = yaml.load(stream, Loader=_UniqueKeyLoader) or {}  # noqa: S506 - a SafeLoader
        if not isinstance(data, dict):
            raise ConfigError(
                [f"{file_path}: the file must map settings to values, not be a {_kind(data)}"]
            )
        return data

    def __call__(self) -> dict[str, Any]:
        data = super().__call__()
        if isinstance(data.get("gateways"), list):
            data["gateways"] = {str(i): item for i, item in enumerate(data["gateways"])}
        return data


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML that refuses a key given twice in one mapping (plain YAML keeps the last one)."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if isinstance(key, str | int | float | bool) and key in seen:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping",
                node.start_mark,
                f"the key {key!r} is given twice",
                key_node.start_mark,
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


def _kind(data: object) -> str:
    return "list" if isinstance(data, list) else type(data).__name__


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Load and validate; raise `ConfigError` with one line per problem."""
    if config_file is not None and not config_file.is_file():
        raise ConfigError([f"config file not found: {config_file}"])
    settings_cls: type[Settings] = Settings
    if config_file is not None:
        config = SettingsConfigDict(**{**Settings.model_config, "yaml_file": config_file})
        settings_cls = cast(
            "type[Settings]", type("Settings", (Settings,), {"model_config": config})
        )
    try:
        return settings_cls(**overrides)
    except ValidationError as err:
        raise ConfigError(validation_problems(err)) from None
    except yaml.YAMLError as err:
        raise ConfigError([f"{config_file}: not valid YAML: {_one_line(str(err))}"]) from None
    except SettingsError as err:
        raise ConfigError([_settings_error(err)]) from None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _settings_error(err: SettingsError) -> str:
    """`PW2MQTT_MQTT: not valid JSON` from pydantic-settings' message about a variable."""
    match = re.search(r'field "([^"]+)"', str(err))
    if match is None:
        return _one_line(str(err))
    variable = ENV_PREFIX + match.group(1).upper()
    return f"{variable}: not valid JSON ({_one_line(str(err.__cause__ or err))})"


def validation_problems(err: ValidationError) -> list[str]:
    """One line per problem: `gateways.0.host: not a TCP port: 'x'`."""
    problems = []
    for error in err.errors():
        location = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown setting"
        problems.append(f"{location}: {message}")
    return problems
