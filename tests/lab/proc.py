"""Process plumbing shared by the lab: free ports, child processes, polling.

Every child runs in its own session (so its own process group) and its pid is
written to ``<pid_dir>/<name>.pid``. Stopping a child signals the whole group,
so nothing the child spawned outlives it, and a crashed test run can still be
cleaned up from the pid files alone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class GiveUp(Exception):
    """Raised by a ``wait_for`` probe to stop waiting at once (e.g. the process died)."""


def wait_for(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
) -> T:
    """Poll ``probe`` until it returns something other than None/False.

    Raises TimeoutError naming ``what`` and the last exception the probe raised,
    so a failing fixture says what it was waiting for. A probe that knows
    waiting is pointless raises GiveUp, which propagates unchanged.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = probe()
        except GiveUp:
            raise
        except Exception as exc:  # the probe may fail while the thing starts
            last_error = exc
            result = None
        if result is not None and result is not False:
            return result
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(interval)


@dataclass
class Child:
    """A child process running in its own process group."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    pid_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the group, SIGKILL it if it is still there after ``timeout``."""
        if self.alive():
            _signal_group(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.pid, signal.SIGKILL)
                self.popen.wait(timeout=timeout)
        # Children of the leader may linger after it exits; the group id is the
        # leader's pid, so a final SIGKILL to the group reaps them too.
        _signal_group(self.pid, signal.SIGKILL)
        self.pid_path.unlink(missing_ok=True)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    log_dir: Path,
    pid_dir: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Child:
    """Start ``argv`` in a new session, output to ``<log_dir>/<name>.log``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    pid_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            cwd=cwd,
        )
    pid_path = pid_dir / f"{name}.pid"
    pid_path.write_text(f"{popen.pid}\n")
    return Child(name=name, popen=popen, log_path=log_path, pid_path=pid_path)


def stop_pid_files(pid_dir: Path, timeout: float = 10.0, first: Sequence[str] = ()) -> list[str]:
    """Stop every process group recorded under ``pid_dir`` (for scripts after a crash).

    Names in ``first`` are stopped first, in that order (dependents before what
    they depend on: kube-apiserver hangs on TERM once etcd is gone); the rest by name.
    """
    stopped: list[str] = []
    rank = {name: i for i, name in enumerate(first)}
    pid_paths = sorted(pid_dir.glob("*.pid"), key=lambda p: (rank.get(p.stem, len(rank)), p.stem))
    for pid_path in pid_paths:
        try:
            pgid = int(pid_path.read_text().strip())
        except (OSError, ValueError):
            continue
        _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _group_exists(pgid):
            time.sleep(0.1)
        _signal_group(pgid, signal.SIGKILL)
        pid_path.unlink(missing_ok=True)
        stopped.append(pid_path.stem)
    return stopped


def _group_exists(pgid: int) -> bool:
    """Whether a live (non-zombie) process is in group ``pgid``.

    kill(0) also succeeds for zombies, which a still-running parent (the test
    process that spawned the lab) has not reaped yet; counting them made every
    stop wait out its whole timeout. /proc/<pid>/stat tells state and group apart.
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # Fields after the parenthesised command name: state, ppid, pgrp, ...
            state, _ppid, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if int(pgrp) == pgid and state != "Z":
            return True
    return False
