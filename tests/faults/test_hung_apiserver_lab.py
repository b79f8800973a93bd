"""A hung API server (SIGSTOP, a dead node behind a live load balancer) is noticed fast.

The path to the lab's API server goes through a proxy that freezes: connections
stay open and nothing arrives, exactly what a watch sees of a stopped server.
Before the liveness probe the TUI showed no stale mark for minutes, and the
headless `get` took 60 s to fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from console.model import ConnectionState, Snapshot
from tests.faults.conftest import Fault
from tests.kube.helpers import backend, deploy_canary, unique_ns
from tests.kube.tcp_proxy import TcpProxy
from tests.kube.test_watch_lab import Stream
from tests.lab.kube import KubeLab

pytestmark = pytest.mark.lab


@pytest.mark.fault(
    "API server hung (SIGSTOP-like freeze), watching",
    "stale within 15 s, aged from the last answer, recovers",
)
def test_a_hung_server_is_stale_within_15s_and_recovers(
    kube_lab: KubeLab, api_proxy: tuple[TcpProxy, Path], fault: Fault
) -> None:
    proxy, path = api_proxy
    ns = unique_ns("ko-hung")
    deploy_canary(kube_lab, ns, start=False)
    s = Stream(backend(kube_lab, ns, kubeconfig=str(path)))
    try:
        s.wait(lambda e: isinstance(e, Snapshot), 20, "snapshot")
        proxy.freeze()
        frozen_at = time.time()
        down = s.wait(
            lambda e: isinstance(e, ConnectionState) and not e.connected, 20, "a stale mark"
        )
        noticed_after = time.time() - frozen_at
        fault.observed(f"stale after {noticed_after:.1f}s")
        assert isinstance(down, ConnectionState)
        assert noticed_after <= 15, f"stale only after {noticed_after:.1f}s"
        # The age counts from the last good answer, not from when it was noticed.
        assert down.since <= frozen_at + 1
        assert "did not answer" in down.message or "timed out" in down.message.lower()
        proxy.thaw()
        s.wait(lambda e: isinstance(e, ConnectionState) and e.connected, 30, "reconnected")
    finally:
        proxy.thaw()
        s.close()


@pytest.mark.fault(
    "API server hung, headless get",
    "fails within the timeout, one sentence",
)
@pytest.mark.parametrize(
    ("timeout_args", "bound"),
    [([], 15.0), (["--request-timeout", "2s"], 6.0)],
    ids=["default 10s", "--request-timeout 2s"],
)
def test_headless_get_fails_fast_on_a_hung_server(
    api_proxy: tuple[TcpProxy, Path], timeout_args: list[str], bound: float, fault: Fault
) -> None:
    proxy, path = api_proxy
    proxy.freeze()
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "console", "get", "-A", "--kubeconfig", str(path), *timeout_args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )
    took = time.monotonic() - started
    fault.observed(f"exit {done.returncode} after {took:.1f}s")
    assert done.returncode != 0
    assert took <= bound, f"get took {took:.1f}s on a hung server"
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines and all(line.startswith("rollout-console: ") for line in lines), done.stderr
    assert "Traceback" not in done.stderr
