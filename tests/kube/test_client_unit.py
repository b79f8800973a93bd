"""KubeClient's manners (client-go's) against a loopback HTTP server it cannot tell from
an API server: 429 and Retry-After, reads retried and writes never resent, paging and
an expired continue token, a 401 running the exec plugin again, patch content types,
and streams that end on silence or on stop(). The lab tests cover the real server.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from console.kube import client as client_mod
from console.kube.client import KubeClient, WatchHandle
from console.kube.config import load_clusters
from console.kube.errors import ApiError, describe_error
from console.kube.provider import JSON_PATCH, MERGE_PATCH, ResourceType

ROLLOUTS = ResourceType("argoproj.io", "v1alpha1", "rollouts", "Rollout")
PODS = ResourceType("", "v1", "pods", "Pod")


class Server(http.server.ThreadingHTTPServer):
    #: (status, headers, body) answered in turn ("drop": close without answering);
    #: then 200 with {"ok": true}.
    script: list[tuple[int | str, dict[str, str], Any]]
    #: (method, path with query, Content-Type, Authorization) of every request.
    seen: list[tuple[str, str, str, str]]


class Handler(http.server.BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.seen.append(
            (
                self.command,
                self.path,
                self.headers.get("Content-Type") or "",
                self.headers.get("Authorization") or "",
            )
        )
        status, headers, body = (
            self.server.script.pop(0) if self.server.script else (200, {}, {"ok": True})
        )
        if status == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        data = json.dumps(body).encode()
        self.send_response(int(status))
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PATCH = do_POST = _answer

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


def client(port: int, tmp_path: Path, user: dict[str, Any] | None = None) -> KubeClient:
    """A KubeClient built the console's way: from a kubeconfig, through the package."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "u", "user": user or {"token": "t0ken"}}],
        "contexts": [{"name": "lab", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "lab",
    }
    path = tmp_path / f"kubeconfig-{port}"
    path.write_text(yaml.safe_dump(config))
    [c] = load_clusters(str(path), [])
    return KubeClient(c.name, c.connection, c.user, timeout=5)


def port(server: Server) -> int:
    return int(server.server_address[1])


def methods(server: Server) -> list[str]:
    return [m for m, *_ in server.seen]


def test_429_is_retried_after_retry_after(server: Server, tmp_path: Path) -> None:
    server.script = [(429, {"Retry-After": "1"}, {}), (429, {"Retry-After": "0"}, {})]
    started = time.monotonic()
    assert client(port(server), tmp_path).request("GET", "/apis") == {"ok": True}
    assert methods(server) == ["GET", "GET", "GET"]
    assert time.monotonic() - started >= 1.0
    assert all(auth == "Bearer t0ken" for *_, auth in server.seen)


def test_429_is_retried_for_a_write_too_but_not_forever(server: Server, tmp_path: Path) -> None:
    server.script = [(429, {"Retry-After": "0"}, {"message": "storage is (re)initializing"})] * 10
    with pytest.raises(ApiError) as caught:
        client(port(server), tmp_path).request("PATCH", "/x", body={"a": 1})
    assert caught.value.status == 429
    assert caught.value.message == "storage is (re)initializing"
    assert methods(server) == ["PATCH"] * 6  # the first try and five waits


def test_5xx_is_retried_for_a_read_only(server: Server, tmp_path: Path) -> None:
    c = client(port(server), tmp_path)
    server.script = [(503, {}, {}), (500, {}, {})]
    assert c.request("GET", "/apis") == {"ok": True}
    assert methods(server) == ["GET"] * 3
    server.seen.clear()
    server.script = [(503, {}, {"message": "try later"})]
    with pytest.raises(ApiError) as caught:
        c.merge_patch(ROLLOUTS, "ns", "x", {"spec": {"paused": True}})
    assert caught.value.status == 503
    assert methods(server) == ["PATCH"]  # never sent twice


def test_a_dropped_connection_resends_a_read_never_a_write(server: Server, tmp_path: Path) -> None:
    c = client(port(server), tmp_path)
    server.script = [("drop", {}, None)]
    assert c.request("GET", "/apis") == {"ok": True}
    assert methods(server) == ["GET", "GET"]
    server.seen.clear()
    server.script = [("drop", {}, None)]
    with pytest.raises(ConnectionResetError) as caught:
        c.json_patch(ROLLOUTS, "ns", "x", [{"op": "test", "path": "/a", "value": 1}])
    assert methods(server) == ["PATCH"]
    text = describe_error(caught.value, what="patch ns/x", cluster="lab")
    assert text.startswith("Failed to patch ns/x on cluster 'lab': ") and "closed" in text


def test_patches_state_their_content_type(server: Server, tmp_path: Path) -> None:
    c = client(port(server), tmp_path)
    c.merge_patch(ROLLOUTS, "ns", "x", {"status": {"abort": True}}, subresource="status")
    c.json_patch(ROLLOUTS, "ns", "x", [{"op": "replace", "path": "/spec/paused", "value": True}])
    c.create(ROLLOUTS, "ns", {"kind": "Rollout"})
    assert [(m, p, ct) for m, p, ct, _ in server.seen] == [
        ("PATCH", "/apis/argoproj.io/v1alpha1/namespaces/ns/rollouts/x/status", MERGE_PATCH),
        ("PATCH", "/apis/argoproj.io/v1alpha1/namespaces/ns/rollouts/x", JSON_PATCH),
        ("POST", "/apis/argoproj.io/v1alpha1/namespaces/ns/rollouts", "application/json"),
    ]


def _page(names: list[str], cont: str, rv: str = "7") -> tuple[int, dict[str, str], Any]:
    items = [{"metadata": {"name": n}} for n in names]
    return 200, {}, {"items": items, "metadata": {"resourceVersion": rv, "continue": cont}}


def test_lists_are_paged_and_an_expired_token_starts_again(server: Server, tmp_path: Path) -> None:
    c = client(port(server), tmp_path)
    c.page_size = 2
    server.script = [
        _page(["a", "b"], "t1"),
        (410, {}, {"reason": "Expired"}),
        _page(["a", "b"], "t2"),
        _page(["c"], "", rv="9"),
    ]
    items, rv = c.list_with_version(PODS, "ns")
    assert [i["metadata"]["name"] for i in items] == ["a", "b", "c"]
    assert {i["kind"] for i in items} == {"Pod"} and rv == "9"
    queries = [p.split("?", 1)[1] for _, p, _, _ in server.seen]
    assert queries == ["limit=2", "limit=2&continue=t1", "limit=2", "limit=2&continue=t2"]
    # Expired twice: one list without pages, as client-go's pager falls back to.
    server.seen.clear()
    server.script = [
        _page(["a", "b"], "t1"),
        (410, {}, {}),
        _page(["a", "b"], "t2"),
        (410, {}, {}),
        _page(["a", "b", "c"], ""),
    ]
    assert [i["metadata"]["name"] for i in c.list(PODS, None)] == ["a", "b", "c"]
    assert "limit" not in server.seen[-1][1]


def test_a_401_runs_the_exec_plugin_again_once(server: Server, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    plugin = tmp_path / "plugin"
    plugin.write_text(
        f"#!/bin/sh\necho run >> {runs}\nn=$(wc -l < {runs})\n"
        'echo "{\\"kind\\":\\"ExecCredential\\",\\"status\\":{\\"token\\":\\"t-$n\\"}}"\n'
    )
    plugin.chmod(0o755)
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin)}}
    c = client(port(server), tmp_path, user)
    server.script = [(401, {}, {})]
    assert c.request("GET", "/apis") == {"ok": True}
    assert runs.read_text().count("run") == 2  # the refused credential, then a fresh one
    assert [auth for *_, auth in server.seen] == ["Bearer t-1", "Bearer t-2"]
    server.script = [(401, {}, {}), (401, {}, {})]
    with pytest.raises(ApiError) as caught:
        c.request("GET", "/apis")
    assert caught.value.status == 401  # once again, not forever
    assert runs.read_text().count("run") == 3


