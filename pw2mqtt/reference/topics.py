"""Generates docs/topics.md, the topic and entity reference, from the catalogue and `Topics`.

python -m pw2mqtt.reference.topics > docs/topics.md
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from pw2mqtt.entities.catalogue import (
    COMMAND_ENTITIES,
    ENTITIES,
    HEALTH_ENTITIES,
    LAST_ERROR,
    Entity,
    powerwall_entities,
)
from pw2mqtt.entities.devices import ALERT_ENTITIES
from pw2mqtt.gateway.rest.models import READ_ENDPOINTS
from pw2mqtt.gateway.signed_config import SIGNED_CONFIG
from pw2mqtt.mqtt.discovery import ENTITY_ID_PREFIX, DeviceInfo, device_id
from pw2mqtt.mqtt.topics import Topics

REGENERATE = "python -m pw2mqtt.reference.topics > docs/topics.md"
GW = "<gw>"
N = "<n>"
_SENTINEL = 9000  # a Powerwall number no real text contains; replaced by <n>

_TOPICS = Topics()
_ENDPOINT_PATHS = {endpoint.name: path for path, endpoint in READ_ENDPOINTS.items()}
_ENDPOINT_PATHS[SIGNED_CONFIG] = "/tedapi/v1r"  # config.json, read with a paired key


@dataclass(frozen=True, slots=True)
class _Topic:
    topic: str
    retained: str
    qos: int
    payload: str


def _bridge_topics() -> tuple[_Topic, ...]:
    t = _TOPICS
    per_setting = "yes¹"
    return (
        _Topic(
            t.bridge_state, "yes", 1,
            "`online` / `offline`. The bridge's last will is `offline`; `online` is sent on every "
            "connection to the broker and again after Home Assistant starts. In a fleet "
            "(`cluster.dsn`), each instance has its own state, info and health topics instead: "
            "`<base>/bridge/instance/<instance_id>/state`, `…/info`, `…/health` (docs/cluster.md).",
        ),
        _Topic(
            t.bridge_info, "yes", 1,
            "JSON: `version`; `gateways`, one object per gateway (`gateway` slug, `host`, `din`, "
            "`firmware`, `available`, `unsupported_endpoints`, `entities`); `config`, the "
            "settings in use, secrets shown as `**********`. Sent on connecting and whenever a "
            "gateway's entities or device details change.",
        ),
        _Topic(
            t.bridge_logging, "no", 0,
            'JSON `{"level": …, "message": …, "namespace": …}`: warnings and errors. The state '
            "directory is written `<state_dir>`: nothing of the host's file system is published.",
        ),
        _Topic(
            t.bridge_event, "no", 1,
            'JSON `{"type": …, "data": {…}}`. Types: `gateway_online`, `gateway_offline` '
            "(`data`: `gateway`, and `reason` when going offline), `grid_status_changed` "
            "(`data`: `gateway`, `from`, `to`, as in the `grid_status` topic).",
        ),
        _Topic(
            t.bridge_health, "yes", 1,
            "JSON: `version`; `ts`; `mqtt_connected`; `process` (`pid`, `uptime_s`, `rss_bytes`, "
            "`cpu_s`: user and system CPU seconds); `gateways`, one object per gateway: "
            "`gateway`, `host`, `available`, `last_poll_ok` (ISO 8601, UTC, or `null`), "
            "`failures_in_a_row`, `last_error` (in words, `null` while it answers), "
            "`poll_latency_ms` (`last` and `average` of the reads of power flows, charge and "
            "grid status), `requests_per_hour` and `logins_per_hour` (sent in the last hour), "
            "`commands` (`accepted`: applied or unchanged; `refused`: refused, failed or "
            "rejected). Sent every 60 s, and within 5 s when a gateway goes "
            "offline or back, its error or a command count changes; not on counters ticking.",
        ),
        _Topic(
            t.gateway_get(GW), "no", 1,
            "Any payload reads the gateway now (power flows, charge, grid status, mode, reserve, "
            'batteries) and publishes every value read. JSON naming fields (`["battery_level"]` '
            'or `{"fields": […], "transaction": …}`) also reads their endpoints and puts their '
            "values in the answer. At most one such read per gateway every 5 s: "
            "a `get` while one is under way joins it (`coalesced: true`), a `get` after it "
            "within that time is answered `rate-limited` with `retry_after` seconds. Retained "
            "messages are never acted on.",
        ),
        _Topic(
            t.response("gateway/get"), "no", 1,
            'The answer to each `get`: `{"status": "ok", "data": {"gateway", "coalesced", '
            '"read": [endpoints], "values": {…}}, "transaction": …}` or `{"status": "error", '
            '"data": {…}, "error": "…"}`; also on an MQTT 5 request\'s response topic.',
        ),
        _Topic(
            t.availability(GW), "yes", 1,
            "`online` / `offline`: whether the gateway answers. It goes `offline` only after "
            "`poll.offline_after` polls in a row (3) in which power flows, charge and grid status "
            "all failed or the gateway could not be reached; one failed request changes nothing. "
            "A gateway whose sitemaster is stopped answers, so it stays `online`.",
        ),
        _Topic(
            t.source_availability(GW, "<endpoint>"), "yes", 1,
            "`online` / `offline` for each gateway endpoint that announced values are read from: "
            f"{_source_names()}. `offline` while the endpoint fails and its last good value is "
            "older than a few of its poll intervals, and at once for the values a stopped "
            "sitemaster cannot give; the other values carry on.",
        ),
        _Topic(
            t.state(GW), per_setting, 0,
            "JSON: every field announced for this gateway by its key, `null` while unknown (a "
            'lifetime counter holds its last published value), and `"ts"`, the time of the '
            "poll (ISO 8601, UTC). Sent after every poll that changed a field.",
        ),
        _Topic(
            t.field(GW, "<key>"), per_setting, 0,
            "One plain value; see the entity tables below.",
        ),
        _Topic(
            t.discovery(device_id(DeviceInfo(GW, None, "", None, None, None))), "yes", 1,
            "Home Assistant device discovery for this gateway (unless `homeassistant.enabled` "
            "is false); an empty message removes the device.",
        ),
    )  # fmt: skip


_INTRO = f"""\
# MQTT topics and Home Assistant entities

