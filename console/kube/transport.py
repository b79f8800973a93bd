"""A small HTTPS transport and kubeconfig reader for the Kubernetes API, on the stdlib.

Why not the `kubernetes` package: importing it costs about a second (it loads
every generated model and several auth libraries), which alone would make
`rollout-console get` several times slower than `kubectl get`, and delay the
TUI's first list. The console needs a handful of REST calls (list, watch, get,
patch, create, SelfSubjectAccessReview) with the kubeconfig's credentials;
this module does exactly that and imports in milliseconds.

Supported kubeconfig credentials: client certificates (file or data), bearer
tokens (token or tokenFile), basic auth, and exec credential plugins
(client.authentication.k8s.io, console/kube/exec_credentials.py). Legacy `auth-provider`
entries are refused with a clear sentence. In-cluster service-account config
is supported too.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from console.kube import exec_credentials
from console.kube.errors import redact
from console.model import ConfigError

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


#: 429s answered with a wait before the request fails (client-go retries 10 times;
#: the console gives up sooner so a headless command still ends within seconds).
MAX_429_RETRIES = 5
_RETRY_AFTER_MAX_S = 5.0


def _retry_after(header: str | None) -> float:
    """Seconds to wait for a 429's Retry-After (integer seconds), bounded."""
    try:
        value = float(header) if header else 1.0
    except ValueError:
        value = 1.0
    return min(max(value, 0.1), _RETRY_AFTER_MAX_S)


class ApiError(Exception):
    """A non-2xx answer. `.status`, `.reason`, `.body` as kubernetes' ApiException has them."""

    def __init__(self, status: int, reason: str, body: str = "") -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.body = body

    @property
    def message(self) -> str:
        try:
            data = json.loads(self.body)
        except ValueError:
            return self.reason
        return str(data.get("message") or self.reason) if isinstance(data, dict) else self.reason


# --- kubeconfig ---------------------------------------------------------------------------


@dataclass
class Credentials:
    server: str
    ca_file: str = ""
    ca_data: bytes = b""
    insecure: bool = False
    tls_server_name: str = ""
    cert_file: str = ""
    key_file: str = ""
    cert_data: bytes = b""
    key_data: bytes = b""
    token: str = ""
    token_file: str = ""
    username: str = ""
    password: str = ""
    exec_config: Mapping[str, Any] | None = None
    base_dir: str = ""
    #: The kubeconfig's user name: exec plugin results are cached per user.
    user: str = ""

    def bearer(self) -> str:
        if self.token:
            return self.token
        if self.token_file:
            # Re-read each time: projected service-account tokens rotate.
            with open(self.token_file, encoding="utf-8") as f:
                return f.read().strip()
        if self.exec_config is not None:
            return str(self._exec().get("token") or "")
        return ""

    def _exec(self) -> dict[str, Any]:
        return exec_credentials.CACHE.get(self.user, self.exec_config or {}, self.base_dir)

    def refused(self) -> bool:
        """The server refused our credential (401): forget an exec plugin's, so the
        next request runs the plugin again. True when there was one to forget."""
        if self.exec_config is None:
            return False
        exec_credentials.CACHE.invalidate(self.user, self.exec_config, self.base_dir)
        return True

    def ssl_context(self) -> ssl.SSLContext:
        if self.insecure:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif self.ca_data:
            ctx = ssl.create_default_context(cadata=self.ca_data.decode("ascii", "replace"))
        elif self.ca_file:
            ctx = ssl.create_default_context(cafile=self.ca_file)
        else:
            ctx = ssl.create_default_context()
        cert_data, key_data = self.cert_data, self.key_data
        if self.exec_config is not None and not (cert_data or self.cert_file):
            status = self._exec()
            if status.get("clientCertificateData"):
                cert_data = str(status["clientCertificateData"]).encode()
                key_data = str(status.get("clientKeyData") or "").encode()
        if self.cert_file or cert_data:
            if cert_data:
                # load_cert_chain takes only paths: a private temp dir, removed at once.
                with tempfile.TemporaryDirectory(prefix="rollout-console-") as tmp:
                    cert_path = os.path.join(tmp, "cert.pem")
                    key_path = os.path.join(tmp, "key.pem")
                    for path, data in ((cert_path, cert_data), (key_path, key_data)):
                        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                        with os.fdopen(fd, "wb") as f:
                            f.write(data)
                    ctx.load_cert_chain(cert_path, key_path if key_data else None)
            else:
                ctx.load_cert_chain(self.cert_file, self.key_file or None)
        return ctx


def _b64(value: Any) -> bytes:
    try:
        return base64.b64decode(str(value))
    except (ValueError, TypeError):
        raise ConfigError("The kubeconfig holds invalid base64 certificate data.") from None


def _abs(path: Any, base: str) -> str:
    text = os.path.expanduser(str(path or ""))
    return text if not text or os.path.isabs(text) else os.path.join(base, text)


@dataclass
class Context:
    name: str
    credentials: Credentials
    namespace: str
    user: str


