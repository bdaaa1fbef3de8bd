"""The gateway's HTTPS API as an aiohttp application: one dispatcher, one table of handlers.

Order of checks for every request, like a real gateway's router: faults, then 404 (unknown or
not served by this firmware profile), 405 (wrong method), 401 (no valid session), 403 (role not
allowed), 502 with an empty body (sitemaster stopped, data endpoints only), then the handler.
"""

from __future__ import annotations

import asyncio
import email.utils
import gzip
import json
import math
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

from pw2mqtt.simulator import payloads, tedapi
from pw2mqtt.simulator import profiles as p
from pw2mqtt.simulator.auth import Session
from pw2mqtt.simulator.core import CallRecord, GatewayCore
from pw2mqtt.simulator.profiles import Access
from pw2mqtt.simulator.site import MODES
from pw2mqtt.simulator.timefmt import rfc3339

CORE_KEY: Final = web.AppKey("core", GatewayCore)

BASE_HEADERS: Final = {"Cache-Control": "no-cache, no-store", "X-Content-Type-Options": "nosniff"}
OFF_GRID: Final = "intentional_reconnect_failsafe"
ON_GRID: Final = "backup"


@dataclass(frozen=True, slots=True)
class Context:
    core: GatewayCore
    request: web.Request
    session: Session | None
    body: Any
    call: CallRecord


Handler = Callable[[Context], Awaitable[web.StreamResponse]]


# -- responses -------------------------------------------------------------------------------


def json_response(body: Any, status: int = 200) -> web.Response:
    text = json.dumps(body, separators=(",", ":"), allow_nan=False)
    return web.Response(
        text=text, status=status, content_type="application/json", headers=BASE_HEADERS
    )


def error(status: int, short: str, message: str) -> web.Response:
    return json_response({"code": status, "error": short, "message": message}, status)


def empty(status: int) -> web.Response:
    return web.Response(status=status, headers=BASE_HEADERS)


def not_found() -> web.Response:
    return error(404, "Not Found", "The requested resource does not exist")


def unauthorized() -> web.Response:
    return error(401, "Token Expired", "Invalid or expired session; log in again")


def forbidden(method: str) -> web.Response:
    verb = "POST to" if method == "POST" else f"{method}"
    return error(403, f"Unable to {verb} resource", "User does not have adequate access rights")


def rate_limited() -> web.Response:
    return error(429, "Api Limit reached for this endpoint", "API Limit Reached")


def bad_request(message: str) -> web.Response:
    return error(400, "Bad Request", message)


def random_error(status: int) -> web.Response:
    if status == 500:
        return error(500, "Internal Server Error", "Unable to complete request")
    return empty(status)  # 502/503/504 come with an empty body


# -- request decoding ----------------------------------------------------------------------


def decode_body(raw: bytes, content_type: str) -> Any:
    """JSON when it parses as JSON (curl examples post JSON as form type), else a form body."""
    if not raw or content_type == "application/octet-stream":
        return None  # protobuf: the call log keeps only that it came
    text = raw.decode("utf-8", errors="replace")
    if "json" in content_type or text.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            return text
    form = urllib.parse.parse_qs(text, keep_blank_values=True)
    return {k: v[-1] for k, v in form.items()} if form else text


def masked(body: Any) -> Any:
    if isinstance(body, dict) and "password" in body:
        return {**body, "password": "***"}
    return body


