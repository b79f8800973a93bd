"""A dict-only client for one cluster (implements provider.KubeApi), with client-go's manners.

Requests go through the kubernetes package's ApiClient (console/kube/connection.py:
its urllib3 pool, TLS, proxy and credentials) with `_preload_content=False`, and
the JSON is decoded here with json.loads: the console reads dicts, and decoding
into the package's typed models and back costs several times as much (a
list of 500 Pods: see tests/kube/test_client_unit.py's docstring for the figure).

Manners, as client-go has them:

- A 429 (throttled, or "storage is (re)initializing" right after a CRD appears)
  is waited out as its Retry-After asks, for any verb: the server did nothing.
- A 5xx or a dropped connection is retried for a GET only. A write is never
  sent twice: the server may have carried it out (urllib3's own retries are off).
- Lists are paged (limit + continue). A continue token that expired (410) starts
  the list again; a second expiry falls back to one unpaged list, as client-go's
  pager does.
- A 401 while an exec plugin's credential is in use runs the plugin again, once.
- Timeouts are (connect, read) pairs: the request timeout (kubectl's
  --request-timeout, 10 s by default) for both, and for a watch the read timeout
  of console/kube/retry.py.

Every patch states its Content-Type: merge-patch (application/merge-patch+json)
or JSON patch (application/json-patch+json). Strategic merge patch is never
sent: custom resources reject it with 415, and the console has no use for it.
Network failures come out as builtin OSErrors (ConnectionRefusedError,
TimeoutError, ConnectionResetError, ssl.SSLError), which
console/kube/errors.py turns into sentences.
"""

from __future__ import annotations

import contextlib
import errno
import json
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import urllib3
from kubernetes.client.exceptions import ApiException

from console.kube.connection import Connection
from console.kube.errors import ApiError
from console.kube.provider import JSON_PATCH, MERGE_PATCH, ResourceType
from console.kube.retry import watch_read_timeout
from console.model import ConsoleError

__all__ = ["ApiError", "KubeClient", "WatchHandle"]

#: Seconds for ordinary requests (kubectl's --request-timeout): a hung server fails a
#: headless command, or an action in the UI, within this long.
DEFAULT_TIMEOUT = 10.0
#: Objects per list page (kubectl's --chunk-size).
PAGE_SIZE = 500
#: 429s answered with a wait before the request fails (client-go retries 10 times;
#: the console gives up sooner so a headless command still ends within seconds).
MAX_429_RETRIES = 5
_RETRY_AFTER_MAX_S = 5.0
#: A GET that met a 5xx or a dropped connection is sent again this many times.
MAX_READ_RETRIES = 2
_READ_RETRY_S = 0.5


