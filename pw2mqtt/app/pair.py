"""`pw2mqtt pair`: pair the signing key with a gateway through Tesla's cloud, once.

With a Tesla token it finds the energy site of the gateway's DIN, sends the pairing request and
walks the owner through the power toggle until Tesla reports the key VERIFIED. Without one it
prints the public key for registering with another tool.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Final

from pw2mqtt.app.keys import add_key_location, state_dir_of
from pw2mqtt.app.pair_wait import TOGGLE_STEPS, Progress, countdown, wait_for_toggle
from pw2mqtt.cloud.client import (
    OWNER_API_URL,
    OWNER_CLIENT_ID,
    TOKEN_URL,
    CloudEndpoints,
    TeslaCloud,
)
from pw2mqtt.cloud.errors import CloudConnectionError, CloudError, CloudResponseError
from pw2mqtt.cloud.payloads import EnergySite, pick_site
from pw2mqtt.cloud.tokens import (
    ACCESS_ENV,
    REFRESH_ENV,
    TeslaTokens,
    find_tokens,
    save_rotated,
    token_file_is_private,
)
from pw2mqtt.config import GatewaySettings
from pw2mqtt.errors import GatewayError
from pw2mqtt.gateway.tedapi.answers import ClientState
from pw2mqtt.gateway.tedapi.errors import KeyFileMissingError, KeyStoreError
from pw2mqtt.gateway.tedapi.keys import (
    SigningKey,
    generate_key,
    key_path_for,
    load_key,
    resolve_key_path,
    save_key,
)

EXIT_FAILED = 1
EXIT_USAGE = 2
PAIRING_WINDOW: Final = 600.0  # seconds Tesla gives the owner for the power toggle
DEFAULT_DESCRIPTION: Final = "pw2mqtt"


def add_pair_arguments(pair: argparse.ArgumentParser) -> None:
    add_key_location(pair)
    mode = pair.add_mutually_exclusive_group()
    mode.add_argument(
        "--offline", action="store_true", help="no cloud: print the public key to register"
    )
    mode.add_argument(
        "--status", action="store_true", help="ask the gateway whether it knows the key"
    )
    pair.add_argument("--din", help="the gateway's DIN (else read from --host)")
    pair.add_argument("--host", help="gateway host or IP, to read its DIN")
    pair.add_argument("--password", help="the gateway's customer password, with --host")
    pair.add_argument(
        "--token-file", type=Path, help=f"Tesla tokens (else {REFRESH_ENV} / {ACCESS_ENV})"
    )
    pair.add_argument("--owner-api-url", default=OWNER_API_URL, help="Owner API base URL")
    pair.add_argument("--fleet-api-url", help="Fleet API base URL of your region (instead)")
    pair.add_argument("--token-url", default=TOKEN_URL, help="OAuth token endpoint")
    pair.add_argument(
        "--client-id", default=OWNER_CLIENT_ID, help="OAuth client id (Fleet API: your app's)"
    )
    pair.add_argument(
        "--description", default=DEFAULT_DESCRIPTION, help="name shown in Tesla's list"
    )
    pair.add_argument(
        "--timeout", type=float, default=PAIRING_WINDOW, help="seconds to wait for the toggle"
    )
    pair.add_argument("--poll-interval", type=float, default=5.0, help=argparse.SUPPRESS)
    pair.set_defaults(handler=run_pair)


def run_pair(args: argparse.Namespace) -> int:
    try:
        if args.status:
            return run_status(args)
        key, path = _key_for_pairing(args)
        if args.offline:
            print_offline(key, path)
            return 0
        tokens = find_tokens(args.token_file)
        if tokens is None:
            print(f"no Tesla token found (--token-file, {REFRESH_ENV} or {ACCESS_ENV})")
            print_offline(key, path)
            return EXIT_FAILED
        return asyncio.run(pair_online(args, key, tokens))
    except (KeyStoreError, CloudError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILED
    except ValueError as err:  # a slug that cannot name a directory
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE


def _key_for_pairing(args: argparse.Namespace) -> tuple[SigningKey, Path]:
    """The key to pair; a new shared one when there is none yet."""
    state_dir = state_dir_of(args)
    path = resolve_key_path(state_dir, args.gateway)
    try:
        return load_key(path), path
    except KeyFileMissingError:
        path = key_path_for(state_dir)
        key = generate_key()
        save_key(key, path)
        print(f"created a new signing key {path} (mode 0600)")
        return key, path


def print_offline(key: SigningKey, path: Path) -> None:
    print(f"key file     {path}")
    print(f"fingerprint  {key.fingerprint}")
    print("public key (base64 PKCS#1 DER, the public_key of add_authorized_client_request):")
    print(key.public_key_base64)
    print(
        "Register it for the gateway with a tool that can reach Tesla's cloud, toggle the "
        "Powerwall's power when asked, then check it with: pw2mqtt pair --status --host HOST "
        "--password PASSWORD"
    )


async def pair_online(args: argparse.Namespace, key: SigningKey, tokens: TeslaTokens) -> int:
    if tokens.path is not None and not token_file_is_private(tokens.path):
        print(f"warning: {tokens.path} may be read by others; fix it with: chmod 600 {tokens.path}")
    din = args.din or await _din_from_gateway(args)
    endpoints = CloudEndpoints(
        args.fleet_api_url or args.owner_api_url, args.token_url, args.client_id
    )
    progress = Progress(sys.stdout)
    deadline = time.monotonic() + args.timeout
    try:
        async with TeslaCloud(tokens, endpoints, deadline=deadline, say=progress.say) as cloud:
            return await _pair(args, cloud, key, din, progress)
    except CloudError as err:
        progress.end()
        print(f"error: {tokens.redact(str(err))}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        _keep_rotated(tokens)


async def _pair(
    args: argparse.Namespace,
    cloud: TeslaCloud,
    key: SigningKey,
    din: str | None,
    progress: Progress,
) -> int:
    site = pick_site(await cloud.energy_sites(), din)
    if din is None and not _confirmed(site):
        return EXIT_USAGE
    print(f"energy site  {site.name or '(unnamed)'} ({site.site_id}), gateway DIN {site.din}")
    print(f"key          {key.fingerprint}")
    der = key.public_key_der
    if await cloud.client_state(site.site_id, der) is ClientState.VERIFIED:
        print(f"already paired: the gateway knows key {key.fingerprint} (VERIFIED)")
        return 0
    await cloud.add_authorized_client(site.site_id, der, args.description)
    cloud.deadline = deadline = time.monotonic() + args.timeout  # the toggle window starts now
    print(f"Pairing requested. {TOGGLE_STEPS[0]}")
    for line in TOGGLE_STEPS[1:]:
        print(line)
    print(f"Time left: {countdown(args.timeout)}")
    state = await wait_for_toggle(
        lambda: _poll(cloud, site, der, progress),
        deadline=deadline,
        poll_every=args.poll_interval,
        progress=progress,
    )
    return _outcome(state, key, site)


async def _poll(
    cloud: TeslaCloud, site: EnergySite, der: bytes, progress: Progress
) -> ClientState | None:
    """The key's state; a network failure or a server error is said and the wait goes on."""
    try:
        return await cloud.client_state(site.site_id, der)
    except CloudConnectionError as err:
        progress.say(f"{err}; trying again")
    except CloudResponseError as err:
        if err.status < 500:
            raise
        progress.say(f"{err}; trying again")
    return ClientState.PENDING