def _load_files(paths: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    import yaml

    out: list[tuple[str, dict[str, Any]]] = []
    for path in paths:
        if not os.path.exists(path):
            continue
        try:
            with open(path, encoding="utf-8") as f:
                data = yaml.safe_load(f) or {}
        except OSError as exc:
            raise ConfigError(f"Cannot read kubeconfig {path}: {exc.strerror}.") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"Cannot read kubeconfig {path}: invalid YAML{where}.") from None
        if not isinstance(data, dict):
            raise ConfigError(f"Cannot read kubeconfig {path}: it is not a kubeconfig mapping.")
        out.append((path, data))
    return out


class KubeConfig:
    """The merged kubeconfig(s), kubectl's rules: the first file to define a name wins."""

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = list(paths)
        files = _load_files(paths)
        if not files:
            raise ConfigError(
                f"No kubeconfig at {os.pathsep.join(paths)}: pass --kubeconfig, set KUBECONFIG, "
                "or use --demo."
            )
        self.current = ""
        self.contexts: dict[str, tuple[dict[str, Any], str]] = {}
        self.clusters: dict[str, tuple[dict[str, Any], str]] = {}
        self.users: dict[str, tuple[dict[str, Any], str]] = {}
        for path, data in files:
            base = os.path.dirname(os.path.abspath(path))
            if not self.current and data.get("current-context"):
                self.current = str(data["current-context"])
            for key, target, inner in (
                ("contexts", self.contexts, "context"),
                ("clusters", self.clusters, "cluster"),
                ("users", self.users, "user"),
            ):
                for item in data.get(key) or []:
                    if isinstance(item, dict) and item.get("name") not in target:
                        target[str(item.get("name"))] = (item.get(inner) or {}, base)

    def context(self, name: str) -> Context:
        where = os.pathsep.join(self.paths)
        if name not in self.contexts:
            known = ", ".join(sorted(self.contexts)) or "none"
            raise ConfigError(f"Unknown context {name!r} in {where} (known: {known}).")
        ctx, _ = self.contexts[name]
        cluster_name, user_name = str(ctx.get("cluster") or ""), str(ctx.get("user") or "")
        if cluster_name not in self.clusters:
            raise ConfigError(f"Context {name!r} names cluster {cluster_name!r}, not in {where}.")
        cluster, cbase = self.clusters[cluster_name]
        user, ubase = self.users.get(user_name, ({}, ""))
        server = str(cluster.get("server") or "")
        if not server.startswith(("https://", "http://")):
            raise ConfigError(f"Cluster {cluster_name!r} of {where} has no https server address.")
        if user.get("auth-provider"):
            provider = (user.get("auth-provider") or {}).get("name", "?")
            raise ConfigError(
                f"User {user_name!r} uses the legacy auth-provider {provider!r}, which the console "
                "does not support; use an exec credential plugin."
            )
        creds = Credentials(
            server=server.rstrip("/"),
            ca_file=_abs(cluster.get("certificate-authority"), cbase),
            ca_data=_b64(cluster["certificate-authority-data"])
            if cluster.get("certificate-authority-data")
            else b"",
            insecure=bool(cluster.get("insecure-skip-tls-verify")),
            tls_server_name=str(cluster.get("tls-server-name") or ""),
            cert_file=_abs(user.get("client-certificate"), ubase),
            key_file=_abs(user.get("client-key"), ubase),
            cert_data=_b64(user["client-certificate-data"])
            if user.get("client-certificate-data")
            else b"",
            key_data=_b64(user["client-key-data"]) if user.get("client-key-data") else b"",
            token=str(user.get("token") or ""),
            token_file=_abs(user.get("tokenFile"), ubase),
            username=str(user.get("username") or ""),
            password=str(user.get("password") or ""),
            exec_config=user.get("exec") if isinstance(user.get("exec"), dict) else None,
            base_dir=ubase,
            user=user_name,
        )
        return Context(name, creds, str(ctx.get("namespace") or "default"), user_name)


def in_cluster_context() -> Context:
    host = os.environ.get("KUBERNETES_SERVICE_HOST", "")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    token_file = os.path.join(SA_DIR, "token")
    if not host or not os.path.exists(token_file):
        raise ConfigError("In-cluster configuration failed: no service account token mounted.")
    namespace = "default"
    try:
        with open(os.path.join(SA_DIR, "namespace"), encoding="utf-8") as f:
            namespace = f.read().strip() or "default"
    except OSError:
        pass
    if ":" in host:
        host = f"[{host}]"
    creds = Credentials(
        server=f"https://{host}:{port}",
        ca_file=os.path.join(SA_DIR, "ca.crt"),
        token_file=token_file,
    )
    return Context("in-cluster", creds, namespace, f"serviceaccount in {namespace}")


# --- HTTP -----------------------------------------------------------------------------------