def test_network_errors_are_the_builtin_ones(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as s:
        free = s.getsockname()[1]
    with pytest.raises(ConnectionRefusedError) as refused:
        client(free, tmp_path).request("GET", "/version")
    text = describe_error(refused.value, what="list pods", cluster="lab")
    assert text.startswith("Connection refused: the API server on cluster 'lab'")
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        c = client(silent.getsockname()[1], tmp_path)
        c.timeout = 0.5
        with pytest.raises(TimeoutError) as slow:
            c.request("GET", "/version")
    assert describe_error(slow.value, what="list pods", cluster="lab").startswith("Timed out:")


@pytest.fixture
def quiet_server() -> Iterator[int]:
    """Answers a watch with its headers and one event, then says nothing more."""
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        event = b'{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"7"}}}\n'
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + f"{len(event):x}\r\n".encode() + event + b"\r\n"
        )
        done.wait(30)
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        done.set()
        listener.close()


def test_a_watch_silent_past_the_read_timeout_ends_without_an_error(
    quiet_server: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_mod, "watch_read_timeout", lambda: 1.0)
    c = client(quiet_server, tmp_path)
    started = time.monotonic()
    events = list(c.watch_events(PODS, None, "1", 300))
    took = time.monotonic() - started
    assert [e["type"] for e in events] == ["BOOKMARK"]
    assert 1.0 <= took < 5.0


def test_stop_ends_a_blocked_log_stream_at_once(quiet_server: int, tmp_path: Path) -> None:
    c = client(quiet_server, tmp_path)
    handles: list[WatchHandle] = []
    path = "/api/v1/namespaces/ns/pods/p/log"
    lines = c.stream_text(path, [("follow", "true")], 5, handles.append)
    assert "BOOKMARK" in next(lines)  # open; the next read waits for the pod
    timer = threading.Timer(0.5, handles[0].stop)
    timer.start()
    started = time.monotonic()
    assert list(lines) == []
    assert time.monotonic() - started < 3.0


def test_raw_json_is_cheaper_than_the_typed_models() -> None:
    """Why KubeClient decodes JSON itself: a list of 500 Pods, json.loads against the
    package's ApiClient.deserialize into V1PodList (here about 1 ms against 40 ms)."""
    from kubernetes.client import ApiClient

    pod = {
        "metadata": {"name": "p", "namespace": "ns", "labels": {"app": "x"}, "uid": "u"},
        "spec": {"containers": [{"name": "c", "image": "i:1", "ports": [{"containerPort": 80}]}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }
    text = json.dumps({"kind": "PodList", "metadata": {}, "items": [pod] * 500})
    api = ApiClient()
    started = time.perf_counter()
    api.deserialize(text, "V1PodList", "application/json")
    typed = time.perf_counter() - started
    started = time.perf_counter()
    json.loads(text)
    raw = time.perf_counter() - started
    assert raw * 3 < typed, (raw, typed)