def _retry_after(header: str | None, default: float = 1.0) -> float:
    """Seconds to wait for a Retry-After (integer seconds), bounded."""
    try:
        value = float(header) if header else default
    except ValueError:
        value = default
    return min(max(value, 0.1), _RETRY_AFTER_MAX_S)


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc` and what it wraps: urllib3 keeps the cause in .reason or in its args."""
    out: list[BaseException] = []
    todo = [exc]
    while todo and len(out) < 20:
        cur = todo.pop(0)
        if cur in out:
            continue
        out.append(cur)
        inner = [getattr(cur, "reason", None), cur.__cause__, cur.__context__, *cur.args]
        todo.extend(e for e in inner if isinstance(e, BaseException))
    return out


def network_error(exc: BaseException) -> OSError:
    """urllib3's exception as the builtin OSError the error sentences know."""
    causes = _causes(exc)
    for e in causes:
        if isinstance(e, ssl.SSLError | ConnectionRefusedError):
            return e
    if any(isinstance(e, urllib3.exceptions.NewConnectionError) for e in causes):
        found = next((e for e in causes if type(e) is not OSError and isinstance(e, OSError)), None)
        return found or ConnectionError(str(exc))
    if any(
        isinstance(e, urllib3.exceptions.TimeoutError | TimeoutError | socket.timeout)
        for e in causes
    ):
        return TimeoutError(errno.ETIMEDOUT, "timed out")
    if any(
        isinstance(e, urllib3.exceptions.ProtocolError | ConnectionError | EOFError)
        or type(e).__name__ in ("RemoteDisconnected", "IncompleteRead")
        for e in causes
    ):
        return ConnectionResetError(errno.ECONNRESET, "the API server closed the connection")
    found = next((e for e in causes if isinstance(e, OSError)), None)
    return found or ConnectionError(str(exc))


class WatchHandle:
    """Lets another thread end a blocked watch or log read at once (on shutdown)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._response: urllib3.BaseHTTPResponse | None = None
        self.stopped = False

    def attach(self, response: urllib3.BaseHTTPResponse) -> bool:
        """The stream is open; False when it was stopped before (close it then)."""
        with self._lock:
            if self.stopped:
                return False
            self._response = response
            return True

    def stop(self) -> None:
        with self._lock:
            self.stopped = True
            response = self._response
        if response is not None:
            # Shuts the socket down: a read blocked in another thread returns at once.
            with contextlib.suppress(Exception):
                response.shutdown()


class KubeClient:
    def __init__(
        self, cluster: str, connection: Connection, user: str, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.cluster = cluster
        self.connection = connection
        self.user = user
        self.timeout = timeout
        self.page_size = PAGE_SIZE

    # --- sending ------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str | None = None,
    ) -> Any:
        """JSON in, JSON out; raises ApiError for non-2xx, OSError for network trouble."""
        return self.send(method, path, query, body, content_type)

    def send(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Every request but streams passes here (a test may wrap it to watch them)."""
        t = timeout or self.timeout
        response = self._open(method, path, query, body, content_type, (t, t))
        try:
            data = response.data
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise network_error(exc) from None
        finally:
            response.release_conn()
        return json.loads(data) if data else None

    def _open(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]],
        body: Any,
        content_type: str | None,
        timeout: tuple[float, float],
        *,
        retry_reads: bool = True,
    ) -> urllib3.BaseHTTPResponse:
        """The 2xx response, unread; the retries of the module docstring happen here."""
        if body is not None and content_type is None:
            content_type = "application/json"
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        throttled = failed = 0
        reauthenticated = False
        while True:
            try:
                response = self._once(method, path, query, body, headers, timeout)
            except OSError as exc:
                if (
                    method == "GET"
                    and retry_reads
                    and isinstance(exc, ConnectionResetError)
                    and failed < MAX_READ_RETRIES
                ):
                    # A kept-alive connection the server closed: a read is sent again
                    # on a new one; a write is not, since the server may have done it.
                    failed += 1
                    time.sleep(random.uniform(0, _READ_RETRY_S * failed))
                    continue
                raise
            status = response.status
            if 200 <= status <= 299:
                return response
            retry_after = response.headers.get("Retry-After")
            payload = _drain(response)
            if status == 429 and throttled < MAX_429_RETRIES:
                # The server did nothing: any verb may be sent again, as client-go does,
                # after the Retry-After it asks for.
                throttled += 1
                time.sleep(_retry_after(retry_after))
                continue
            if status == 401 and not reauthenticated and self.connection.refused():
                # An exec credential revoked or expired early: client-go runs the
                # plugin again once, and so do we.
                reauthenticated = True
                continue
            if status >= 500 and method == "GET" and retry_reads and failed < MAX_READ_RETRIES:
                failed += 1
                time.sleep(_retry_after(retry_after, random.uniform(0.1, _READ_RETRY_S * failed)))
                continue
            raise ApiError(status, str(response.reason or ""), payload)

    def _once(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]],
        body: Any,
        headers: Mapping[str, str],
        timeout: tuple[float, float],
    ) -> urllib3.BaseHTTPResponse:
        api = self.connection.api_client()
        try:
            method, url, header_params, body, _ = api.param_serialize(
                method,
                quote(path, safe="/:@"),
                query_params=list(query),
                header_params=dict(headers),
                body=body,
                auth_settings=["BearerToken"],
            )
            rest = api.call_api(
                method, url, header_params=header_params, body=body, _request_timeout=timeout
            )
        except ConsoleError:
            raise
        except ApiException as exc:
            if exc.status:
                raise ApiError(exc.status, str(exc.reason or ""), str(exc.body or "")) from None
            # The package reports a TLS failure as status 0 with the text only.
            text = str(exc.reason or exc).replace("\n", ": ")
            raise ssl.SSLError(text) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise network_error(exc) from None
        response: urllib3.BaseHTTPResponse = rest.response
        return response

    def ping(self, timeout: float) -> None:
        """One cheap request (GET /version, public to every identity): raises when the
        API server does not answer within `timeout`; any HTTP answer counts as alive."""
        try:
            response = self._open("GET", "/version", (), None, None, (timeout, timeout))
        except ApiError:
            return
        _drain(response)

    # --- KubeApi --------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        out: dict[str, Any] = self.send("GET", rt.path(namespace, name))
        out.setdefault("kind", rt.kind)
        out.setdefault("apiVersion", rt.api_version)
        return out

    def list_with_version(
        self, rt: ResourceType, namespace: str | None, label_selector: str | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        """Items (kind/apiVersion filled in) and the list's resourceVersion for a watch."""
        selector = rt.label_selector if label_selector is None else label_selector
        query = [("labelSelector", selector)] if selector else []
        path = rt.path(namespace)
        pages = self._pages(path, query)
        if pages is None:
            # The continue token expired twice: one list without pages, as client-go's
            # pager falls back to.
            pages = [self.send("GET", path, query) or {}]
        items: list[dict[str, Any]] = []
        for page in pages:
            items.extend(page.get("items") or [])
        for item in items:
            # List items come without kind/apiVersion; events and providers want them.
            item.setdefault("kind", rt.kind)
            item.setdefault("apiVersion", rt.api_version)
        version = (pages[-1].get("metadata") or {}).get("resourceVersion") if pages else ""
        return items, str(version or "")

    def _pages(self, path: str, query: list[tuple[str, str]]) -> list[dict[str, Any]] | None:
        """Every page of a list; None when its continue token expired on both tries."""
        for _ in range(2):
            pages: list[dict[str, Any]] = []
            token = ""
            try:
                while True:
                    paging = [("limit", str(self.page_size))]
                    if token:
                        paging.append(("continue", token))
                    page = self.send("GET", path, [*query, *paging]) or {}
                    pages.append(page)
                    token = str((page.get("metadata") or {}).get("continue") or "")
                    if not token:
                        return pages
            except ApiError as exc:
                if exc.status != 410 or not token:
                    raise
                # Expired between pages (etcd compacted): the pages so far are from a
                # version that is gone; start again.
        return None

    def list(
        self, rt: ResourceType, namespace: str | None, label_selector: str = ""
    ) -> list[dict[str, Any]]:
        return self.list_with_version(rt, namespace, label_selector or None)[0]

    def merge_patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Mapping[str, Any],
        subresource: str = "",
    ) -> dict[str, Any]:
        out: dict[str, Any] = self.send(
            "PATCH", rt.path(namespace, name, subresource), (), dict(body), MERGE_PATCH
        )
        return out

    def json_patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        ops: Sequence[Mapping[str, Any]],
        subresource: str = "",
    ) -> dict[str, Any]:
        out: dict[str, Any] = self.send(
            "PATCH", rt.path(namespace, name, subresource), (), [dict(op) for op in ops], JSON_PATCH
        )
        return out

    def create(self, rt: ResourceType, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = self.send("POST", rt.path(namespace), (), dict(body))
        return out

    # --- streams --------------------------------------------------------------------

    def watch_events(
        self,
        rt: ResourceType,
        namespace: str | None,
        resource_version: str,
        timeout_seconds: int,
        on_open: Callable[[WatchHandle], None] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Raw watch events ({"type", "object"}) from `resource_version` until the server ends.

        Raises ApiError(410) when the version expired (in the response or as an
        ERROR event): the caller relists.
        """
        query = [
            ("watch", "true"),
            ("resourceVersion", resource_version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(timeout_seconds)),
        ]
        if rt.label_selector:
            query.append(("labelSelector", rt.label_selector))
        # A live server sends at least a bookmark per interval: a read that waits a few
        # intervals ends the stream, and the caller reopens it from its version.
        timeout = (self.timeout, watch_read_timeout())
        for line in self._lines(rt.path(namespace), query, timeout, on_open, wait_forever=False):
            if not line.strip():
                continue
            event = json.loads(line)
            if event.get("type") == "ERROR":
                status = event.get("object") or {}
                raise ApiError(
                    int(status.get("code") or 500),
                    str(status.get("reason") or "Error"),
                    json.dumps(status),
                )
            yield event

    def stream_text(
        self,
        path: str,
        query: Sequence[tuple[str, str]],
        connect_timeout: float,
        on_open: Callable[[WatchHandle], None] | None = None,
    ) -> Iterator[str]:
        """A text stream (pod logs), one decoded line at a time, on its own connection.

        Past the response headers reads wait without a timeout: a quiet pod is not an
        error. The caller ends the stream with the WatchHandle.
        """
        timeout = (connect_timeout, connect_timeout)
        for line in self._lines(path, query, timeout, on_open, wait_forever=True):
            yield line.decode("utf-8", "replace").rstrip("\r\n")

    def _lines(
        self,
        path: str,
        query: Sequence[tuple[str, str]],
        timeout: tuple[float, float],
        on_open: Callable[[WatchHandle], None] | None,
        *,
        wait_forever: bool,
    ) -> Iterator[bytes]:
        """Raw lines of a streamed GET. The read timeout bounds the response headers
        and, unless `wait_forever`, each read: one that times out ends the stream."""
        handle = WatchHandle()
        if on_open is not None:
            on_open(handle)
        response = self._open("GET", path, query, None, None, timeout, retry_reads=False)
        try:
            if not handle.attach(response):
                return
            if wait_forever:
                sock = getattr(getattr(response, "connection", None), "sock", None)
                if sock is not None:
                    sock.settimeout(None)
            try:
                yield from response
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                mapped = network_error(exc)
                # Silence past the read timeout once the stream is open ends it, as the
                # server's own timeout would; whether the server lives is the
                # heartbeat's call, not a quiet stream's. A stop() ends it too.
                if isinstance(mapped, TimeoutError) or handle.stopped:
                    return
                raise mapped from None
        finally:
            response.close()
            response.release_conn()


def _drain(response: urllib3.BaseHTTPResponse) -> str:
    """The body of an answer that is not used as data (an error's Status)."""
    try:
        return response.data.decode("utf-8", "replace")
    except (urllib3.exceptions.HTTPError, OSError):
        return ""
    finally:
        response.release_conn()