<!-- Generated from pw2mqtt/entities/catalogue.py and pw2mqtt/mqtt/topics.py by
     `{REGENERATE}`. Do not edit by hand. -->

pw2mqtt polls each configured Powerwall gateway and publishes what it reads under one topic
per value, plus a JSON snapshot of them all, so Home Assistant, Node-RED or `mosquitto_sub` can
use whichever suits them. This page lists every topic and every entity.

In the topics below:

- `{_TOPICS.base}` is the base topic, `mqtt.base_topic` in the settings.
- `{GW}` is the gateway's slug. By default it is the serial part of the gateway's DIN, in lower
  case: DIN `1232100-00-E--TG123456789ABC` gives `tg123456789abc`. Set `name` on the gateway in
  the settings to choose your own (lower-case letters, digits, `_` and `-`). A gateway that
  reports no DIN (a Powerwall 3) needs a `name`: its address may change, and with it anything
  derived from it. Until it has one it stays offline, and the log, `pw2mqtt check` and a
  `gateway_offline` event say so. Every gateway has its own level, even when there is only one.
- `{_TOPICS.discovery_prefix}` is Home Assistant's discovery prefix,
  `homeassistant.discovery_prefix` in the settings.

## Payloads

- Numbers are bare decimals with a `.`, without a unit or an exponent: `1234.5`, never
  `1234.5 W`. They are rounded to the decimals Home Assistant is told to show, halves away from
  zero (`2.5` → `3`, `-2.5` → `-3`).
- Booleans are `true` and `false`; enumerations are lower-case words such as
  `self_consumption`.
- A value pw2mqtt cannot read yet is not published on its own topic, and is `null` in the JSON
  snapshot. An entity is only announced to Home Assistant once the gateway has given a value
  for it, so a gateway that lacks a meter never shows its entities.
- A value is sent again when it changes by more than a small step of its own (5 W for powers,
  for example), and at least every `mqtt.heartbeat` seconds (60 by default) when it does not.

## Conventions

- **Signs.** Battery power is positive while the battery discharges and negative while it
  charges. Grid power is positive while the site imports from the grid and negative while it
  exports. Solar and load power are positive; solar power is never negative (an inverter's
  standby draw at night is published as 0). The `…_import_power`, `…_export_power`,
  `…_charge_power` and `…_discharge_power` fields split them into values that are never
  negative (disabled in Home Assistant by default).