def _outcome(state: ClientState, key: SigningKey, site: EnergySite) -> int:
    if state is ClientState.VERIFIED:
        print(f"VERIFIED: the gateway {site.din} accepts key {key.fingerprint}")
        return 0
    if state is ClientState.REMOVED:
        print(
            f"REMOVED: key {key.fingerprint} was removed from the gateway (in the Tesla app or by "
            "another paired key); run pw2mqtt pair again to request it anew",
            file=sys.stderr,
        )
        return EXIT_FAILED
    print("TIMEOUT: the toggle was not seen in time; run pw2mqtt pair again", file=sys.stderr)
    return EXIT_FAILED


def _confirmed(site: EnergySite) -> bool:
    """One site and no DIN given: the owner confirms it is the right gateway."""
    if not sys.stdin.isatty():
        print(
            f"error: the account's only energy site has gateway DIN {site.din}; confirm it is "
            "yours with --din (or --host and --password to read it from the gateway)",
            file=sys.stderr,
        )
        return False
    answer = input(f"Pair with the gateway DIN {site.din} ({site.name or 'unnamed'})? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


async def _din_from_gateway(args: argparse.Namespace) -> str | None:
    if args.host is None:
        return None
    from pw2mqtt.gateway.rest.client import GatewayClient  # noqa: PLC0415
    from pw2mqtt.gateway.rest.models import STATUS  # noqa: PLC0415
    from pw2mqtt.gateway.tedapi.din import parse_din  # noqa: PLC0415

    settings = _gateway_settings(args)
    try:
        async with GatewayClient(settings, state_dir_of(args)) as client:
            try:
                return parse_din(await client.request("GET", "/tedapi/din"))
            except GatewayError:
                status = await client.read(STATUS)
                if status.din:
                    return status.din
                raise
    except GatewayError as err:
        raise CloudError(f"cannot read the DIN from {args.host}: {err}; give --din") from None


def _gateway_settings(args: argparse.Namespace) -> GatewaySettings:
    if args.password is None:
        raise CloudError("--host needs --password (the gateway's customer password)")
    try:
        return GatewaySettings.model_validate({"host": args.host, "password": args.password})
    except ValueError as err:
        raise CloudError(f"--host {args.host}: {err}") from None


def _keep_rotated(tokens: TeslaTokens) -> None:
    if not tokens.rotated:
        return
    if save_rotated(tokens):
        print(f"Tesla issued a new refresh token; saved it in {tokens.path}")
    else:
        print(
            "note: Tesla issued a new refresh token and the old one may stop working; "
            "get a new one before pairing again",
            file=sys.stderr,
        )


def run_status(args: argparse.Namespace) -> int:
    """Ask the gateway over signed local control whether it knows the key."""
    from pw2mqtt.gateway.rest.client import GatewayClient  # noqa: PLC0415
    from pw2mqtt.gateway.signed_control import signed_control  # noqa: PLC0415

    if args.host is None:
        print("pw2mqtt pair --status: give --host and --password of the gateway", file=sys.stderr)
        return EXIT_USAGE
    settings = _gateway_settings(args)

    async def ask() -> str:
        async with GatewayClient(settings, state_dir_of(args)) as client:
            status = await signed_control(client, state_dir_of(args), args.gateway)
        print(status.line())
        return status.state

    return 0 if asyncio.run(ask()) == "verified" else EXIT_FAILED
