"""The control API: plain HTTP + JSON on loopback, one server per simulated gateway.

It drives a `GatewaySimulator` from outside; the simulator itself knows nothing of it.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiohttp import web

from pw2mqtt.gateway.tedapi.keys import fingerprint
from pw2mqtt.lifecycle import Service
from pw2mqtt.simulator.cloud import CloudOptions, SimulatedCloud
from pw2mqtt.simulator.faults import FaultConfig
from pw2mqtt.simulator.keys import KeyState
from pw2mqtt.simulator.server import GatewaySimulator

SIM_KEY: Final = web.AppKey["GatewaySimulator"]("sim")


class ControlError(ValueError):
    pass


def _number(body: Any, key: str, *, nullable: bool = False) -> float | None:
    if not isinstance(body, dict) or key not in body:
        raise ControlError(f"expected a JSON object with {key!r}")
    value = body[key]
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ControlError(f"{key!r} must be a number" + (" or null" if nullable else ""))
    return float(value)


def _flag(body: Any, key: str) -> bool:
    if not isinstance(body, dict) or not isinstance(body.get(key), bool):
        raise ControlError(f"expected a JSON object with boolean {key!r}")
    return bool(body[key])


def state_json(sim: GatewaySimulator) -> dict[str, Any]:
    return {
        "din": sim.din,
        "url": sim.url,
        "up": sim.is_up,
        "profile": sim.profile.name,
        "version": sim.profile.version,
        "faults": dataclasses.asdict(sim.faults),
        "sessions": len(sim.core.sessions),
        "logins": sim.logins,
        "calls": len(sim.calls),
        "login_locked_for": sim.core.sessions.locked_for(sim.now()),
        "site": dataclasses.asdict(sim.state),
        "tedapi": sim.signed.state_json(sim.now()),
        "keys": [
            {
                "fingerprint": fingerprint(k.public_key_der),
                "state": k.state.name.lower(),
                "description": k.description,
            }
            for k in sim.keys.clients()
        ],
    }


async def _soe(sim: GatewaySimulator, body: Any) -> None:
    value = _number(body, "value")
    assert value is not None
    sim.set_soe(value)


async def _solar(sim: GatewaySimulator, body: Any) -> None:
    sim.set_solar(_number(body, "value", nullable=True))


async def _load(sim: GatewaySimulator, body: Any) -> None:
    sim.set_load(_number(body, "value", nullable=True))


async def _outage(sim: GatewaySimulator, body: Any) -> None:
    if _flag(body, "active"):
        sim.start_outage()
    else:
        sim.end_outage()


async def _faults(sim: GatewaySimulator, body: Any) -> None:

    if not isinstance(body, dict):
        raise ControlError("expected a JSON object")
    cfg = FaultConfig.from_mapping(body)
    sim.set_faults(**dataclasses.asdict(cfg))


async def _profile(sim: GatewaySimulator, body: Any) -> None:
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):
        raise ControlError("expected a JSON object with string 'name'")
    sim.set_profile(body["name"])


async def _reboot(sim: GatewaySimulator, body: Any) -> None:
    downtime = _number(body, "downtime") if isinstance(body, dict) and "downtime" in body else 5.0
    assert downtime is not None
    await sim.reboot(downtime)


async def _expire(sim: GatewaySimulator, body: Any) -> None:
    sim.expire_sessions()


async def _advance(sim: GatewaySimulator, body: Any) -> None:
    seconds = _number(body, "seconds")
    assert seconds is not None
    sim.advance(seconds)


async def _speed(sim: GatewaySimulator, body: Any) -> None:
    value = _number(body, "value")
    assert value is not None
    sim.set_speed(value)


async def _operation(sim: GatewaySimulator, body: Any) -> None:
    if not isinstance(body, dict):
        raise ControlError("expected a JSON object")
    reserve = _number(body, "reserve") if "reserve" in body else None
    sim.set_operation(body.get("mode"), reserve)


async def _sitemaster(sim: GatewaySimulator, body: Any) -> None:
    sim.set_sitemaster(_flag(body, "running"))


async def _unlock(sim: GatewaySimulator, body: Any) -> None:
    sim.reset_lockout()


async def _keys(sim: GatewaySimulator, body: Any) -> None:
    if not isinstance(body, dict) or not isinstance(body.get("public_key_b64"), str):
        raise ControlError("expected a JSON object with string 'public_key_b64'")
    try:
        der = base64.b64decode(body["public_key_b64"], validate=True)
    except (binascii.Error, ValueError) as err:
        raise ControlError("public_key_b64 is not base64") from err
    try:
        state = KeyState[str(body.get("state", "")).upper()]
    except KeyError:
        names = ", ".join(s.name.lower() for s in KeyState)
        raise ControlError(f"state must be one of {names}") from None
    sim.set_key_state(der, state, str(body.get("description", "")))


async def _tedapi(sim: GatewaySimulator, body: Any) -> None:
    if not isinstance(body, dict):
        raise ControlError("expected a JSON object")
    layout = body.get("fault_layout")
    quirk = body.get("apply_at_dispatch")
    if layout is not None and not isinstance(layout, str):
        raise ControlError("'fault_layout' must be a string")
    if quirk is not None and not isinstance(quirk, bool):
        raise ControlError("'apply_at_dispatch' must be a boolean")
    sim.set_signed_options(fault_layout=layout, apply_at_dispatch=quirk)


POSTS: Final[dict[str, Callable[[GatewaySimulator, Any], Awaitable[None]]]] = {
    "/soe": _soe,
    "/solar": _solar,
    "/load": _load,
    "/outage": _outage,
    "/faults": _faults,
    "/profile": _profile,
    "/reboot": _reboot,
    "/expire_sessions": _expire,
    "/advance": _advance,
    "/speed": _speed,
    "/operation": _operation,
    "/sitemaster": _sitemaster,
    "/unlock": _unlock,
    "/keys": _keys,
    "/tedapi": _tedapi,
}


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=lambda o: json.dumps(o, default=str))


async def _handle(request: web.Request) -> web.StreamResponse:
    sim = request.app[SIM_KEY]
    path = request.path.rstrip("/") or "/"
    try:
        if request.method == "GET" and path == "/state":
            return _json(state_json(sim))
        if path == "/calls":
            return await _calls(sim, request)
        action = POSTS.get(path)
        if action is None:
            return _json({"error": f"no such control endpoint: {path}"}, 404)
        if request.method != "POST":
            return _json({"error": "use POST"}, 405)
        raw = await request.read()
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError as err:
            raise ControlError(f"not JSON: {err}") from err
        await action(sim, body)
        return _json(state_json(sim))
    except ValueError as err:  # ControlError and the simulator's own validation
        return _json({"error": str(err)}, 400)


async def _calls(sim: GatewaySimulator, request: web.Request) -> web.StreamResponse:
    if request.method == "DELETE":
        sim.clear_calls()
        return web.Response(status=204)
    if request.method != "GET":
        return _json({"error": "use GET or DELETE"}, 405)
    try:
        since = max(0, int(request.query.get("since", "0")))
    except ValueError as err:
        raise ControlError("since must be an integer") from err
    calls = sim.calls
    return _json(
        {
            "next": len(calls),
            "calls": [
                {"index": i, **dataclasses.asdict(c)}
                for i, c in enumerate(calls[since:], start=since)
            ],
        }
    )


class ControlServer(Service):
    """Use as an async context manager; it listens on `sim.options.control_port` (0 = free)."""

    def __init__(
        self, sim: GatewaySimulator, host: str = "127.0.0.1", *, cloud: CloudOptions | None = None
    ) -> None:
        self._sim = sim
        self.cloud = SimulatedCloud(sim, cloud)  # Tesla's cloud for pairing, under /cloud
        self._host = host
        self._runner: web.AppRunner | None = None
        self._port = 0

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self, port: int | None = None) -> None:
        """Listen on `port`, else the simulator's `control_port` (0 or None: a free one)."""
        port = self._sim.options.control_port or 0 if port is None else port
        app = web.Application()
        app[SIM_KEY] = self._sim
        self.cloud.add_routes(app)
        app.router.add_route("*", "/{tail:.*}", _handle)
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=0.25
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, port, reuse_address=True)
        await site.start()
        self._port = site.port

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
