"""Kubeconfig exec credential plugins (client.authentication.k8s.io): run, cache, bound.

A plugin is a program the kubeconfig names (cloud CLIs, OIDC helpers) that prints
an ExecCredential. Every request needs its result, and a console opens a list and
a watch per resource kind at once, so without care a slow or failing plugin runs
once per kind: a plugin that failed after 5 s made `get` take 50 s. Here:

- a result, success or failure, is cached per user: a success until its
  `status.expirationTimestamp` (or for good when it has none, as client-go
  does), a failure for a short back-off;
- a plugin runs at most once at a time per user (single flight): concurrent
  callers wait for the one run and share its result;
- a plugin that hangs is killed (its whole process group) after a time limit,
  with one sentence naming the user.

The kubernetes package's own ExecProvider does none of this (it runs the plugin
at every load, with no time limit), so console/kube/connection.py keeps `exec`
away from the package's loader and feeds the token from here.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from console.kube.errors import redact
from console.model import ConfigError, ConsoleError, UnavailableError
from console.untrusted import clean_line, clip

#: A plugin still running after this long is killed.
PLUGIN_TIMEOUT_S = 30.0
#: A failure is answered from the cache this long before the plugin runs again.
FAILURE_BACKOFF_S = 10.0
#: A credential is renewed this long before its stated expiry (clock skew, request time).
EXPIRY_MARGIN_S = 5.0
#: How much of a plugin's stderr a failure quotes.
_STDERR_LIMIT = 200


@dataclass(frozen=True)
class _Entry:
    status: Mapping[str, Any] | None
    error: ConsoleError | None
    #: time.monotonic() after which the entry is stale (inf: until the process ends).
    until: float


def _who(user: str) -> str:
    return f"user {user!r}" if user else "the kubeconfig's user"


def expiry_of(status: Mapping[str, Any], now_wall: float) -> float | None:
    """Seconds from now until `status.expirationTimestamp`; None when it has none."""
    raw = status.get("expirationTimestamp")
    if not raw:
        return None
    try:
        at = datetime.fromisoformat(str(raw).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0  # unreadable: use it for this request only
    return at - now_wall


def run_plugin(user: str, config: Mapping[str, Any], cwd: str, timeout: float) -> dict[str, Any]:
    """Run the plugin once; its ExecCredential's status, or a ConsoleError in one sentence."""
    command = str(config.get("command") or "")
    if not command:
        raise ConfigError(f"The kubeconfig exec plugin of {_who(user)} has no command.")
    env = dict(os.environ)
    for item in config.get("env") or []:
        if isinstance(item, Mapping):
            env[str(item.get("name"))] = str(item.get("value"))
    api_version = config.get("apiVersion") or "client.authentication.k8s.io/v1"
    env["KUBERNETES_EXEC_INFO"] = json.dumps(
        {"apiVersion": api_version, "kind": "ExecCredential", "spec": {"interactive": False}}
    )
    name = clip(clean_line(command), 80)
    try:
        # Its own session: on a timeout the whole group dies, so no grandchild keeps
        # the pipes open and the wait for them ends.
        child = subprocess.Popen(
            [command, *[str(a) for a in config.get("args") or []]],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd or None,
            start_new_session=True,
        )
    except OSError as exc:
        raise ConfigError(
            f"The kubeconfig exec plugin {name!r} of {_who(user)} cannot run: "
            f"{exc.strerror or exc}."
        ) from None
    try:
        stdout, stderr = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        raise UnavailableError(
            f"The exec credential plugin {name!r} of {_who(user)} gave no credentials "
            f"within {timeout:g} s and was stopped."
        ) from None
    if child.returncode != 0:
        detail = clip(clean_line(redact(stderr.strip())), _STDERR_LIMIT)
        raise UnavailableError(
            f"The exec credential plugin {name!r} of {_who(user)} exited "
            f"{child.returncode}" + (f": {detail}." if detail else ".")
        )
    try:
        data = json.loads(stdout)
        status = data.get("status") if isinstance(data, dict) else None
    except ValueError:
        status = None
    if not isinstance(status, dict):
        raise UnavailableError(
            f"The exec credential plugin {name!r} of {_who(user)} printed no ExecCredential."
        )
    return status


Runner = Callable[[str, Mapping[str, Any], str, float], dict[str, Any]]


class ExecCredentialCache:
    """Plugin results per user, single-flight; see the module docstring."""

    def __init__(
        self,
        *,
        runner: Runner = run_plugin,
        timeout: float = PLUGIN_TIMEOUT_S,
        failure_backoff: float = FAILURE_BACKOFF_S,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._runner = runner
        self._timeout = timeout
        self._failure_backoff = failure_backoff
        self._clock = clock
        self._wall = wall
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @staticmethod
    def key(user: str, config: Mapping[str, Any], cwd: str) -> str:
        # Two contexts naming the same user and plugin share one result; a different
        # plugin under the same user name (another kubeconfig) does not.
        return json.dumps([user, config, cwd], sort_keys=True, default=str)

    def _lock_for(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def _fresh(self, key: str) -> _Entry | None:
        entry = self._entries.get(key)
        return entry if entry is not None and self._clock() < entry.until else None

    def get(self, user: str, config: Mapping[str, Any], cwd: str = "") -> dict[str, Any]:
        """The plugin's ExecCredential status; raises the cached or new ConsoleError."""
        key = self.key(user, config, cwd)
        entry = self._fresh(key)
        if entry is None:
            with self._lock_for(key):
                # Whoever waited here while another thread ran the plugin takes its result.
                entry = self._fresh(key) or self._run(key, user, config, cwd)
        if entry.error is not None:
            raise entry.error
        return dict(entry.status or {})

    def invalidate(self, user: str, config: Mapping[str, Any], cwd: str = "") -> None:
        """Forget a credential the server refused (401), so the next request runs the plugin."""
        self._entries.pop(self.key(user, config, cwd), None)

    def _run(self, key: str, user: str, config: Mapping[str, Any], cwd: str) -> _Entry:
        try:
            status = self._runner(user, config, cwd, self._timeout)
        except ConsoleError as exc:
            entry = _Entry(None, exc, self._clock() + self._failure_backoff)
        else:
            left = expiry_of(status, self._wall())
            until = float("inf") if left is None else self._clock() + left - EXPIRY_MARGIN_S
            entry = _Entry(status, None, until)
        self._entries[key] = entry
        return entry


#: The process's one cache: every Credentials of a user shares it.
CACHE = ExecCredentialCache()
