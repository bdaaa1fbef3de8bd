"""`<base>/<gw>/get`: read a gateway now, and publish what was read.

A loop of `get`s must not hammer a gateway: a `get` while a forced read is under way joins it,
and at most one forced read per gateway starts per `spacing` seconds; a `get` beyond that is
answered at once with how long to wait. Every `get` is answered on
`<base>/bridge/response/gateway/get` (and on its MQTT 5 response topic, when it names one).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from pw2mqtt.bridge.gateway import BridgedGateway
from pw2mqtt.bridge.reasons import reason_text
from pw2mqtt.commands.parse import Transaction, transaction_of
from pw2mqtt.entities.catalogue import format_value
from pw2mqtt.errors import GatewayError
from pw2mqtt.gateway.poller import GatewayUpdate
from pw2mqtt.mqtt.connection import Incoming, MqttConnection, MqttUnavailableError, Outgoing
from pw2mqtt.mqtt.topics import Topics

_LOGGER = logging.getLogger(__name__)

GET_RESPONSE = "gateway/get"
GET_SPACING = 5.0  # seconds between forced reads of one gateway
READ_TIMEOUT = 60.0

Spawn = Callable[[Coroutine[Any, Any, None]], object]


class GetError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class _Asker:
    fields: tuple[str, ...]
    transaction: Transaction
    response_topic: str | None
    correlation: bytes | None


@dataclass(slots=True)
class _Read:
    """One forced read and whoever waits for it."""

    askers: list[_Asker] = field(default_factory=list)
    done: bool = False


class Refresher:
    def __init__(
        self,
        topics: Topics,
        connection: MqttConnection,
        gateways: Callable[[], Mapping[str, BridgedGateway]],
        spawn: Spawn,
        on_read: Callable[[BridgedGateway], None],
        *,
        spacing: float = GET_SPACING,
    ) -> None:
        self._topics = topics
        self._connection = connection
        self._gateways = gateways
        self._spawn = spawn
        self._on_read = on_read
        self._spacing = spacing
        self._reads: dict[str, _Read] = {}
        self._started: dict[str, float] = {}

    def gateway_of(self, topic: str) -> str | None:
        """The gateway a `get` topic names, or None for any other topic."""
        return self._topics.gateway_of(topic, "get")

    async def handle(self, slug: str, message: Incoming) -> None:
        transaction = transaction_of(message.payload)
        asker = _Asker((), transaction, message.response_topic, message.correlation_data)
        try:
            if message.retain:
                raise GetError("ignored: a retained get is never acted on (publish it unretained)")
            gateway = self._gateway(slug)
            asker = _Asker(
                _fields(message.payload, gateway),
                transaction,
                message.response_topic,
                message.correlation_data,
            )
        except GetError as err:
            _LOGGER.warning("%s: %s", message.topic, err)
            await self._answer(asker, {"status": "error", "data": {}, "error": str(err)})
            return
        await self._ask(gateway, slug, asker)

    async def _ask(self, gateway: BridgedGateway, slug: str, asker: _Asker) -> None:
        current = self._reads.get(slug)
        if current is not None and not current.done:
            current.askers.append(asker)  # answered, coalesced, when that read is over
            return
        paused = gateway.client.paused_for
        if paused > 0:  # asking now would only count as one more failed poll
            error = f"the gateway is paused for {paused:.0f} s more; not read"
            body = {"status": "error", "data": {"gateway": slug}, "error": error}
            await self._answer(asker, body)
            return
        wait = self._started.get(slug, -self._spacing) + self._spacing - time.monotonic()
        if wait > 0:
            error = f"rate-limited: at most one forced read per {self._spacing:g} s"
            data = {"gateway": slug, "rate_limited": True, "retry_after": round(wait, 1)}
            data["values"] = _values(gateway, asker.fields)
            await self._answer(asker, {"status": "error", "data": data, "error": error})
            return
        self._started[slug] = time.monotonic()
        read = self._reads[slug] = _Read([asker])
        self._spawn(self._read(gateway, slug, read))

    async def _read(self, gateway: BridgedGateway, slug: str, read: _Read) -> None:
        sources = {e.source for e in (gateway.announced or {}).values() if e.key in _all(read)}
        tiers = gateway.poller.tiers_for(sources)
        try:
            async with asyncio.timeout(READ_TIMEOUT):
                update = await gateway.poller.read_now(tiers=tiers)
        except TimeoutError:
            update = GatewayUpdate(None, GatewayError("the read took too long"), answered=False)
        except GatewayError as err:
            update = GatewayUpdate(None, err, answered=False)
        read.done = True
        if update.error is None and update.answered:
            self._on_read(gateway)
        for index, asker in enumerate(read.askers):
            await self._answer(asker, _outcome(gateway, slug, update, asker, coalesced=index > 0))

    def _gateway(self, slug: str) -> BridgedGateway:
        gateways = self._gateways()
        gateway = gateways.get(slug)
        if gateway is None:
            known = ", ".join(sorted(gateways)) or "none yet"
            raise GetError(f"unknown gateway {slug!r} (known: {known})")
        return gateway

    async def _answer(self, asker: _Asker, body: dict[str, Any]) -> None:
        if asker.transaction is not None:
            body["transaction"] = asker.transaction
        text = json.dumps(body)
        messages: list[Awaitable[None]] = [
            self._connection.publish(
                Outgoing(self._topics.response(GET_RESPONSE), text, retain=False, qos=1)
            )
        ]
        if asker.response_topic:
            messages.append(
                self._connection.publish_response(asker.response_topic, text, asker.correlation)
            )
        for publishing in messages:
            try:
                await publishing
            except (MqttUnavailableError, ValueError) as err:
                _LOGGER.warning("could not answer a get: %s", err)


def _outcome(
    gateway: BridgedGateway, slug: str, update: GatewayUpdate, asker: _Asker, *, coalesced: bool
) -> dict[str, Any]:
    data: dict[str, Any] = {"gateway": slug, "coalesced": coalesced}
    failure = update.error or (None if update.answered else gateway.poller.last_failure)
    if failure is not None or update.snapshot is None or not update.answered:
        error = reason_text(failure) if failure else "no answer"
        return {"status": "error", "data": data, "error": f"not read: {error}"}
    data["read"] = sorted(update.snapshot.fresh)
    data["values"] = _values(gateway, asker.fields)
    return {"status": "ok", "data": data}


def _values(gateway: BridgedGateway, fields: tuple[str, ...]) -> dict[str, str | None]:
    snapshot = gateway.poller.snapshot
    announced = gateway.announced or {}
    out: dict[str, str | None] = {}
    for key in fields:
        value = announced[key].value(snapshot) if snapshot is not None else None
        out[key] = None if value is None else format_value(value)
    return out


def _all(read: _Read) -> set[str]:
    return {key for asker in read.askers for key in asker.fields}


def _fields(payload: bytes, gateway: BridgedGateway) -> tuple[str, ...]:
    """The fields a JSON payload names (`["soc"]` or `{"fields": ["soc"]}`); none for any other
    payload, which reads every often-read value."""
    try:
        body = json.loads(payload)
    except (ValueError, RecursionError):
        return ()
    if isinstance(body, dict):
        body = body.get("fields", [])
    if not isinstance(body, list) or not all(isinstance(key, str) for key in body):
        raise GetError('name the fields as a JSON list of strings: {"fields": ["soc"]}')
    announced = gateway.announced or {}
    unknown = [key for key in body if key not in announced]
    if unknown:
        raise GetError(f"unknown field(s) {', '.join(unknown)} (see <base>/bridge/info)")
    return tuple(dict.fromkeys(body))
