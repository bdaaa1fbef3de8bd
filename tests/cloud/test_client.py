"""`TeslaCloud` in-process against the simulated cloud: tokens never reach logs or errors."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

import pytest

from pw2mqtt.cloud.client import CloudEndpoints, TeslaCloud
from pw2mqtt.cloud.errors import CloudConnectionError, CloudError, RateLimitedError
from pw2mqtt.cloud.tokens import TeslaTokens
from pw2mqtt.gateway.tedapi.answers import ClientState
from pw2mqtt.gateway.tedapi.keys import generate_key
from pw2mqtt.simulator import GatewaySimulator, SimulatorOptions
from pw2mqtt.simulator.cloud import CloudOptions
from pw2mqtt.simulator.control import ControlServer

REFRESH = "rt-SECRET-3b9d"
ACCESS = "at-SECRET-c41e"
CLOUD = CloudOptions(refresh_token=REFRESH, access_token=ACCESS, rotate_refresh_token=True)


@pytest.fixture
async def server() -> AsyncIterator[ControlServer]:
    options = SimulatorOptions(speed=0.0, control_port=0)
    async with GatewaySimulator(options) as sim, ControlServer(sim, cloud=CLOUD) as control:
        yield control


def endpoints(server: ControlServer) -> CloudEndpoints:
    return CloudEndpoints(server.url + "/cloud", server.url + "/cloud/oauth2/v3/token")


async def test_pairing_steps_and_no_token_in_logs_or_reprs(
    server: ControlServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.cloud.expire_access_tokens()
    tokens = TeslaTokens(ACCESS, REFRESH)
    der = generate_key(key_size=2048).public_key_der
    said: list[str] = []
    deadline = time.monotonic() + 30
    async with TeslaCloud(tokens, endpoints(server), deadline=deadline, say=said.append) as cloud:
        (site,) = await cloud.energy_sites()
        assert site.din == server.cloud.sim.din
        assert await cloud.client_state(site.site_id, der) is None
        assert await cloud.add_authorized_client(site.site_id, der, "x") is ClientState.PENDING
        server.cloud.toggle()
        assert await cloud.client_state(site.site_id, der) is ClientState.VERIFIED
        shown = repr(cloud) + repr(tokens)
    assert tokens.rotated  # the simulated cloud handed out a new refresh token
    assert tokens.refresh_token != REFRESH
    for secret in (REFRESH, ACCESS, *tokens.secrets):
        assert secret not in caplog.text
        assert secret not in shown
        assert all(secret not in line for line in said)
    assert "refreshing it" in caplog.text  # the expired access token was noticed


async def test_429_beyond_the_deadline_and_network_failure(server: ControlServer) -> None:
    server.cloud.throttle(5, retry_after=60)
    tokens = TeslaTokens(ACCESS, None)
    said: list[str] = []
    deadline = time.monotonic() + 5
    async with TeslaCloud(tokens, endpoints(server), deadline=deadline, say=said.append) as cloud:
        with pytest.raises(RateLimitedError, match="rate limiting"):
            await cloud.energy_sites()
    assert said == []  # gave up at once rather than wait past the deadline
    dead = CloudEndpoints("http://127.0.0.1:9/cloud", "http://127.0.0.1:9/token")
    async with TeslaCloud(tokens, dead, deadline=deadline) as cloud:
        with pytest.raises(CloudConnectionError, match=r"cannot reach 127\.0\.0\.1:9") as error:
            await cloud.energy_sites()
    assert ACCESS not in str(error.value)


def test_tokens_only_over_https_or_to_this_machine() -> None:
    with pytest.raises(CloudError, match="https"):
        CloudEndpoints("http://owner-api.example.com")
    with pytest.raises(CloudError, match="https"):
        CloudEndpoints(token_url="ftp://auth.example.com/token")
    assert CloudEndpoints("http://[::1]:8080/cloud").api_url.startswith("http://[::1]")