def token_of(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return request.cookies.get("AuthCookie")


def normalise(path: str) -> str:
    return path.rstrip("/") or "/"


def truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


# -- dispatcher ------------------------------------------------------------------------------


async def dispatch(request: web.Request) -> web.StreamResponse:
    core = request.app[CORE_KEY]
    path = normalise(request.path)
    raw = await request.read() if request.can_read_body else b""
    body = decode_body(raw, request.content_type)
    call = core.record(request.method, path, masked(body))
    if request.method == "POST" and path == p.LOGIN:
        core.logins += 1
    outcome, status = core.faults.outcome(path)
    if outcome == "hang":
        await core.drop.wait()
        _drop(request)
        return empty(503)
    if outcome == "reset":
        _drop(request)
        return empty(503)
    delay = core.faults.delay()
    if delay:
        await asyncio.sleep(delay)
    response: web.StreamResponse
    if outcome == "busy":
        response = error(503, "Service Unavailable", "current config mode is busy")
    elif outcome == "limited":
        response = rate_limited()
    elif outcome == "error":
        response = random_error(status)
    elif outcome == "html":  # a web page where JSON belongs, as a proxy or captive portal gives
        response = web.Response(
            text=payloads.PORTAL_HTML, content_type="text/html", headers=BASE_HEADERS
        )
    else:
        response = await route(core, request, path, body, call)
    call.status = response.status
    return response


def _drop(request: web.Request) -> None:
    """Close the TCP connection without an answer (no TLS close_notify either)."""
    transport = request.transport
    if transport is not None:
        transport.abort()


async def route(
    core: GatewayCore, request: web.Request, path: str, body: Any, call: CallRecord
) -> web.StreamResponse:
    rule = core.profile.lookup(request.method, path)
    handler = HANDLERS.get((request.method, path))
    if rule == 404 or (handler is None and rule != 405):
        return not_found()
    if rule == 405:
        return error(405, "Method Not Allowed", f"{request.method} is not supported here")
    assert isinstance(rule, Access)
    assert handler is not None
    now = core.now()
    session = core.sessions.lookup(token_of(request), now)
    if session is not None:
        call.role = session.role
        call.session = session.serial
    if rule is not Access.PUBLIC:
        if session is None:
            return unauthorized()
        if rule is Access.INSTALLER and session.role != "installer":
            return forbidden(request.method)
    if path in p.SITEMASTER_DATA and not core.site.sitemaster_running:
        return empty(502)
    if request.method == "GET" and path in core.replaced_bodies:
        handler = _replaced_body
    return await handler(Context(core, request, session, body, call))


# -- handlers ---------------------------------------------------------------------------------


async def _replaced_body(ctx: Context) -> web.StreamResponse:
    body = ctx.core.replaced_bodies[normalise(ctx.request.path)]
    return web.Response(body=body, content_type="application/json", headers=BASE_HEADERS)


async def login(ctx: Context) -> web.StreamResponse:
    core = ctx.core
    now = core.now()
    if core.sessions.locked(now):
        return rate_limited()
    body = ctx.body if isinstance(ctx.body, dict) else {}
    username = str(body.get("username", ""))
    password = str(body.get("password", ""))
    email = str(body.get("email", "") or "")
    role = None
    if username == "customer" and password == core.customer_password:
        role = "customer"
    elif username == "installer" and password == core.installer_password:
        if core.profile.installer_needs_toggle and not core.installer_toggle:
            return error(
                401, "bad credentials", "roles [Provider_Engineer] require physical access"
            )
        role = "installer"
    if role is None:
        core.sessions.record_failure(now)
        return error(401, "bad credentials", "Login Error")
    if truthy(body.get("force_sm_off", False)):
        core.site.set_sitemaster(now, running=False)  # the web UI flag: logging in stops it
    session = core.sessions.create(role, email, now)
    ctx.call.role = role
    ctx.call.session = session.serial
    response = json_response(
        {
            "email": email,
            "firstname": "Tesla",
            "lastname": "Energy",
            "roles": [p.ROLE_NAMES[role]],
            "token": session.token,
            "provider": "Basic",
            "loginTime": rfc3339(now, core.identity.zone),
        }
    )
    response.headers.add("Set-Cookie", f"AuthCookie={session.token}; Path=/")
    response.headers.add("Set-Cookie", f"UserRecord={session.user_record}; Path=/")
    return response


async def logout(ctx: Context) -> web.StreamResponse:
    if ctx.session is not None:
        ctx.core.sessions.revoke(ctx.session.token)
    return empty(204)


async def portal(ctx: Context) -> web.StreamResponse:
    return web.Response(text=payloads.PORTAL_HTML, content_type="text/html", headers=BASE_HEADERS)


def _state_handler(build: Callable[[GatewayCore], Any]) -> Handler:
    async def handler(ctx: Context) -> web.StreamResponse:
        return json_response(build(ctx.core))

    return handler


def _aggregates(core: GatewayCore) -> Any:
    return payloads.aggregates(core.profile, core.identity, core.state())


def _system_status(core: GatewayCore) -> Any:
    faults = payloads.grid_faults(core.identity, core.site.grid_fault_times, core.profile)
    return payloads.system_status(core.profile, core.identity, core.state(), faults)


async def vitals(ctx: Context) -> web.StreamResponse:
    provider = ctx.core.vitals
    if provider is None:
        return not_found()
    return web.Response(
        body=provider(ctx.core.state()),
        content_type="application/octet-stream",
        headers=BASE_HEADERS,
    )


async def post_operation(ctx: Context) -> web.StreamResponse:
    body = ctx.body
    if not isinstance(body, dict):
        return bad_request("expected a JSON object")
    mode_key = "real_mode" if "real_mode" in body else "mode"
    mode = body.get(mode_key)
    reserve = body.get("backup_reserve_percent")
    if mode is not None and mode not in MODES:
        return error(400, "Invalid mode", f"unknown operation mode {mode!r}")
    if reserve is not None:
        try:
            reserve = float(reserve)
        except (TypeError, ValueError):
            return bad_request("backup_reserve_percent must be a number")
        if not math.isfinite(reserve) or not 0.0 <= reserve <= 100.0:
            return bad_request("backup_reserve_percent must be within 0..100")
    if mode is None and reserve is None:
        return bad_request("nothing to change")
    ctx.core.site.stage_operation(mode, reserve)
    echo: dict[str, Any] = {}
    if mode is not None:
        echo[mode_key] = mode
    if reserve is not None:
        echo["backup_reserve_percent"] = body["backup_reserve_percent"]
    return json_response(echo)


async def config_completed(ctx: Context) -> web.StreamResponse:
    ctx.core.site.apply_staged(ctx.core.now())
    return empty(202)


async def islanding(ctx: Context) -> web.StreamResponse:
    body = ctx.body if isinstance(ctx.body, dict) else {}
    mode = body.get("island_mode")
    if mode not in (OFF_GRID, ON_GRID):
        return bad_request(f"island_mode must be {OFF_GRID!r} or {ON_GRID!r}")
    ctx.core.site.request_island(ctx.core.now(), off_grid=mode == OFF_GRID)
    return json_response({"island_mode": mode})


async def sitemaster_run(ctx: Context) -> web.StreamResponse:
    ctx.core.site.set_sitemaster(ctx.core.now(), running=True)
    return empty(202)


async def sitemaster_stop(ctx: Context) -> web.StreamResponse:
    ctx.core.site.set_sitemaster(ctx.core.now(), running=False)
    return empty(202)


async def tedapi_din(ctx: Context) -> web.StreamResponse:
    din = ctx.core.identity.din.encode("ascii")
    # Newer firmware gzips it without a Content-Encoding header: clients must check the bytes.
    body = gzip.compress(din, mtime=0) if ctx.core.profile.din_gzip else din
    return web.Response(body=body, content_type="text/plain", headers=BASE_HEADERS)


async def tedapi_v1r(ctx: Context) -> web.StreamResponse:
    core = ctx.core
    now = core.now()
    signed = tedapi.answer(core.signed, core.keys, await ctx.request.read(), now)
    headers = {**BASE_HEADERS, "Date": email.utils.formatdate(now, usegmt=True)}
    if signed.status != 200:
        return web.Response(
            status=signed.status, body=signed.body, content_type="text/plain", headers=headers
        )
    return web.Response(body=signed.body, content_type="application/octet-stream", headers=headers)


HANDLERS: Final[dict[p.Route, Handler]] = {
    ("GET", p.PORTAL): portal,
    ("POST", p.LOGIN): login,
    ("GET", p.LOGOUT): logout,
    ("GET", p.STATUS): _state_handler(lambda c: payloads.status(c.profile, c.identity, c.now())),
    ("GET", p.AGGREGATES): _state_handler(_aggregates),
    ("GET", p.SOE): _state_handler(lambda c: payloads.soe(c.state())),
    ("GET", p.GRID_STATUS): _state_handler(lambda c: payloads.grid_status(c.state())),
    ("GET", p.SYSTEM_STATUS): _state_handler(_system_status),
    ("GET", p.GRID_FAULTS): _state_handler(
        lambda c: payloads.grid_faults(c.identity, c.site.grid_fault_times, c.profile)
    ),
    ("GET", p.SITEMASTER): _state_handler(lambda c: payloads.sitemaster(c.profile, c.state())),
    ("GET", p.OPERATION): _state_handler(lambda c: payloads.operation(c.state())),
    ("GET", p.SITE_INFO): _state_handler(
        lambda c: payloads.site_info(c.profile, c.identity, c.site.config.powerwalls)
    ),
    ("GET", p.SITE_NAME): _state_handler(lambda c: payloads.site_name(c.identity)),
    ("GET", p.POWERWALLS): _state_handler(
        lambda c: payloads.powerwalls(c.profile, c.identity, c.state())
    ),
    ("GET", p.SOLAR_POWERWALL): _state_handler(
        lambda c: payloads.solar_powerwall(c.identity, c.state())
    ),
    ("GET", p.METERS_SITE): _state_handler(
        lambda c: payloads.meter_list(c.profile, c.identity, c.state(), "site")
    ),
    ("GET", p.METERS_SOLAR): _state_handler(
        lambda c: payloads.meter_list(c.profile, c.identity, c.state(), "solar")
    ),
    ("GET", p.UPDATE_STATUS): _state_handler(
        lambda c: payloads.update_status(c.profile, c.now(), c.identity.boot_time)
    ),
    ("GET", p.NETWORKS): _state_handler(lambda c: payloads.networks()),
    ("GET", p.CONFIG): _state_handler(lambda c: payloads.config(c.identity)),
    ("GET", p.AUTH_TOGGLE): _state_handler(lambda c: payloads.AUTH_TOGGLE),
    ("GET", p.REGISTRATION): _state_handler(lambda c: payloads.REGISTRATION),
    ("GET", p.PROBLEMS): _state_handler(lambda c: payloads.PROBLEMS),
    ("GET", p.VITALS): vitals,
    ("POST", p.OPERATION): post_operation,
    ("GET", p.CONFIG_COMPLETED): config_completed,
    ("POST", p.ISLANDING): islanding,
    ("GET", p.SITEMASTER_RUN): sitemaster_run,
    ("POST", p.SITEMASTER_STOP): sitemaster_stop,
    ("GET", p.SITEMASTER_STOP): sitemaster_stop,  # only profiles that list it (the seed's GET)
    ("GET", p.TEDAPI_DIN): tedapi_din,
    ("POST", p.TEDAPI_V1R): tedapi_v1r,
}


def build_app(core: GatewayCore) -> web.Application:
    app = web.Application(client_max_size=64 * 1024)
    app[CORE_KEY] = core
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app
