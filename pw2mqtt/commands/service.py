"""From an MQTT message to a command carried out, and an answer for every one.

Routing, the safety gates that need no gateway (retained, not enabled, unknown gateway), the
response on `<base>/bridge/response/…` (and an MQTT 5 response topic when the request names
one), the events, the per-kind availability topics, and a `CommandResult` per command on a
known gateway for whoever shows it to the user (`on_result`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from pw2mqtt.commands.executor import CommandExecutor, RefusedError
from pw2mqtt.commands.parse import (
    SET_REQUEST,
    CommandRequest,
    Kind,
    Transaction,
    parse_field_set,
    parse_json_set,
    parse_request,
    transaction_of,
)
from pw2mqtt.commands.result import CommandResult, Status
from pw2mqtt.config import CommandSettings
from pw2mqtt.errors import CommandError
from pw2mqtt.mqtt.connection import Incoming, MqttConnection, MqttUnavailableError, Outgoing
from pw2mqtt.mqtt.topics import Topics

_LOGGER = logging.getLogger(__name__)

MAX_CLEARING = 1000
Spawn = Callable[[Coroutine[Any, Any, None]], object]
OnResult = Callable[[CommandResult], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class _Route:
    response: str  # the command name answered on <base>/bridge/response/<name>
    parse: Callable[[], CommandRequest]
    gateway: str | None = None  # when the topic names it


async def _ignore(result: CommandResult) -> None:
    del result


class CommandService:
    def __init__(
        self,
        topics: Topics,
        settings: CommandSettings,
        connection: MqttConnection,
        executors: Callable[[], Mapping[str, CommandExecutor]],
        spawn: Spawn,
        *,
        on_result: OnResult = _ignore,
        epoch_of: Callable[[str], int | None] = lambda _slug: 0,
        speaks: Callable[[], bool] = lambda: True,
    ) -> None:
        """`epoch_of(slug)`: the ownership epoch under which this instance commands a gateway,
        None while another member of a fleet owns it (its commands are that member's).
        `speaks()`: whether this instance answers what no owner answers (an unknown gateway,
        a message naming none); in a fleet, one member does, so nothing is answered twice."""
        self._topics = topics
        self._epoch_of = epoch_of
        self._speaks = speaks
        self._settings = settings
        self._connection = connection
        self._executors = executors
        self._spawn = spawn
        self._on_result = on_result
        self._clearing: set[str] = set()  # topics whose clearing message comes back to us

    @staticmethod
    def subscriptions_for(topics: Topics) -> list[tuple[str, int]]:
        return [(topic, 1) for topic in (*topics.set_filters, topics.request_filter)]

    async def handle(self, message: Incoming) -> None:
        """Answer at once when the message cannot run; otherwise run it in its own task."""
        route = self._route(message.topic, message.payload)
        if route is None or self._elsewhere(route.gateway):
            return
        if not message.payload and message.topic in self._clearing:
            self._clearing.discard(message.topic)
            return  # our own clearing of a retained command, handed back by the broker
        reply = _Reply(route.response, message.response_topic, message.correlation_data)
        if message.retain:
            await self._refuse_retained(route, message, reply)
            return
        request: CommandRequest | None = None
        try:
            request = route.parse()
            if not self._answers_for(request.gateway):
                return
            executor = self._check(request)
        except CommandError as err:
            if not self._answers_for(request.gateway if request else route.gateway):
                return
            transaction = err.transaction or transaction_of(message.payload)
            await self._answer_error(reply, str(err), transaction, message.topic)
            gateway = request.gateway if request else route.gateway
            change = request.change.describe() if request else {}
            if gateway is not None:
                await self._result(gateway, "rejected", change, str(err), transaction)
            return
        await self._event("command_accepted", request, {})
        self._spawn(self._execute(executor, request, reply, self._epoch_of(request.gateway)))

    async def _refuse_retained(self, route: _Route, message: Incoming, reply: _Reply) -> None:
        if not message.payload or not self._answers_for(self._named(route)):
            return  # a cleared retained command, or one another member answers
        _LOGGER.warning("ignored a retained command on %s; clearing it", message.topic)
        await self._clear_retained(message.topic)
        await self._answer_error(
            reply,
            "ignored: retained command messages are never executed "
            "(publish commands without the retain flag)",
            transaction_of(message.payload),
            message.topic,
        )

    async def announce_availability(self, slug: str) -> None:
        """Publish, retained, whether each enabled command kind may be sent to a gateway."""
        executor = self._executors().get(slug)
        settings = executor.settings if executor else self._settings
        messages = []
        for kind in sorted(settings.enabled):
            refused = executor.refusal(Kind(kind)) if executor else None
            state = "offline" if refused else "online"
            messages.append(Outgoing(self._topics.command_availability(slug, kind), state, True, 1))
        if messages:
            await self._connection.publish_many(messages)

    # -- routing -------------------------------------------------------------------------------

    def _elsewhere(self, slug: str | None) -> bool:
        """A gateway this instance knows but does not own now: another instance answers."""
        return slug is not None and slug in self._executors() and self._epoch_of(slug) is None

    def _answers_for(self, slug: str | None) -> bool:
        """The owner answers for its gateway; for an unknown one, or none, the speaker does."""
        if slug is not None and slug in self._executors():
            return self._epoch_of(slug) is not None
        return self._speaks()

    @staticmethod
    def _named(route: _Route) -> str | None:
        """The gateway a message names, from its topic or else its (valid) payload."""
        if route.gateway is not None:
            return route.gateway
        try:
            return route.parse().gateway
        except CommandError:
            return None

    def _route(self, topic: str, payload: bytes) -> _Route | None:
        base = self._topics.base + "/"
        if not topic.startswith(base):
            return None
        rest = topic[len(base) :].split("/")
        if rest[:2] == ["bridge", "request"] and len(rest) > 2:
            command = "/".join(rest[2:])
            return _Route(command, lambda: parse_request(command, payload, source=topic))
        if len(rest) == 2 and rest[1] == "set" and rest[0] != "bridge":
            gateway = rest[0]
            return _Route(
                SET_REQUEST,
                lambda: parse_json_set(payload, gateway=gateway, source=topic),
                gateway,
            )
        if len(rest) == 3 and rest[2] == "set" and rest[0] != "bridge":
            gateway, key = rest[0], rest[1]
            return _Route(
                SET_REQUEST, lambda: parse_field_set(gateway, key, payload, source=topic), gateway
            )
        return None

    def _check(self, request: CommandRequest) -> CommandExecutor:
        executors = self._executors()
        executor = executors.get(request.gateway)
        if executor is None:
            known = ", ".join(sorted(executors)) or "none yet"
            raise CommandError(
                f"unknown gateway {request.gateway!r} (known: {known})", request.transaction
            )
        disabled = sorted(
            kind for kind in request.change.kinds if kind not in executor.settings.enabled
        )
        if disabled:
            names = ", ".join(disabled)
            hint = (
                " and commands.allow_grid_control"
                if {"off_grid", "sitemaster"} & set(disabled)
                else ""
            )
            raise CommandError(
                f"{names} commands are not enabled (set commands.{disabled[0]}: true{hint})",
                request.transaction,
            )
        return executor

    # -- running and answering ----------------------------------------------------------------

    async def _execute(
        self,
        executor: CommandExecutor,
        request: CommandRequest,
        reply: _Reply,
        epoch: int | None,
    ) -> None:
        refused_before = any(executor.refusal(kind) for kind in request.change.kinds)
        try:
            outcome = await executor.execute(request.change, epoch)
        except asyncio.CancelledError:
            raise
        except CommandError as err:
            _LOGGER.warning(
                "command %s on %s failed: %s", request.change.describe(), request.gateway, err
            )
            await self._answer_error(reply, str(err), request.transaction, request.source)
            await self._refresh_availability(executor, request)
            status: Status = "refused" if isinstance(err, RefusedError) else "failed"
            await self._result_of(request, status, str(err))
            return
        except Exception:
            _LOGGER.exception("command on %s failed unexpectedly", request.gateway)
            internal = "internal error (see the bridge's log)"
            await self._answer_error(reply, internal, request.transaction, request.source)
            await self._result_of(request, "failed", internal)
            return
        data = {"gateway": request.gateway, **outcome.data}
        if outcome.status == "unchanged":
            data["unchanged"] = True
        _LOGGER.info("command on %s: %s (%s)", request.gateway, outcome.data, outcome.status)
        await self._answer(reply, {"status": "ok", "data": data}, request.transaction)
        if refused_before:  # a key paired since lifted the refusal: the control is usable again
            await self._safely(self.announce_availability(request.gateway))
        await self._event("command_applied", request, {"result": outcome.status})
        await self._result_of(request, "unchanged" if data.get("unchanged") else "applied", None)

    async def _result_of(self, request: CommandRequest, status: Status, reason: str | None) -> None:
        change = request.change.describe()
        await self._result(request.gateway, status, change, reason, request.transaction)

    async def _result(
        self,
        gateway: str,
        status: Status,
        change: dict[str, Any],
        reason: str | None,
        transaction: Transaction,
    ) -> None:
        """Hand the outcome on, for a gateway that exists (an unknown one has no entities)."""
        if gateway not in self._executors():
            return
        try:
            await self._on_result(CommandResult(gateway, status, change, reason, transaction))
        except (MqttUnavailableError, ValueError) as err:
            _LOGGER.warning("could not publish a command's result: %s", err)

    async def _refresh_availability(
        self, executor: CommandExecutor, request: CommandRequest
    ) -> None:
        if any(executor.refusal(kind) for kind in request.change.kinds):
            await self._safely(self.announce_availability(request.gateway))
        await self._event("command_failed", request, {})

    async def _clear_retained(self, topic: str) -> None:
        """An empty retained message on this one command topic (the message's own, never a
        filter), so the broker stops handing the command to every new subscriber."""
        if len(self._clearing) > MAX_CLEARING:
            self._clearing.clear()
        self._clearing.add(topic)
        await self._safely(self._connection.publish(Outgoing(topic, "", retain=True, qos=1)))

    async def _answer_error(
        self, reply: _Reply, error: str, transaction: Transaction, source: str
    ) -> None:
        await self._answer(reply, {"status": "error", "data": {}, "error": error}, transaction)
        payload = {"type": "command_rejected", "data": {"topic": source, "error": error}}
        await self._safely(
            self._connection.publish(
                Outgoing(self._topics.bridge_event, json.dumps(payload), False, 1)
            )
        )

    async def _answer(self, reply: _Reply, body: dict[str, Any], transaction: Transaction) -> None:
        if transaction is not None:
            body["transaction"] = transaction
        text = json.dumps(body)
        await self._safely(
            self._connection.publish(
                Outgoing(self._topics.response(reply.command), text, retain=False, qos=1)
            )
        )
        if reply.response_topic:
            await self._safely(
                self._connection.publish_response(reply.response_topic, text, reply.correlation)
            )

    async def _event(self, kind: str, request: CommandRequest, extra: dict[str, Any]) -> None:
        data = {"gateway": request.gateway, "change": request.change.describe(), **extra}
        if request.transaction is not None:
            data["transaction"] = request.transaction
        payload = json.dumps({"type": kind, "data": data})
        await self._safely(
            self._connection.publish(Outgoing(self._topics.bridge_event, payload, False, 1))
        )

    async def _safely(self, publishing: Awaitable[None]) -> None:
        try:
            await publishing
        except (MqttUnavailableError, ValueError) as err:
            _LOGGER.warning("could not publish a command answer: %s", err)


@dataclass(frozen=True, slots=True)
class _Reply:
    command: str
    response_topic: str | None
    correlation: bytes | None
