"""A stand-in for the Home Assistant Supervisor's `GET /services/mqtt`, on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any


@contextlib.contextmanager
def fake_supervisor(
    service: dict[str, Any], token: str
) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """(its URL, the requests it saw); it answers `service` to a request with `token`."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({"path": self.path, "auth": self.headers.get("Authorization", "")})
            ok = (
                self.path == "/services/mqtt" and self.headers["Authorization"] == f"Bearer {token}"
            )
            body = json.dumps({"result": "ok", "data": service} if ok else {"result": "error"})
            self.send_response(200 if ok else 401)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seen
    finally:
        server.shutdown()
        server.server_close()
