"""Exec credential plugins: cached per user, single flight, failures backed off, hangs killed."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from console.kube.exec_credentials import EXPIRY_MARGIN_S, ExecCredentialCache, run_plugin
from console.model import ConfigError, ConsoleError, UnavailableError

PLUGIN = {"command": "plugin", "apiVersion": "client.authentication.k8s.io/v1"}


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Runner:
    """Counts runs; answers with `status` or raises `error`, after `delay` seconds."""

    def __init__(self, status: Mapping[str, Any] | None = None, delay: float = 0.0) -> None:
        self.status = dict(status or {"token": "t"})
        self.error: ConsoleError | None = None
        self.delay = delay
        self.runs = 0
        self.concurrent = 0
        self.most_concurrent = 0
        self._lock = threading.Lock()

    def __call__(
        self, user: str, config: Mapping[str, Any], cwd: str, timeout: float
    ) -> dict[str, Any]:
        with self._lock:
            self.runs += 1
            self.concurrent += 1
            self.most_concurrent = max(self.most_concurrent, self.concurrent)
        time.sleep(self.delay)
        with self._lock:
            self.concurrent -= 1
        if self.error is not None:
            raise self.error
        return dict(self.status)


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


def together(n: int, cache: ExecCredentialCache) -> list[str]:
    """`n` threads ask at once, as a console's watch threads do; each one's token or error."""
    go = threading.Barrier(n)
    out: list[str] = []

    def call() -> None:
        go.wait()
        try:
            out.append(cache.get("alice", PLUGIN)["token"])
        except ConsoleError as exc:
            out.append(str(exc))

    threads = [threading.Thread(target=call) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    return out


def test_concurrent_callers_share_one_run() -> None:
    runner = Runner(delay=0.3)
    tokens = together(10, ExecCredentialCache(runner=runner))
    assert tokens == ["t"] * 10
    assert runner.runs == 1
    assert runner.most_concurrent == 1


def test_a_failure_is_cached_for_the_back_off_then_run_again() -> None:
    runner = Runner(delay=0.2)
    runner.error = UnavailableError("The plugin of user 'alice' exited 1.")
    clock = Clock()
    cache = ExecCredentialCache(runner=runner, failure_backoff=10, clock=clock)
    errors = together(8, cache)
    # Eight watch threads, one run: the others get the same sentence at once.
    assert errors == ["The plugin of user 'alice' exited 1."] * 8
    assert runner.runs == 1
    clock.t += 9.9
    with pytest.raises(UnavailableError):
        cache.get("alice", PLUGIN)
    assert runner.runs == 1
    clock.t += 0.2
    runner.error = None
    assert cache.get("alice", PLUGIN)["token"] == "t"
    assert runner.runs == 2


def test_a_success_is_reused_until_its_expiry() -> None:
    clock, wall = Clock(), Clock()
    wall.t = 1_800_000_000.0
    runner = Runner({"token": "t", "expirationTimestamp": _iso(wall.t + 60)})
    cache = ExecCredentialCache(runner=runner, clock=clock, wall=wall)
    cache.get("alice", PLUGIN)
    clock.t += 60 - EXPIRY_MARGIN_S - 0.5
    cache.get("alice", PLUGIN)
    assert runner.runs == 1
    clock.t += 1.0
    cache.get("alice", PLUGIN)
    assert runner.runs == 2


def test_no_expiry_is_kept_until_refused_and_users_are_apart() -> None:
    clock = Clock()
    runner = Runner({"token": "t"})
    cache = ExecCredentialCache(runner=runner, clock=clock)
    cache.get("alice", PLUGIN)
    clock.t += 86_400
    cache.get("alice", PLUGIN)
    assert runner.runs == 1
    cache.get("bob", PLUGIN)  # another user: its own run
    assert runner.runs == 2
    cache.invalidate("alice", PLUGIN)  # a 401
    cache.get("alice", PLUGIN)
    assert runner.runs == 3


def _script(tmp_path: Path, body: str) -> dict[str, Any]:
    path = tmp_path / "plugin.sh"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return {"command": str(path)}


def test_a_hanging_plugin_and_its_children_are_killed_with_one_sentence(tmp_path: Path) -> None:
    # The grandchild holds stdout open: killing only the plugin would leave the read hanging.
    config = _script(tmp_path, "sleep 120 &\nsleep 120\n")
    started = time.monotonic()
    with pytest.raises(UnavailableError) as info:
        run_plugin("alice", config, "", 1.0)
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert "user 'alice'" in message and "within 1 s and was stopped" in message
    assert message.count(". ") == 0 and message.endswith(".")


def test_plugin_failures_are_one_clean_sentence(tmp_path: Path) -> None:
    config = _script(tmp_path, "echo 'token: s3cr3t \x1b[2Jlogin needed' >&2\nexit 7\n")
    with pytest.raises(UnavailableError) as info:
        run_plugin("alice", config, "", 5.0)
    message = str(info.value)
    assert "user 'alice' exited 7" in message
    assert "s3cr3t" not in message and "\x1b" not in message
    with pytest.raises(UnavailableError, match="printed no ExecCredential"):
        run_plugin("alice", _script(tmp_path, "echo not-json\n"), "", 5.0)
    with pytest.raises(ConfigError, match="cannot run"):
        run_plugin("alice", {"command": str(tmp_path / "absent")}, "", 5.0)
    status = run_plugin(
        "alice",
        _script(tmp_path, 'echo \'{"kind":"ExecCredential","status":{"token":"x"}}\'\n'),
        "",
        5.0,
    )
    assert status == {"token": "x"}