- **Battery %.** The gateway keeps a hidden 5 % at the bottom of the battery. `battery_level`
  and `backup_reserve` are the percentages the Tesla app shows, (raw - 5) / 0.95 clipped to
  0-100; `battery_level_raw` and `backup_reserve_raw` are what the gateway reports.
- **Lifetime counters** (`…_energy_imported`, `…_energy_exported`, in kWh) never decrease and
  are never published as 0: a reading lower than the last one published, or a 0 from a meter
  that is not there, is dropped. They suit Home Assistant's Energy dashboard as they are.

## Bridge and gateway topics

Commands are described under [Commands](#commands) below.

"""

_DETAIL = f"""## Per-device detail and alerts

Every `poll.detail` seconds (30 by default; 0 turns it off) pw2mqtt reads the devices behind the
gateway: `/api/devices/vitals` on firmware before 23.44, else `/api/solar_powerwall` where a
Powerwall+ answers it. Each device gets its own topic level,
`{_TOPICS.field(GW, "devices/<device>/<field>")}`, and its own Home Assistant device
(`{_TOPICS.discovery("pw2mqtt_" + GW + "_<device>")}`), linked to the gateway's. `<device>` is
the device kind and its number in the gateway's list: `tepinv_1`, `tepod_1` (Powerwall inverter
and battery), `tethc_1` (thermal controller), `pvac_1` (solar inverter, with
`string_<x>_voltage`, `_current` and `_power`), `tesync_1` (synchronizer), `neurio_1` (meter).
Only the values a device reports are announced; a gateway with neither source publishes no
detail.

`{_TOPICS.field(GW, "alerts")}` (retained) holds `{{"alerts": [{{"device": …, "name": …,
"severity": "fault" | "warning" | "alert" | "info"}}]}}`; a new or cleared alert is also an
`alert_raised` / `alert_cleared` event on `{_TOPICS.bridge_event}`. The gateway device has:

"""

_COMMANDS = f"""## Commands

Commands change a house's power supply, so each kind is off until enabled in the settings
(`commands.operation_mode`, `commands.backup_reserve`, `commands.grid_charging`,
`commands.export_rule`, `commands.manual_backup`; `commands.off_grid` and
`commands.sitemaster` also need `commands.allow_grid_control: true`), globally or per gateway
(`gateways[].commands`, key by key over the global block). A disabled kind is answered with an
error and never reaches the gateway.

How a command reaches the gateway (`commands.transport`): `auto` (the default) uses signed local
control (TEDAPI v1r, a key paired with `pw2mqtt pair`) when the gateway says the key is
verified, else the documented REST calls; `v1r` uses only signed control and refuses, naming
the key's state (pending, unknown), when it cannot (never falling back to REST logins that could
lock the account out); `rest` uses only REST. Over signed control, mode, reserve, grid charging
and the export rule are written through the gateway's config.json (read, change only those
keys, write with the read's hash, once more if the file changed meanwhile) and read back; the
answer's `data.transport` is `v1r`. The reserve may go up to 100 %. When the gateway stores such
a write without applying it (seen on 26.10 firmware), pw2mqtt schedules a 60 s manual backup
event and cancels it, which makes the gateway apply it, and says so in `data.workaround`
(`commands.dispatch_workaround: false` turns this off). `sitemaster` always goes over REST, and
`off_grid` too unless the transport is `v1r`. Off-grid over signed control is **experimental**
(the island message is known from public protocol definitions, not shown publicly to work on a
real gateway; an error the gateway answers is reported as it is), and going off-grid needs
`{{"off_grid": true, "confirm": true}}` on `{_TOPICS.gateway_set(GW)}`, or the same command twice
within 30 s, so one stray or replayed `true` never islands a house. A REST 403 on mode or
reserve without a verified key ends with "pair a key: pw2mqtt pair".

