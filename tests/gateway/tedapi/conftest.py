"""Keys shared by the TEDAPI tests: RSA generation is slow, so each is made once per session."""

from __future__ import annotations

import pytest

from pw2mqtt.gateway.tedapi.keys import SigningKey, generate_key

DIN = "1232100-00-E--TG123456789012"
OTHER_DIN = "1232100-00-E--TG999999999999"


@pytest.fixture(scope="session")
def key() -> SigningKey:
    """A 2048-bit key: the smallest the key store accepts, for tests where size does not matter."""
    return generate_key(key_size=2048)


@pytest.fixture(scope="session")
def other_key() -> SigningKey:
    return generate_key(key_size=2048)
