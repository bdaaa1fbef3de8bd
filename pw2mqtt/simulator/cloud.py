"""A simulated Tesla cloud for pairing, served on a simulator's control port under `/cloud`.

It mirrors the real paths (`/cloud/oauth2/v3/token`, `/cloud/api/1/products`,
`/cloud/api/1/energy_sites/{id}/command`) for the one simulated gateway of its control server,
and works on that gateway's `KeyRegistry`: a pairing request adds a PENDING key, the owner's
power toggle (`POST /toggle`) verifies it, a key left pending longer than `pairing_window`
simulated seconds times out. Control calls under `/cloud/control/` inject 429s, expire the
access tokens and remove a key, as the owner could from the Tesla app.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_der_public_key,
)

from pw2mqtt.simulator.keys import AuthorizedKey, KeyState
from pw2mqtt.simulator.server import GatewaySimulator

PREFIX: Final = "/cloud"


@dataclass(frozen=True, slots=True)
class CloudOptions:
    refresh_token: str = "sim-refresh-token"  # noqa: S105 - a simulator default
    access_token: str = "sim-access-token"  # noqa: S105 - a simulator default
    site_id: int = 2_252_101_234_567_890
    site_name: str = "Simulated home"
    pairing_window: float = 600.0  # simulated seconds a key waits for the power toggle
    rotate_refresh_token: bool = False  # each refresh hands out a new refresh token


class CloudError(ValueError):
    pass


class SimulatedCloud:
    def __init__(self, sim: GatewaySimulator, options: CloudOptions | None = None) -> None:
        self.sim = sim
        self.options = opts = options or CloudOptions()
        self.refresh_token = opts.refresh_token
        self._valid = {opts.access_token}
        self._expired: set[str] = set()
        self._serial = itertools.count(1)
        self.throttled = 0  # how many of the next requests get 429
        self.retry_after = 1.0
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status), in order

    # -- what the owner and tests do ----------------------------------------------------------

    def throttle(self, count: int, retry_after: float = 1.0) -> None:
        self.throttled = count
        self.retry_after = retry_after

    def expire_access_tokens(self) -> None:
        self._expired |= self._valid
        self._valid = set()

    def toggle(self) -> list[AuthorizedKey]:
        """The owner switched the Powerwall off and on."""
        self.expire_pending()
        return self.sim.keys.toggle()

    def remove(self, public_key_der: bytes) -> bool:
        return self.sim.keys.remove(public_key_der)

    def expire_pending(self) -> None:
        now = self.sim.now()
        for key in self.sim.keys.clients():
            late = now - key.added_at > self.options.pairing_window
            if key.state is KeyState.PENDING and late:
                self.sim.keys.set_state(key.public_key_der, KeyState.TIMEOUT)

    def state_json(self) -> dict[str, Any]:
        return {
            "site_id": self.options.site_id,
            "din": self.sim.din,
            "throttled": self.throttled,
            "keys": [
                {
                    "fingerprint": _fingerprint(key.public_key_der),
                    "description": key.description,
                    "state": key.state.name,
                    "added_at": key.added_at,
                }
                for key in self.sim.keys.clients()
            ],
        }

    # -- HTTP -----------------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/toggle", self._toggle)
        app.router.add_route("*", PREFIX + "/control/{action}", self._control)
        app.router.add_post(PREFIX + "/oauth2/v3/token", self._tesla(self._token))
        app.router.add_get(PREFIX + "/api/1/products", self._tesla(self._products))
        app.router.add_post(
            PREFIX + "/api/1/energy_sites/{site_id}/command", self._tesla(self._command)
        )

    def _tesla(self, handler: Any) -> Any:
        async def serve(request: web.Request) -> web.StreamResponse:
            response = await self._serve(request, handler)
            self.requests.append((request.method, request.path, response.status))
            return response

        return serve

    async def _serve(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.throttled > 0:
            self.throttled -= 1
            return web.json_response(
                {"response": None, "error": "Too Many Requests"},
                status=429,
                headers={"Retry-After": f"{self.retry_after:g}"},
            )
        try:
            response: web.StreamResponse = await handler(request)
        except CloudError as err:
            return _error(400, str(err))
        return response

    async def _token(self, request: web.Request) -> web.StreamResponse:
        if request.content_type == "application/json":
            form: Any = await _json_body(request)
        else:
            form = dict(await request.post())
        if not isinstance(form, dict) or form.get("grant_type") != "refresh_token":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        if form.get("refresh_token") != self.refresh_token:
            return web.json_response(
                {"error": "login_required", "error_description": "The refresh_token is invalid"},
                status=401,
            )
        serial = next(self._serial)
        access = f"sim-access-{serial}"
        self._valid.add(access)
        if self.options.rotate_refresh_token:
            self.refresh_token = f"sim-refresh-{serial}"
        return web.json_response(
            {
                "access_token": access,
                "refresh_token": self.refresh_token,
                "expires_in": 28_800,
                "token_type": "Bearer",
            }
        )

    def _authorised(self, request: web.Request) -> web.StreamResponse | None:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip()
        if token in self._valid:
            return None
        reason = "token expired (401)" if token in self._expired else "invalid bearer token"
        return _error(401, reason)

    async def _products(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._authorised(request)) is not None:
            return refused
        site = {
            "energy_site_id": self.options.site_id,
            "resource_type": "battery",
            "site_name": self.options.site_name,
            "id": f"STE{self.options.site_id}",
            "gateway_id": self.sim.din,
            "battery_type": "ac_powerwall",
            "percentage_charged": round(self.sim.state.soe, 1),
        }
        return web.json_response({"response": [site], "count": 1})

    async def _command(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._authorised(request)) is not None:
            return refused
        if request.match_info["site_id"] != str(self.options.site_id):
            return _error(404, "not_found")
        name, fields = _authorization_message(await _json_body(request))
        self.expire_pending()
        if name == "add_authorized_client_request":
            return web.json_response({"response": self._record(self._add(fields))})
        if name == "list_authorized_clients_request":
            clients = [self._record(key) for key in self.sim.keys.clients()]
            return web.json_response({"response": {"clients": clients}})
        if name == "remove_authorized_client_request":
            self.remove(_public_key(fields))
            return web.json_response({"response": {}})
        raise CloudError(f"unsupported authorization message {name!r}")

    def _add(self, fields: dict[str, Any]) -> AuthorizedKey:
        if fields.get("key_type") != 1 or fields.get("authorized_client_type") != 1:
            raise CloudError("key_type and authorized_client_type must be 1")
        der = _public_key(fields)
        known = self.sim.keys.get(der)
        if known is not None and known.state is KeyState.VERIFIED:
            return known
        description = fields.get("description")
        return self.sim.keys.add(der, str(description or ""), self.sim.now())

    @staticmethod
    def _record(key: AuthorizedKey) -> dict[str, Any]:
        return {
            "public_key": base64.b64encode(key.public_key_der).decode("ascii"),
            "state": int(key.state),
            "description": key.description,
            "type": 1,
            "key_type": 1,
            "added_time": {"seconds": int(key.added_at)},
        }

    # -- control --------------------------------------------------------------------------------

    async def _toggle(self, request: web.Request) -> web.StreamResponse:
        verified = self.toggle()
        return web.json_response(
            {"verified": [_fingerprint(key.public_key_der) for key in verified]}
        )

    async def _control(self, request: web.Request) -> web.StreamResponse:
        action = request.match_info["action"]
        try:
            if request.method == "GET" and action == "state":
                return web.json_response(self.state_json())
            if request.method != "POST":
                return _error(405, "use POST")
            body = await _json_body(request)
            if action == "throttle":
                self.throttle(_count(body), float(body.get("retry_after", 1.0)))
            elif action == "expire_tokens":
                self.expire_access_tokens()
            elif action == "remove":
                if not self.remove(_public_key(body)):
                    return _error(404, "no such key")
            else:
                return _error(404, f"no such cloud control: {action}")
        except (CloudError, TypeError, ValueError) as err:
            return _error(400, str(err))
        return web.json_response(self.state_json())


def _error(status: int, message: str) -> web.Response:
    return web.json_response(
        {"response": None, "error": message, "error_description": ""}, status=status
    )


async def _json_body(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return json.loads(raw) if raw.strip() else {}
    except ValueError as err:
        raise CloudError(f"not JSON: {err}") from None


def _authorization_message(body: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(body, dict) or body.get("command_type") != "grpc_command":
        raise CloudError("expected a grpc_command")
    properties = body.get("command_properties")
    message = properties.get("message") if isinstance(properties, dict) else None
    auth = message.get("authorization") if isinstance(message, dict) else None
    if not isinstance(auth, dict) or len(auth) != 1:
        raise CloudError("expected one authorization message")
    ((name, fields),) = auth.items()
    if not isinstance(fields, dict):
        raise CloudError(f"{name} must be an object")
    return name, fields


def _public_key(fields: Any) -> bytes:
    value = fields.get("public_key") if isinstance(fields, dict) else None
    if not isinstance(value, str):
        raise CloudError("public_key must be a base64 string")
    try:
        der = base64.b64decode(value, validate=True)
        key = load_der_public_key(der)
    except (binascii.Error, ValueError) as err:
        raise CloudError(f"public_key is not a base64 DER public key: {err}") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise CloudError("public_key must be an RSA key")
    if key.public_bytes(Encoding.DER, PublicFormat.PKCS1) != der:
        raise CloudError("public_key must be PKCS#1 DER (RSAPublicKey), not SubjectPublicKeyInfo")
    return der


def _count(body: Any) -> int:
    value = body.get("count") if isinstance(body, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CloudError("expected a JSON object with a non-negative integer 'count'")
    return value


def _fingerprint(der: bytes) -> str:
    digest = hashlib.sha256(der).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")