| Topic | Payload |
|---|---|
| `{_TOPICS.field_set(GW, "operation_mode")}` | `self_consumption`, `autonomous` or `backup` (the app's `self_powered` and `time_based_control` too; any case) |
| `{_TOPICS.field_set(GW, "backup_reserve")}` | app %, 0 to 100 (`20`, `12.5`) |
| `{_TOPICS.field_set(GW, "backup_reserve_raw")}` | raw %, 5 to 100 |
| (any of these) | ASCII only: digits `0`-`9`, `.`, a leading `+`/`-` and spaces or tabs around the value; Arabic-Indic, full-width or other digits, look-alike letters and other spaces are refused |
| `{_TOPICS.field_set(GW, "off_grid")}` | `true`/`false` or `ON`/`OFF` |
| `{_TOPICS.field_set(GW, "sitemaster")}` | `run` or `stop` |
| `{_TOPICS.field_set(GW, "grid_charging")}` | `true`/`false` or `ON`/`OFF` (signed control only) |
| `{_TOPICS.field_set(GW, "export_rule")}` | `battery_ok`, `pv_only` or `never` (signed control only) |
| `{_TOPICS.field_set(GW, "manual_backup")}` | `start` (an hour), seconds from 60 to 604800, `{{"duration": seconds}}`, or `cancel`: a manual backup event charges the batteries and holds them full; a running one is cancelled first (signed control only) |
| `{_TOPICS.gateway_set(GW)}` | JSON, one change: `{{"operation_mode": "backup", "backup_reserve": 20, "transaction": "t1"}}` |
| `{_TOPICS.request("gateway/set")}` | the same JSON with `"gateway": "<gw>"` |

Every command gets one answer, not retained, on `{_TOPICS.response("gateway/set")}` (for
requests, `{_TOPICS.response("<command>")}`):
`{{"status": "ok", "data": {{…}}, "transaction": …}}` or
`{{"status": "error", "data": {{}}, "error": "…", "transaction": …}}`. Under MQTT 5 a request's
response topic and correlation data are honoured as well.

- `ok` means the gateway shows the new state: pw2mqtt reads it back until it matches (or
  answers an error after `commands.confirm_timeout` seconds); the new state then reaches the
  state topics through the normal poll. `data.unchanged` is `true` when nothing needed to change.
- Never executed: retained command messages (always ignored, and cleared with an empty retained
  message on that topic so the broker stops handing them out; under MQTT 5 even when published
  while the bridge is connected), commands while the gateway is unavailable or paused (not
  queued for later), a command superseded by a newer one of the same kind while it waited.
- One command runs at a time per gateway, at most one write of a kind every
  `commands.min_interval` seconds; a burst collapses to its newest value.
- A kind the gateway refuses (403: "not permitted for the customer role on firmware …", 404:
  "not supported on this gateway", 405) is refused by pw2mqtt too, for
  `commands.recheck_refused` seconds, also across restarts (kept in the gateway's state
  directory, for the same role and firmware), and `{_TOPICS.command_availability(GW, "<kind>")}`
  says `offline` meanwhile. Kinds written by the same gateway call are refused together:
  `operation_mode` and `backup_reserve` (`/api/operation`). Home Assistant's control stays
  available and shows the gateway's real value.
- While any kind is enabled, `{_TOPICS.field(GW, "last_command")}` says in one line what the
  last command to the gateway asked and what became of it, e.g. `backup_reserve 30: refused, not
  permitted for the customer role on firmware 21.44 (403)`, and
  `{_TOPICS.field(GW, "last_command_details")}` (retained) holds `{{"status": "applied" |
  "unchanged" | "refused" | "failed" | "rejected", "change": {{…}}, "reason": …, "at": …,
  "transaction": …}}`. In Home Assistant it is the *Last command* sensor (below).
- Accepted, applied, failed and rejected commands are reported on `{_TOPICS.bridge_event}`
  (`command_accepted`, `command_applied`, `command_failed`, `command_rejected`).

In Home Assistant an enabled kind turns its entity into a control: a select for the mode, a
number (0-100, step 1) for the reserve, a switch for off-grid and two buttons for the
sitemaster (the last three under configuration, disabled until you enable them), and two
buttons for the manual backup event (start for an hour, cancel; under configuration). The entity
that reports on commands:

"""

_HOME_ASSISTANT = f"""\
## Home Assistant

Each gateway is one device, announced on
`{_TOPICS.discovery("pw2mqtt_" + GW)}`. Its entities:

- have the unique id `pw2mqtt_{GW}_<key>`, and the entity id
  `<platform>.{ENTITY_ID_PREFIX}_{GW}_<key>` when first added, e.g.
  `sensor.{ENTITY_ID_PREFIX}_tg123456789abc_grid_power` (a `-` in the slug becomes `_`);
  changing the gateway's `name` makes them new entities;
- are available only while `{_TOPICS.bridge_state}`, `{_TOPICS.availability(GW)}` and, for
  an entity with a state, the endpoint it is read from
  (`{_TOPICS.source_availability(GW, "<endpoint>")}`) say `online`; so a failing endpoint greys
  out its own entities only, and the sitemaster buttons stay usable while a stopped sitemaster
  blanks the power values;
- read their plain value topic, `{_TOPICS.field(GW, "<key>")}`.

The entities also get `object_id` (`homeassistant.legacy_object_id`, on by default): Home
Assistant before 2025.10 ignores `default_entity_id` and would otherwise name them after the site
(`sensor.home_energy_gateway_…`); later releases use `default_entity_id` and accept the extra
field without a warning. pw2mqtt listens on `{_TOPICS.homeassistant_status}` and announces
everything again when Home Assistant comes online; nothing else needs Home Assistant.

"""


def render() -> str:
    parts = [_INTRO, _topic_table(_bridge_topics())]
    parts.append("\n¹ Retained unless the setting `mqtt.retain` is false.\n\n")
    parts.append(_HOME_ASSISTANT)
    parts.append(_COMMANDS)
    parts.append(_entity_table(COMMAND_ENTITIES))
    parts.append("\n")
    parts.append(_DETAIL)
    parts.append(_entity_table(ALERT_ENTITIES))
    parts.append("\n")
    parts.append("## Entities of a gateway\n\n")
    parts.append(_entity_table((*ENTITIES, LAST_ERROR, *HEALTH_ENTITIES)))
    parts.append(
        f"\n## Entities of each Powerwall\n\nOne set per Powerwall the gateway reports, "
        f"numbered from 1 in the order of `/api/system_status`'s `battery_blocks`; `{N}` is "
        "that number.\n\n"
    )
    parts.append(
        _entity_table(powerwall_entities(_SENTINEL - 1), code=_numbered, prose=_numbered_prose)
    )
    return "".join(parts)


def _source_names() -> str:
    """Each endpoint name an entity reads, with its path: `aggregates` (`/api/meters/...`)."""
    sources = dict.fromkeys(e.source for e in (*ENTITIES, *ALERT_ENTITIES) if e.from_endpoint)
    sources["solar_powerwall"] = None  # the part devices' sources
    return ", ".join(
        f"`{name}` (`{_ENDPOINT_PATHS.get(name, '/api/devices/vitals')}`)" for name in sources
    )


def _topic_table(rows: Iterable[_Topic]) -> str:
    lines = ["| Topic | Retained | QoS | Payload |", "|---|---|---|---|"]
    lines += [
        f"| `{row.topic}` | {row.retained} | {row.qos} | {_cell(row.payload)} |" for row in rows
    ]
    return "\n".join(lines) + "\n"


def _entity_table(
    entities: Sequence[Entity],
    code: Callable[[str], str] = str,
    prose: Callable[[str], str] = str,
) -> str:
    lines = [
        "| Topic | Meaning | Unit | Home Assistant | Category | Enabled | Source |",
        "|---|---|---|---|---|---|---|",
    ]
    for entity in entities:
        meaning = prose(f"**{entity.name}**. {entity.description}")
        if entity.options:
            meaning += " Values: " + ", ".join(f"`{option}`" for option in entity.options) + "."
        if entity.monotonic:
            meaning += " Lifetime counter."
        home_assistant = " · ".join(
            f"`{part}`"
            for part in (entity.platform, entity.device_class, entity.state_class)
            if part
        )
        cells = (
            f"`{code(_TOPICS.field(GW, entity.key))}`",
            meaning,
            entity.unit or "",
            home_assistant,
            entity.category or "",
            "yes" if entity.enabled_by_default else "no",
            f"`{_ENDPOINT_PATHS.get(entity.source, entity.source)}`",
        )
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def _numbered(text: str) -> str:
    """Text about Powerwall `_SENTINEL`, with its number shown as `<n>`."""
    return text.replace(str(_SENTINEL), N)


def _numbered_prose(text: str) -> str:
    # Outside code spans Markdown would take <n> for an HTML tag.
    return text.replace(str(_SENTINEL), N.replace("<", "\\<").replace(">", "\\>"))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
