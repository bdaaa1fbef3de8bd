"""Generates docs/configuration.md, the configuration reference, from the settings model.

python -m pw2mqtt.reference.configuration > docs/configuration.md

Each setting's description is the docstring written under its field in `pw2mqtt/config.py`
(read from the source with `ast`, so the model needs no extra configuration); types, defaults
and limits come from the pydantic fields themselves.
"""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from pw2mqtt.config import ENV_PREFIX, SECRET_KEYS, Settings

REGENERATE = "python -m pw2mqtt.reference.configuration > docs/configuration.md"


@dataclass(frozen=True, slots=True)
class Row:
    path: str  # `gateways[].tls.mode`
    env: str  # `PW2MQTT_GATEWAYS__0__TLS__MODE`
    kind: str
    default: str
    description: str


def field_docs(model: type[BaseModel]) -> dict[str, str]:
    """The docstrings written under the fields of `model` (and of its bases)."""
    docs: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or cls is BaseModel:
            continue
        try:
            source = textwrap.dedent(inspect.getsource(cls))
        except (OSError, TypeError):
            continue
        body = ast.parse(source).body[0]
        assert isinstance(body, ast.ClassDef)
        for statement, following in zip(body.body, body.body[1:], strict=False):
            if (
                isinstance(statement, ast.AnnAssign)
                and isinstance(statement.target, ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                docs[statement.target.id] = " ".join(following.value.value.split())
    return docs


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _list_item_model(annotation: Any) -> type[BaseModel] | None:
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        return _model_of(item)
    return None


_NAMES: dict[Any, str] = {
    str: "text",
    int: "integer",
    float: "number",
    bool: "`true` \\| `false`",
    SecretStr: "secret text",
    Path: "path",
}


def _kind(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        text = _kind(args[0])
    elif origin is Literal:
        text = " \\| ".join(f"`{value}`" for value in args)
    elif origin in (typing.Union, types.UnionType):
        parts = [arg for arg in args if arg is not type(None)]
        text = " \\| ".join(_kind(part) for part in parts)
        if len(parts) < len(args):
            text += " (optional)"
    else:
        text = _NAMES.get(annotation) or str(getattr(annotation, "__name__", annotation))
    return text


def _limits(field: FieldInfo) -> str:
    words = []
    for item in field.metadata:
        for attribute, symbol in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            value = getattr(item, attribute, None)
            if isinstance(item, annotated_types.BaseMetadata) and value is not None:
                words.append(f"{symbol} {value:g}")
    return f" ({', '.join(words)})" if words else ""


_STATE_DIR_DEFAULT = (
    "`$PW2MQTT_STATE_DIR`, else `$XDG_STATE_HOME/pw2mqtt`, else `~/.local/state/pw2mqtt`"
)


def _default(name: str, field: FieldInfo) -> str:
    if name == "state_dir":
        return _STATE_DIR_DEFAULT
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "**required**"
    else:
        value = field.default
    if value is None or value == []:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        return f"`{value:g}`"
    return f"`{value}`"


# Descriptions of settings whose field in pw2mqtt/config.py has no docstring yet. A docstring
# there wins; tests/reference/test_configuration.py requires every setting to have one or the other.
_MORE: dict[str, str] = {
    "log_level": "How much the bridge logs; `debug` logs the most.",
    "gateways[].role": "Log in as `customer` or `installer` (the installer login needs the "
    "physical toggle on most firmware).",
    "gateways[].tls.ca_file": "CA or certificate file to verify the gateway with (`tls.mode: ca`).",
    "mqtt.host": "The broker's host name or IP address.",
    "mqtt.port": "The broker's port.",
    "mqtt.username": "User name for the broker, if it asks for one.",
    "mqtt.password": "Password for the broker.",
    "mqtt.keepalive": "Seconds between MQTT keep-alive pings.",
    "mqtt.protocol": "MQTT protocol version. With `5`, requests' response topic and correlation "
    "data are honoured.",
    "mqtt.base_topic": "First level(s) of every topic: `<base_topic>/<gateway>/<field>`.",
    "mqtt.tls.enabled": "Connect to the broker over TLS.",
    "mqtt.tls.keyfile": "Private key of the client certificate.",
    "homeassistant.discovery_prefix": "Home Assistant's MQTT discovery prefix.",
}


def rows(model: type[BaseModel] = Settings, path: str = "", env: str = ENV_PREFIX) -> Iterator[Row]:
    """One row per setting of `model`, depth first, nested sections after their parent."""
    docs = field_docs(model)
    nested: list[tuple[str, type[BaseModel], str, str]] = []
    for name, field in model.model_fields.items():
        here, variable = f"{path}{name}", f"{env}{name.upper()}"
        sub = _model_of(field.annotation)
        item = _list_item_model(field.annotation)
        if sub is not None:
            nested.append((name, sub, f"{here}.", f"{variable}__"))
            continue
        if item is not None:
            nested.append((name, item, f"{here}[].", f"{variable}__0__"))
            continue
        description = docs.get(name) or _MORE.get(here, "")
        variables = f"`{variable}`"
        if name in SECRET_KEYS:
            variables += f", `{variable}_FILE`"
        yield Row(
            path=f"`{here}`",
            env=variables,
            kind=_kind(field.annotation) + _limits(field),
            default=_default(name, field),
            description=description,
        )
    for _, sub, sub_path, sub_env in nested:
        yield from rows(sub, sub_path, sub_env)


_INTRO = f"""# Configuration reference

<!-- Generated from pw2mqtt/config.py by
     `{REGENERATE}`. Do not edit by hand. -->

pw2mqtt reads its settings from, highest precedence first:

1. environment variables `PW2MQTT_…`, with `__` between levels and list items by index
   (`PW2MQTT_GATEWAYS__0__HOST`);
2. `PW2MQTT_…_FILE` variables naming a file that holds a `password`, `username` or `dsn`
   (Docker and systemd credentials: `PW2MQTT_GATEWAYS__0__PASSWORD_FILE=/run/secrets/powerwall`);
3. the YAML file given with `--config` ([an example](../config/pw2mqtt.example.yaml));
4. the defaults below.

An unknown or invalid setting stops pw2mqtt with one line per problem and exit status 2.
`gateways[].` is one entry of the `gateways:` list; in the environment, `0` is the first
gateway, `1` the second, and so on.
"""

_TABLE_HEAD = "\n| Setting | Type | Default | Environment | Meaning |\n|---|---|---|---|---|\n"
_SECTIONS = (
    ("General", ""),
    ("Gateways", "gateways[]."),
    ("MQTT", "mqtt."),
    ("Home Assistant", "homeassistant."),
    ("Commands", "commands."),
    ("Fleets across machines", "cluster."),
)
_SECTION_DOCS = {"Commands": "commands", "Fleets across machines": "cluster"}


def render() -> str:
    all_rows = list(rows())
    out = [_INTRO]
    for title, prefix in _SECTIONS:
        section = [
            row
            for row in all_rows
            if row.path.strip("`").startswith(prefix) and (prefix or "." not in row.path.strip("`"))
        ]
        out.append(f"\n## {title}\n")
        if title in _SECTION_DOCS:
            doc = inspect.getdoc(Settings.model_fields[_SECTION_DOCS[title]].annotation)
            if doc:
                out.append(f"\n{doc}\n")
        out.append(_TABLE_HEAD)
        out.extend(
            f"| {row.path} | {row.kind} | {row.default} | {row.env} | {row.description} |\n"
            for row in section
        )
    return "".join(out)


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
