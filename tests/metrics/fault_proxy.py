"""A tiny loopback HTTP proxy in front of a real Prometheus that misbehaves on demand.

Modes: ``pass`` (forward), ``slow`` (wait ``delay`` seconds, then forward),
``5xx`` (503 with a Prometheus-style error body), ``hostile5xx`` (500 whose
error text carries escape sequences, C1 controls and a bidi override, and is
5,000 characters long), ``echo5xx`` (500 whose
error text echoes the Authorization header), ``garbage`` (200 with a body
that is not JSON), ``auth`` (forward only with ``Authorization: Bearer
<token>``, else 401; the 401 body echoes the header it got, as careless
gateways do, so tests can check the console redacts it). A ``prefix`` (e.g.
``/prometheus``) is stripped before forwarding, like a Mimir/Thanos gateway.
"""

from __future__ import annotations

import json
import ssl
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


class FaultProxy:
    def __init__(self, upstream: str, prefix: str = "", tls: tuple[str, str] | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        self.prefix = prefix.rstrip("/")
        self.mode = "pass"
        self.delay = 3.0
        self.token = ""
        self.requests: list[str] = []
        self._stop = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                proxy._handle(self)

            def do_POST(self) -> None:
                proxy._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.scheme = "http"
        if tls is not None:  # (cert file, key file): serve HTTPS
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}{self.prefix}"

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def _reply(self, h: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        self.requests.append(h.path)
        mode = self.mode
        if mode == "slow":
            self._stop.wait(self.delay)
        if mode == "5xx":
            body = b'{"status":"error","errorType":"unavailable","error":"store gateway down"}'
            return self._reply(h, 503, body, "application/json")
        if mode == "echo5xx":  # a gateway that echoes the request's credentials in its error
            error = f"upstream failed for Authorization: {h.headers.get('Authorization')}"
            body = ('{"status":"error","errorType":"internal","error":"' + error + '"}').encode()
            return self._reply(h, 500, body, "application/json")
        if mode == "hostile5xx":  # an error body that would drive the operator's terminal
            error = "\x1b[2J\x1b[31mmallory\x1b]0;pwned\x07 \u202e\x9b2J" + "E" * 5000
            body = json.dumps({"status": "error", "errorType": "internal", "error": error})
            return self._reply(h, 500, body.encode(), "application/json")
        if mode == "garbage":
            return self._reply(h, 200, b"<html>maintenance</html>", "text/html")
        if mode == "auth" and h.headers.get("Authorization") != f"Bearer {self.token}":
            echo = f"bad credentials: Authorization: {h.headers.get('Authorization')}"
            return self._reply(h, 401, echo.encode(), "text/plain")
        path = h.path
        if self.prefix:
            if not path.startswith(self.prefix + "/"):
                return self._reply(h, 404, b"404 page not found", "text/plain")
            path = path[len(self.prefix) :]
        length = int(h.headers.get("Content-Length") or 0)
        data = h.rfile.read(length) if length else None
        request = urllib.request.Request(self.upstream + path, data=data, method=h.command)
        if h.headers.get("Content-Type"):
            request.add_header("Content-Type", h.headers["Content-Type"])
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, body = response.status, response.read()
                ctype = response.headers.get("Content-Type", "application/json")
        except urllib.error.HTTPError as exc:
            status, body, ctype = exc.code, exc.read(), "application/json"
        except OSError:
            status, body, ctype = 502, b"bad gateway", "text/plain"
        self._reply(h, status, body, ctype)
