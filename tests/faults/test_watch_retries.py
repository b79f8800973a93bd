"""The real KubeBackend's watches against an API server that went away.

Before:
- watch backoff had no jitter: every watch thread waited 0.5 s, 1 s, 2 s, ...
  exactly, so all of them hit the API server together on every retry;
- the stale banner kept the first error of an outage ("reset by peer") after
  the real one had become "refused".
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest

from console.kube import make_kube_backend
from console.model import ConnectionState
from tests.faults.conftest import Fault
from tests.unit.test_exit_codes import closed_port, kubeconfig_to

ROUNDS = 4


class RecordingStop(threading.Event):
    """A stop event that records each watch thread's backoff waits."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: dict[str, list[float]] = defaultdict(list)
        self._lock = threading.Lock()

    def wait(self, timeout: float | None = None) -> bool:
        name = threading.current_thread().name
        if timeout is None or not name.startswith("watch-"):
            return super().wait(timeout)
        with self._lock:
            self.waits[name].append(timeout)
        return super().wait(min(timeout, 0.02))


@pytest.mark.fault(
    "API server unreachable, every watch thread retrying",
    "the watch threads' waits differ in every retry round (jitter)",
)
def test_watch_threads_do_not_retry_together(tmp_path: Path, fault: Fault) -> None:
    """Nothing listens; the stop event records how long each watch thread asks to
    wait (and waits only briefly, so the test needs no real backoff time)."""
    config = kubeconfig_to(tmp_path, f"https://127.0.0.1:{closed_port()}")
    backend = make_kube_backend(str(config), [], "faults", False, True, check_access=False)
    stop = RecordingStop()

    def consume() -> None:
        for _ in backend.watch(stop):
            if stop.is_set():
                return

    consumer = threading.Thread(target=consume, name="consumer", daemon=True)
    consumer.start()
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            with stop._lock:
                counts = [len(w) for w in stop.waits.values()]
            if len(counts) >= 3 and min(counts) >= ROUNDS:
                break
            time.sleep(0.05)
    finally:
        stop.set()
        consumer.join(10)
    with stop._lock:
        waits = {name: list(w[:ROUNDS]) for name, w in stop.waits.items()}
    assert len(waits) >= 3 and all(len(w) == ROUNDS for w in waits.values()), waits
    rounds = [[w[k] for w in waits.values()] for k in range(ROUNDS)]
    spreads = [(max(r) - min(r)) / max(r) for r in rounds]
    fault.observed(
        f"{len(waits)} watch threads; round 1 waits "
        f"{', '.join(f'{w:.3f}' for w in sorted(rounds[0]))} s; "
        f"spread per round {', '.join(f'{s:.0%}' for s in spreads)}"
    )
    assert all(len({round(w, 6) for w in r}) > 1 for r in rounds), rounds
    # Uniform in [c/2, c], n >= 3 threads: the mean spread is about a third of c.
    assert sum(spreads) / ROUNDS >= 0.1, spreads


class ResettingServer:
    """Accepts TCP connections and resets them at once (RST: "reset by peer");
    `close()` stops listening, so the next connects are refused."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self._thread = threading.Thread(target=self._serve, name="resetter", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    def close(self) -> None:
        self.sock.close()
        self._thread.join(5)


@pytest.mark.fault(
    "outage whose error changes: connections reset, then refused",
    "the cluster's stale reason becomes the current error ('refused')",
)
def test_the_stale_reason_is_the_current_error(tmp_path: Path, fault: Fault) -> None:
    server = ResettingServer()
    config = kubeconfig_to(tmp_path, f"https://127.0.0.1:{server.port}")
    backend = make_kube_backend(str(config), [], "faults", False, True, check_access=False)
    stop = threading.Event()
    states: list[ConnectionState] = []
    lock = threading.Lock()

    def consume() -> None:
        for event in backend.watch(stop):
            if isinstance(event, ConnectionState):
                with lock:
                    states.append(event)
            if stop.is_set():
                return

    def latest() -> str:
        with lock:
            down = [s.message for s in states if not s.connected]
        return down[-1] if down else ""

    def wait_for(words: tuple[str, ...], seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if any(word in latest().lower() for word in words):
                return True
            time.sleep(0.1)
        return False

    consumer = threading.Thread(target=consume, name="consumer", daemon=True)
    consumer.start()
    try:
        # A reset reads "[Errno 104] the API server closed the connection".
        assert wait_for(("reset", "closed the connection"), 20), latest()
        first = latest()
        server.close()
        now_refused = wait_for(("refused",), 20)
    finally:
        stop.set()
        server.close()
        consumer.join(10)
    fault.observed(f"first {first[:80]!r}; after the switch {latest()[:80]!r}")
    assert now_refused, latest()
