import pytest

from pw2mqtt.backoff import Backoff
from pw2mqtt.gateway.address import GatewayAddress, server_name_for
from pw2mqtt.gateway.tls import format_fingerprint, normalise_fingerprint


@pytest.mark.parametrize(
    ("text", "host", "port", "url"),
    [
        ("192.168.1.5", "192.168.1.5", 443, "https://192.168.1.5"),
        ("192.168.1.5:8443", "192.168.1.5", 8443, "https://192.168.1.5:8443"),
        ("powerwall.home.lan", "powerwall.home.lan", 443, "https://powerwall.home.lan"),
        ("teg:4443", "teg", 4443, "https://teg:4443"),
        ("[::1]:8443", "::1", 8443, "https://[::1]:8443"),
        ("[fe80::1]", "fe80::1", 443, "https://[fe80::1]"),
        ("fe80::1", "fe80::1", 443, "https://[fe80::1]"),
        ("  10.0.0.2  ", "10.0.0.2", 443, "https://10.0.0.2"),
    ],
)
def test_parse_address(text: str, host: str, port: int, url: str) -> None:
    address = GatewayAddress.parse(text)
    assert (address.host, address.port, address.base_url) == (host, port, url)


@pytest.mark.parametrize(
    "text", ["", "https://192.168.1.5", "host:0", "host:70000", "host:abc", "a b", "user@host"]
)
def test_parse_address_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        GatewayAddress.parse(text)


def test_address_key_is_file_name_safe() -> None:
    assert GatewayAddress.parse("[fe80::1]:8443").key == "fe80__1_8443"


@pytest.mark.parametrize(
    ("host", "configured", "expected"),
    [
        ("192.168.1.5", None, None),
        ("::1", None, None),
        ("powerwall.home.lan", None, "powerwall"),
        ("localhost:8443", None, "powerwall"),
        ("192.168.1.5", "teg", "teg"),
        ("powerwall.home.lan", "", None),
    ],
)
def test_server_name(host: str, configured: str | None, expected: str | None) -> None:
    assert server_name_for(GatewayAddress.parse(host), configured) == expected


def test_fingerprint_forms() -> None:
    digest = "ab" * 32
    assert normalise_fingerprint(format_fingerprint(digest)) == digest
    assert normalise_fingerprint("SHA256=" + digest.upper()) == digest
    with pytest.raises(ValueError, match="64 hex"):
        normalise_fingerprint("abcd")


def test_backoff_grows_to_a_cap_with_jitter_and_resets() -> None:
    backoff = Backoff(base=2.0, maximum=60.0)
    delays = [backoff.fail() for _ in range(12)]
    ceilings = [min(60.0, 2.0 * 2**i) for i in range(12)]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling
    assert max(delays) <= 60.0
    backoff.reset()
    assert backoff.fail() <= 2.0
