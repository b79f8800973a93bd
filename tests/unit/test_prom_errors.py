"""How the Prometheus source names a failure: by HTTP status and exception type.

Real sockets on loopback, no Prometheus: a closed port, a server that never
answers, plain HTTP spoken to an https URL, and prometheus-api-client's own
error for a non-200 answer.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from console.metrics.config import load_config
from console.metrics.prometheus import PromTransport, QueryError, status_of
from tests.lab.proc import free_port

NOT_FOUND = "{url} has no Prometheus API at /api/v1 (HTTP 404); check the URL and path prefix"


def _transport(url: str, **overrides: object) -> PromTransport:
    return PromTransport(load_config(url=url, timeout_s=0.5, **overrides))


@pytest.fixture
def server() -> Iterator[tuple[str, dict[str, object]]]:
    """Answers every GET with the status and body set in the returned dict."""
    reply: dict[str, object] = {"status": 503, "body": b'{"status":"error","error":"down"}'}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            body = reply["body"]
            assert isinstance(body, bytes)
            self.send_response(int(str(reply["status"])))
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", reply
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_the_client_error_message_gives_status_and_body_back() -> None:
    from prometheus_api_client.exceptions import PrometheusApiClientException

    # Formatted exactly as prometheus-api-client formats it (see the next test too).
    exc = PrometheusApiClientException(
        "HTTP Status Code {} ({!r})".format(422, b'{"error":"parse error: \'x\'"}')
    )
    assert status_of(str(exc)) == (422, b'{"error":"parse error: \'x\'"}')
    assert status_of("something else") is None


@pytest.mark.parametrize(
    ("status", "body", "reason", "transient"),
    [
        (503, b'{"status":"error","error":"store gateway down"}',
         "{url} answered HTTP 503: store gateway down", True),
        (401, b"", "{url} refused the credentials (HTTP 401)", False),
        (403, b"forbidden", "{url} refused the credentials (HTTP 403)", False),
        (404, b"", NOT_FOUND, False),
        (400, b'{"status":"error","error":"bad_data: parse error"}',
         "{url} rejected a query (HTTP 400): bad_data: parse error", False),
        (200, b"<html>not json</html>", "malformed answer from {url} (not Prometheus API JSON)",
         True),
        (200, b'{"status":"success"}', "malformed answer from {url} (not Prometheus API JSON)",
         True),
    ],
)  # fmt: skip
def test_http_answers_are_classified_by_status(
    server: tuple[str, dict[str, object]],
    status: int,
    body: bytes,
    reason: str,
    transient: bool,
) -> None:
    url, reply = server
    reply.update(status=status, body=body)
    transport = _transport(url)
    for call in (
        lambda: transport.instant("up"),
        lambda: transport.status("buildinfo"),
    ):
        with pytest.raises(QueryError) as info:
            call()
        assert info.value.reason == reason.format(url=url)
        assert info.value.transient is transient
    transport.close()


def test_connection_refused() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(QueryError) as info:
        _transport(url).instant("up")
    assert info.value.reason == f"connection refused to {url}" and info.value.transient


def test_no_answer_is_a_timeout() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)  # accepts connections (in the backlog) and never answers
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(QueryError) as info:
            _transport(url).instant("up")
        assert info.value.reason == f"no answer from {url} within 0.5s"
    finally:
        listener.close()


def test_plain_http_behind_an_https_url_is_a_tls_failure(
    server: tuple[str, dict[str, object]],
) -> None:
    url = server[0].replace("http://", "https://")
    with pytest.raises(QueryError) as info:
        _transport(url).instant("up")
    assert info.value.reason.startswith(f"TLS verification failed for {url}")
    assert not info.value.transient


def test_unresolvable_host() -> None:
    url = "http://prometheus.invalid:9090"
    with pytest.raises(QueryError) as info:
        _transport(url).instant("up")
    assert info.value.reason == f"cannot resolve the host of {url}"


def test_a_connection_closed_mid_answer() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            # Promise 1000 bytes, send 10, hang up.
            conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{"status":')

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(QueryError) as info:
            _transport(url).instant("up")
        assert info.value.reason == f"{url} closed the connection mid-answer"
        assert info.value.transient
    finally:
        thread.join(timeout=5)
        listener.close()