class WatchHandle:
    """Lets another thread end a blocked watch read at once (on shutdown)."""

    def __init__(self, conn: http.client.HTTPConnection) -> None:
        self.conn = conn

    def stop(self) -> None:
        sock = self.conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class Transport:
    """HTTPS requests to one API server; one kept-alive connection per thread."""

    def __init__(self, creds: Credentials, timeout: float = 30.0) -> None:
        self.creds = creds
        self.timeout = timeout
        parts = urlsplit(creds.server)
        self.scheme = parts.scheme
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        self._ssl: ssl.SSLContext | None = None
        self._ssl_lock = threading.Lock()
        self._local = threading.local()

    def _context(self) -> ssl.SSLContext:
        with self._ssl_lock:
            if self._ssl is None:
                try:
                    self._ssl = self.creds.ssl_context()
                except (OSError, ssl.SSLError) as exc:
                    raise ConfigError(
                        f"Cannot load the TLS files of the kubeconfig: {redact(str(exc))}."
                    ) from None
            return self._ssl

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        if self.scheme == "https":
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=timeout, context=self._context()
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "rollout-console"}
        token = self.creds.bearer()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        elif self.creds.username:
            raw = f"{self.creds.username}:{self.creds.password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def url(self, path: str, query: Sequence[tuple[str, str]] = ()) -> str:
        full = self.prefix + quote(path, safe="/:@")
        return full + ("?" + urlencode(list(query)) if query else "")

    def request(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        """JSON in, JSON out; raises ApiError for non-2xx, OSError for network trouble."""
        data = None if body is None else json.dumps(body).encode()
        if data is not None and content_type is None:
            content_type = "application/json"
        headers = self._headers(content_type)
        url = self.url(path, query)
        throttled = 0
        retried = False
        reauthenticated = False
        while True:
            conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
            fresh = conn is None
            if conn is None:
                conn = self._connect(timeout or self.timeout)
                self._local.conn = conn
            conn.timeout = timeout or self.timeout
            if conn.sock is not None:
                conn.sock.settimeout(conn.timeout)
            try:
                conn.request(method, url, body=data, headers=headers)
                resp = conn.getresponse()
                payload = resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A kept-alive connection the server closed: a read is sent once more on
                # a new one; a write is not, since the server may have carried it out.
                conn.close()
                self._local.conn = None
                if fresh or retried or method != "GET":
                    raise
                retried = True
                continue
            except BaseException:
                conn.close()
                self._local.conn = None
                raise
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
                self._local.conn = None
            if resp.status == 429 and throttled < MAX_429_RETRIES:
                # Too many requests, or storage (re)initializing after a CRD appeared:
                # the server did nothing, so any verb may be sent again, as client-go
                # does, after the Retry-After it asks for.
                throttled += 1
                time.sleep(_retry_after(resp.getheader("Retry-After")))
                continue
            if resp.status == 401 and not reauthenticated and self.creds.refused():
                # An exec credential revoked or expired early: client-go runs the
                # plugin again once, and so do we.
                reauthenticated = True
                headers = self._headers(content_type)
                continue
            if not 200 <= resp.status <= 299:
                raise ApiError(resp.status, resp.reason, payload.decode("utf-8", "replace"))
            return json.loads(payload) if payload else None

    def stream(
        self,
        path: str,
        query: Sequence[tuple[str, str]],
        read_timeout: float,
        on_open: Callable[[WatchHandle], None] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """A watch: one JSON event per line, on a dedicated connection."""
        for line in self._lines(path, query, read_timeout, on_open, wait_forever=False):
            line = line.strip()
            if line:
                yield json.loads(line)

    def stream_text(
        self,
        path: str,
        query: Sequence[tuple[str, str]],
        connect_timeout: float,
        on_open: Callable[[WatchHandle], None] | None = None,
    ) -> Iterator[str]:
        """A text stream (pod logs), one decoded line at a time, on a dedicated connection.

        Past the response headers reads wait without a timeout: a quiet pod is not an
        error. The caller ends the stream with the WatchHandle.
        """
        for line in self._lines(path, query, connect_timeout, on_open, wait_forever=True):
            yield line.decode("utf-8", "replace").rstrip("\r\n")

    def _lines(
        self,
        path: str,
        query: Sequence[tuple[str, str]],
        timeout: float,
        on_open: Callable[[WatchHandle], None] | None,
        *,
        wait_forever: bool,
    ) -> Iterator[bytes]:
        """Raw lines of a streamed GET; `timeout` bounds the connection, the response
        headers and, unless `wait_forever`, each read (a read that times out ends the
        stream)."""
        conn = self._connect(timeout)
        if on_open is not None:
            on_open(WatchHandle(conn))
        try:
            conn.request("GET", self.url(path, query), headers=self._headers(None))
            resp = conn.getresponse()
            if not 200 <= resp.status <= 299:
                raise ApiError(resp.status, resp.reason, resp.read().decode("utf-8", "replace"))
            if wait_forever and conn.sock is not None:
                conn.sock.settimeout(None)
            try:
                while line := resp.readline():
                    yield line
            except TimeoutError:
                # Silence past the read timeout once the stream is open ends it, as the
                # server's own timeout would; whether the server lives is the
                # heartbeat's call, not a quiet stream's.
                return
        finally:
            conn.close()
