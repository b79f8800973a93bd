"""The hand-made transport's manners against a real loopback HTTP server."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.kube.transport import ApiError, Credentials, Transport


class Server(http.server.ThreadingHTTPServer):
    #: (status, headers) answered in turn; then 200 with {"ok": true}.
    script: list[tuple[int, dict[str, str]]]
    seen: list[str]


class Handler(http.server.BaseHTTPRequestHandler):
    server: Server

    def _answer(self) -> None:
        self.server.seen.append(self.command)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        status, headers = self.server.script.pop(0) if self.server.script else (200, {})
        body = json.dumps({"ok": status == 200, "message": "storage is (re)initializing"})
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    do_GET = do_PATCH = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server(("127.0.0.1", 0), Handler)
    srv.script, srv.seen = [], []
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def transport(server: Server) -> Transport:
    host, port = server.server_address[:2]
    return Transport(Credentials(server=f"http://{host}:{port}"), timeout=5)


def test_429_is_retried_after_retry_after(server: Server) -> None:
    server.script = [(429, {"Retry-After": "1"}), (429, {"Retry-After": "0"})]
    assert transport(server).request("GET", "/apis") == {
        "ok": True,
        "message": "storage is (re)initializing",
    }
    assert server.seen == ["GET", "GET", "GET"]


def test_429_that_never_ends_is_an_error(server: Server) -> None:
    server.script = [(429, {"Retry-After": "0"})] * 10
    with pytest.raises(ApiError) as caught:
        transport(server).request("PATCH", "/x", body={"a": 1})
    assert caught.value.status == 429
    assert len(server.seen) == 6  # the first try and five waits


def test_a_401_runs_the_exec_plugin_again_once(server: Server, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    plugin = tmp_path / "plugin"
    plugin.write_text(
        f"#!/bin/sh\necho run >> {runs}\n"
        'echo \'{"kind":"ExecCredential","status":{"token":"t"}}\'\n'
    )
    plugin.chmod(0o755)
    host, port = server.server_address[:2]
    creds = Credentials(server=f"http://{host}:{port}", exec_config={"command": str(plugin)})
    server.script = [(401, {})]
    assert Transport(creds, timeout=5).request("GET", "/apis")["ok"] is True
    assert runs.read_text().count("run") == 2  # the refused credential, then a fresh one
    server.script = [(401, {}), (401, {})]
    with pytest.raises(ApiError) as caught:
        Transport(creds, timeout=5).request("GET", "/apis")
    assert caught.value.status == 401  # once again, not forever
    assert runs.read_text().count("run") == 3
