"""A long-lived MQTT connection that reconnects by itself, built on aiomqtt 2.x."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from pw2mqtt.backoff import Backoff
from pw2mqtt.config import MqttSettings
from pw2mqtt.errors import ConfigError, Pw2MqttError

_LOGGER = logging.getLogger(__name__)

# Bounds every broker round trip (CONNACK, SUBACK, PUBACK); a silent broker becomes MqttError.
_TIMEOUT = 10.0
# How long a cancelled run() may spend publishing the will itself before disconnecting.
_WILL_ON_CANCEL_TIMEOUT = 2.0
_PENDING_CALLS_WARNING = 500  # a full announcement is a few dozen messages: not a backlog
# SUBACK return codes from 0x80 on mean the subscription was refused.
_SUBACK_FAILURE = 0x80
# MQTT 5 DISCONNECT reason "Session taken over": another client connected with our client id.
_SESSION_TAKEN_OVER = 0x8E
# A session shorter than this does not count as a recovery; this many in a row look like a
# client id shared with another client (MQTT 3.1.1 brokers give no reason).
_STABLE_SESSION = 10.0
_SHORT_SESSIONS = 3


class MqttUnavailableError(Pw2MqttError):
    """The MQTT broker is not connected right now; the message was not published."""


@dataclass(frozen=True, slots=True)
class MqttOptions:
    """How to reach the broker. `client_id` must be stable across restarts."""

    host: str
    client_id: str
    port: int = 1883
    username: str | None = None
    password: str | None = None
    keepalive: int = 60
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    tls: bool = False
    ca_file: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    tls_insecure: bool = False
    reconnect_min: float = 2.0
    reconnect_max: float = 60.0

    @classmethod
    def from_settings(cls, settings: MqttSettings, client_id: str | None = None) -> MqttOptions:
        """`client_id` is the one to use (`Settings.mqtt_client_id`, made unique in a fleet);
        without it, the settings' own or `pw2mqtt`."""
        tls = settings.tls
        return cls(
            host=settings.host,
            port=settings.port,
            client_id=client_id or settings.client_id or "pw2mqtt",
            username=settings.username,
            password=settings.password.get_secret_value() if settings.password else None,
            keepalive=settings.keepalive,
            protocol=settings.protocol,
            tls=tls.enabled,
            ca_file=tls.ca_file,
            certfile=tls.certfile,
            keyfile=tls.keyfile,
            tls_insecure=tls.insecure,
        )

    def __repr__(self) -> str:
        # The dataclass repr would show the password.
        password = None if self.password is None else "***"
        return (
            f"MqttOptions(host={self.host!r}, port={self.port}, client_id={self.client_id!r}, "
            f"username={self.username!r}, password={password!r}, protocol={self.protocol!r}, "
            f"tls={self.tls})"
        )


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to publish."""

    topic: str
    payload: str | bytes
    retain: bool = False
    qos: int = 0


@dataclass(frozen=True, slots=True)
class Incoming:
    """A message received on one of the subscriptions.

    `response_topic` and `correlation_data` are the MQTT 5 request properties, when sent.
    """

    topic: str
    payload: bytes
    retain: bool
    qos: int
    response_topic: str | None = None
    correlation_data: bytes | None = None


class MqttConnection:
    """Connects, subscribes and calls `on_connect` on every (re)connect; dispatches messages.

    `on_message` handlers run one at a time in arrival order, so keep them short (hand long
    work to a queue). A handler that raises is logged and the connection carries on.
    """

    def __init__(
        self,
        options: MqttOptions,
        *,
        will: Outgoing,
        subscriptions: Sequence[tuple[str, int]],
        on_connect: Callable[[], Awaitable[None]],
        on_message: Callable[[Incoming], Awaitable[None]],
        in_flight_warning: int = _PENDING_CALLS_WARNING,
    ) -> None:
        """`in_flight_warning`: how many publications awaiting the broker are a backlog worth
        a warning (paho logs one line per publication above it)."""
        _check_topic(will.topic)
        self._options = options
        self._in_flight_warning = in_flight_warning
        self._will = will
        self._subscriptions = list(subscriptions)
        self._on_connect = on_connect
        self._on_message = on_message
        self._tls_context = _tls_context(options) if options.tls else None
        self._client: aiomqtt.Client | None = None
        self._closing = asyncio.Event()
        self._stopped = asyncio.Event()
        self._running = False
        self._final: list[Outgoing] = []
        self._sessions = _Sessions()

    @property
    def connected(self) -> bool:
        """Whether the broker is connected and the subscriptions are in place."""
        return self._client is not None

    async def run(self) -> None:
        """Keep the connection up until `close()` is called or the task is cancelled."""
        options = self._options
        backoff = Backoff(base=options.reconnect_min, maximum=options.reconnect_max)
        self._running = True
        self._stopped.clear()
        try:
            while not self._closing.is_set():
                try:
                    async with self._new_client() as client:
                        await self._serve(client, backoff)
                except (aiomqtt.MqttError, MqttUnavailableError) as err:
                    if self._closing.is_set():
                        break
                    delay = self._sessions.dropped(err, backoff, options)
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(delay):
                            await self._closing.wait()
        finally:
            self._client = None
            self._running = False
            self._stopped.set()

    async def publish(self, message: Outgoing) -> None:
        """Publish one message; QoS 1 and 2 return once the broker acknowledged it."""
        _check_topic(message.topic)
        await self._publish(message.topic, message.payload, message.qos, message.retain)

    async def publish_many(self, messages: Iterable[Outgoing]) -> None:
        """Publish several messages in order, waiting for the acknowledgements together."""
        batch = list(messages)
        for message in batch:
            _check_topic(message.topic)
        # paho sends in call order, so this keeps the order while pipelining the acks.
        await asyncio.gather(*(self._publish(m.topic, m.payload, m.qos, m.retain) for m in batch))

    async def publish_response(
        self, topic: str, payload: str, correlation_data: bytes | None
    ) -> None:
        """Answer an MQTT 5 request: QoS 1, not retained, echoing its correlation data."""
        _check_topic(topic)
        properties = None
        if correlation_data is not None and self._options.protocol == "5":
            properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            properties.CorrelationData = correlation_data
        await self._publish(topic, payload, 1, False, properties)

    async def close(self, final: Sequence[Outgoing] = ()) -> None:
        """Publish `final` if connected, then disconnect cleanly (no will) and stop `run()`.

        Returns once `run()` has finished. Not to be called from `on_message`.
        """
        for message in final:
            _check_topic(message.topic)
        # run() publishes them itself, so nothing (such as on_connect) can come after them.
        self._final = list(final)
        self._closing.set()
        if self._running:
            await self._stopped.wait()

    def _new_client(self) -> aiomqtt.Client:
        options = self._options
        client = aiomqtt.Client(
            options.host,
            options.port,
            username=options.username,
            password=options.password,
            identifier=options.client_id,
            protocol=(
                aiomqtt.ProtocolVersion.V5
                if options.protocol == "5"
                else aiomqtt.ProtocolVersion.V311
            ),
            will=aiomqtt.Will(
                self._will.topic, self._will.payload, self._will.qos, self._will.retain
            ),
            keepalive=options.keepalive,
            timeout=_TIMEOUT,
            tls_context=self._tls_context,
            logger=_LOGGER.getChild("paho"),
        )
        client.pending_calls_threshold = self._in_flight_warning
        return client

    def _subscription_request(self) -> list[tuple[str, Any]]:
        """Under MQTT 5, ask for the publisher's retain flag: a command published retained
        while we are connected is then recognisable as retained too, not only stale ones."""
        if self._options.protocol != "5":
            return list(self._subscriptions)
        return [
            (topic, SubscribeOptions(qos=qos, retainAsPublished=True))
            for topic, qos in self._subscriptions
        ]

    async def _serve(self, client: aiomqtt.Client, backoff: Backoff) -> None:
        """One connected session: subscribe, announce, then receive until closed or dropped."""
        options = self._options
        if self._subscriptions:
            granted: Sequence[int | ReasonCode] = await client.subscribe(
                self._subscription_request()
            )
            honour_cancellation()
            for (topic, _), code in zip(self._subscriptions, granted, strict=False):
                if (code if isinstance(code, int) else code.value) >= _SUBACK_FAILURE:
                    _LOGGER.warning("The MQTT broker refused the subscription to %s", topic)
        if self._closing.is_set():  # close() came while connecting: do not announce
            return
        self._client = client
        self._sessions.connected_at = time.monotonic()
        if backoff.failures:
            _LOGGER.info("Reconnected to MQTT broker %s:%d", options.host, options.port)
        else:
            _LOGGER.info(
                "Connected to MQTT broker %s:%d as %s",
                options.host,
                options.port,
                options.client_id,
            )
        try:
            await self._on_connect()
            receiver = asyncio.create_task(self._receive(client), name="pw2mqtt.mqtt.receive")
            closing = asyncio.create_task(self._closing.wait(), name="pw2mqtt.mqtt.closing")
            try:
                await asyncio.wait((receiver, closing), return_when=asyncio.FIRST_COMPLETED)
            finally:
                receiver.cancel()
                closing.cancel()
                await asyncio.wait((receiver, closing))
            if not receiver.cancelled():
                receiver.result()  # the receive loop only ends by raising MqttError
            try:
                await self.publish_many(self._final)
            except MqttUnavailableError as err:
                _LOGGER.warning("Could not publish the final messages: %s", err)
        except asyncio.CancelledError:
            # A clean disconnect does not fire the will, so publish it ourselves:
            # a cancelled bridge must not stay "online".
            if not self._closing.is_set():
                with contextlib.suppress(aiomqtt.MqttError):
                    await client.publish(
                        self._will.topic,
                        self._will.payload,
                        self._will.qos,
                        self._will.retain,
                        timeout=_WILL_ON_CANCEL_TIMEOUT,
                    )
            raise
        finally:
            self._client = None

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            incoming = _incoming(message)
            try:
                await self._on_message(incoming)
            except Exception as err:  # one bad message must not drop the connection
                _LOGGER.error("Handling the message on %s failed: %r", incoming.topic, err)

    async def _publish(
        self,
        topic: str,
        payload: str | bytes,
        qos: int,
        retain: bool,
        properties: Properties | None = None,
    ) -> None:
        client = self._client
        if client is None:
            raise MqttUnavailableError(f"not connected to the MQTT broker; {topic} not published")
        try:
            await client.publish(topic, payload, qos, retain, properties)
        except aiomqtt.MqttError as err:
            raise MqttUnavailableError(f"publishing {topic} failed: {err}") from err
        honour_cancellation()


class _Sessions:
    """How long sessions last; the delay before the next one, and one clear line about why.

    A session that ends right after it began does not reset the backoff: a broker that hands our
    client id to another client would otherwise have two bridges knock each other off in a
    tight loop.
    """

    def __init__(self) -> None:
        self.connected_at: float | None = None
        self._short = 0
        self._said = False

    def dropped(self, err: Exception, backoff: Backoff, options: MqttOptions) -> float:
        lasted = None if self.connected_at is None else time.monotonic() - self.connected_at
        self.connected_at = None
        if lasted is not None and lasted >= _STABLE_SESSION:
            backoff.reset()
            self._short = 0
            self._said = False
        elif lasted is not None:
            self._short += 1
        delay = backoff.fail()
        if _session_taken_over(err):
            why = "another client connected with the same client id (session taken over)"
        elif self._short >= _SHORT_SESSIONS:
            why = "it keeps closing the connection right after it is made; another client "
            why += "probably uses the same client id"
        else:
            _LOGGER.log(
                logging.WARNING if backoff.failures == 1 else logging.DEBUG,
                "MQTT broker %s:%d unavailable: %s; retrying in %.1f s",
                options.host,
                options.port,
                err,
                delay,
            )
            return delay
        _LOGGER.log(
            logging.DEBUG if self._said else logging.ERROR,
            "The MQTT broker %s:%d disconnected us as %r: %s. Set mqtt.client_id to one unique "
            "to this bridge; retrying in %.0f s",
            options.host,
            options.port,
            options.client_id,
            why,
            delay,
        )
        self._said = True
        return delay


def _session_taken_over(err: BaseException) -> bool:
    seen: BaseException | None = err
    while seen is not None:
        code = getattr(seen, "rc", None)
        if isinstance(code, ReasonCode) and code.value == _SESSION_TAKEN_OVER:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def honour_cancellation() -> None:
    """Raise CancelledError if the current task was asked to stop.

    aiomqtt awaits the broker's acknowledgements with `asyncio.wait_for`, which on Python 3.11
    returns the result when it and a cancellation arrive together, and the cancellation is lost:
    a bridge told to stop then carried on and waited forever for work that never came.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _check_topic(topic: str) -> None:
    if not topic:
        raise ValueError("cannot publish to an empty topic")
    for char, what in (("+", "a '+' wildcard"), ("#", "a '#' wildcard"), ("\0", "a NUL")):
        if char in topic:
            raise ValueError(f"cannot publish to {topic!r}: the topic contains {what}")


def _incoming(message: aiomqtt.Message) -> Incoming:
    # paho sets a property attribute only when the packet carried it (MQTT 5).
    properties = message.properties
    return Incoming(
        topic=message.topic.value,
        payload=bytes(message.payload),
        retain=message.retain,
        qos=message.qos,
        response_topic=getattr(properties, "ResponseTopic", None),
        correlation_data=getattr(properties, "CorrelationData", None),
    )


def _tls_context(options: MqttOptions) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=options.ca_file)
        if options.certfile is not None:
            context.load_cert_chain(options.certfile, options.keyfile)
    except (OSError, ssl.SSLError) as err:
        raise ConfigError([f"MQTT TLS files could not be loaded: {err}"]) from err
    if options.tls_insecure:
        _LOGGER.warning(
            "MQTT TLS verification is off (tls_insecure): the broker's identity is not checked"
        )
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
