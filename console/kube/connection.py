"""One cluster's connection: a kubernetes.client Configuration and its ApiClient.

The kubernetes package does the work: `kubernetes.config` reads the kubeconfig
(KubeConfigLoader: CA, client certificates, token and tokenFile, basic auth,
OIDC, `tls-server-name`, `proxy-url`) or the pod's service account
(InClusterConfigLoader), `Configuration` adds HTTPS_PROXY / NO_PROXY, and the
ApiClient's urllib3 pool carries TLS, proxies and keep-alive.

Three things are added here:

- Exec credential plugins run through console/kube/exec_credentials.py, not the
  package's ExecProvider, which runs the plugin again at every load and never
  stops one that hangs. The loader is handed the user without its `exec`; the
  token reaches each request through `refresh_api_key_hook` from the per-user
  cache. A plugin's client certificate goes to a private temp directory, and
  the ApiClient (its pool) is rebuilt when the plugin hands out a new one after
  the old one expired.
- Token files rotate (projected service-account tokens) and OIDC id-tokens
  expire: the package's loader reads the credentials again at most once a
  minute, as client-go re-reads a token file.
- urllib3 never resends a request on its own (`retries` is 0): console/kube/client.py
  decides what may be sent again, and a write never is.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import urllib3
from kubernetes.client import ApiClient, Configuration

from console.kube import exec_credentials

#: The credentials are read again through the package's loader this often (client-go
#: re-reads a token file once a minute).
RELOAD_S = 60.0
#: Connections kept per host: every watched kind holds one, plus lists and actions.
POOL_SIZE = 32
USER_AGENT = "rollout-console"

_BEARER = "BearerToken"


def new_configuration() -> Configuration:
    """A Configuration with the console's transport policy; the loader fills the rest."""
    cfg = Configuration()
    # Our code decides what may be sent again (client.py); urllib3 itself never
    # resends, so a write cannot go out twice behind our back.
    cfg.retries = urllib3.util.Retry(total=0, raise_on_redirect=False, raise_on_status=False)
    cfg.connection_pool_maxsize = POOL_SIZE
    # client-go's TCP keepalive: an idle proxy or load balancer does not silently
    # drop a watch.
    cfg.keep_alive = True
    return cfg


class Connection:
    """The ApiClient of one cluster and the credentials each request carries."""

    def __init__(
        self,
        configuration: Configuration,
        *,
        reload: Callable[[], Configuration] | None = None,
        user: str = "",
        exec_config: Mapping[str, Any] | None = None,
        base_dir: str = "",
    ) -> None:
        self.configuration = configuration
        self.user = user
        self._reload = reload
        self._exec = exec_config
        self._base_dir = base_dir
        self._lock = threading.Lock()
        self._client: ApiClient | None = None
        self._next_reload = time.monotonic() + RELOAD_S
        #: The exec plugin's (certificate, key) the current client was built with.
        self._cert: tuple[str, str] | None = None
        #: Temp dirs of the current and previous plugin certificate (a request that
        #: took the old client just before a rebuild may still connect with it).
        self._cert_dirs: list[tempfile.TemporaryDirectory[str]] = []
        # The package annotates the hook's attribute as None; it is meant to be set.
        configuration.refresh_api_key_hook = self._refresh_token  # type: ignore[assignment]
        if configuration.api_key.get(_BEARER):
            configuration.api_key[_BEARER] = configuration.api_key[_BEARER].strip()

    @property
    def host(self) -> str:
        return str(self.configuration.host)

    def api_client(self) -> ApiClient:
        """The client for the next request. With an exec plugin this may run it, and
        raises its one-sentence ConsoleError when it fails."""
        if self._exec is None:
            with self._lock:
                if self._client is None:
                    self._client = self._new_client()
                return self._client
        status = exec_credentials.CACHE.get(self.user, self._exec, self._base_dir)
        with self._lock:
            if status.get("token"):
                # The hook (called per request) keeps it fresh; it runs only when
                # the key is present.
                self.configuration.api_key.setdefault(_BEARER, "")
            cert = str(status.get("clientCertificateData") or "")
            key = str(status.get("clientKeyData") or "")
            if cert and (cert, key) != self._cert:
                return self._use_certificate(cert, key)
            if self._client is None:
                self._client = self._new_client()
            return self._client

    def refused(self) -> bool:
        """The server refused our credential (401): forget an exec plugin's, so the
        next request runs the plugin again. True when there was one to forget."""
        if self._exec is None:
            return False
        exec_credentials.CACHE.invalidate(self.user, self._exec, self._base_dir)
        return True

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.rest_client.pool_manager.clear()
                self._client = None
            for d in self._cert_dirs:
                d.cleanup()
            self._cert_dirs.clear()

    # --- inside -----------------------------------------------------------------------

    def _new_client(self) -> ApiClient:
        client = ApiClient(self.configuration)
        client.user_agent = USER_AGENT
        return client

    def _use_certificate(self, cert: str, key: str) -> ApiClient:
        """Build a new pool with the plugin's client certificate (lock held)."""
        tmp = tempfile.TemporaryDirectory(prefix="rollout-console-")
        paths = []
        for name, data in (("cert.pem", cert), ("key.pem", key)):
            path = os.path.join(tmp.name, name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(data)
            paths.append(path)
        self.configuration.cert_file, self.configuration.key_file = paths
        old, client = self._client, self._new_client()
        self._client, self._cert = client, (cert, key)
        if old is not None:
            old.rest_client.pool_manager.clear()
        self._cert_dirs.append(tmp)
        while len(self._cert_dirs) > 2:
            self._cert_dirs.pop(0).cleanup()
        return client

    def _refresh_token(self, cfg: Configuration) -> None:
        """Configuration's refresh_api_key_hook: called for every request."""
        if self._exec is not None:
            token = exec_credentials.CACHE.get(self.user, self._exec, self._base_dir).get("token")
            if token:
                cfg.api_key[_BEARER] = f"Bearer {str(token).strip()}"
            return
        if self._reload is None or time.monotonic() < self._next_reload:
            return
        with self._lock:
            if time.monotonic() < self._next_reload:
                return
            self._next_reload = time.monotonic() + RELOAD_S
            fresh = self._reload().api_key.get(_BEARER)
        if fresh:
            cfg.api_key[_BEARER] = str(fresh).strip()
