"""Where a gateway lives: host, port, and the TLS server name (SNI) to send."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

DEFAULT_PORT = 443
DEFAULT_SERVER_NAME = "powerwall"

_BRACKETED = re.compile(r"^\[(?P<host>[^\]]+)\](?::(?P<port>\d+))?$")


@dataclass(frozen=True, slots=True)
class GatewayAddress:
    host: str
    port: int = DEFAULT_PORT

    @classmethod
    def parse(cls, text: str) -> GatewayAddress:
        """Accept `host`, `host:port`, `[v6]`, `[v6]:port` and a bare IPv6 literal."""
        text = text.strip()
        if text.startswith(("https://", "http://")):
            raise ValueError(f"give the gateway as host or host:port, not a URL: {text!r}")
        if not text:
            raise ValueError("the gateway host is empty")
        if match := _BRACKETED.match(text):
            return cls(match["host"], _port(match["port"]))
        if text.count(":") > 1:  # an IPv6 literal without brackets has no port
            return cls(text)
        host, sep, port = text.partition(":")
        if not host or any(ch in host for ch in "/?#@ "):
            raise ValueError(f"not a host name or address: {text!r}")
        return cls(host, _port(port) if sep else DEFAULT_PORT)

    @property
    def is_ip_literal(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}" if self.port == DEFAULT_PORT else f"https://{host}:{self.port}"

    @property
    def key(self) -> str:
        """A file-name-safe identity for the state directory."""
        return re.sub(r"[^A-Za-z0-9._-]", "_", f"{self.host}_{self.port}")

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def server_name_for(address: GatewayAddress, configured: str | None) -> str | None:
    """The SNI name to send; None sends none.

    The gateway aborts handshakes naming a host it does not know, so a DNS name is replaced by
    `powerwall` unless the user configured another; an empty configured value sends no SNI.
    """
    if configured is not None:
        return configured or None
    return None if address.is_ip_literal else DEFAULT_SERVER_NAME


def _port(text: str | None) -> int:
    if not text:
        return DEFAULT_PORT
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"not a TCP port: {text!r}")
    return int(text)
