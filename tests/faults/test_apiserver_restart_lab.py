"""The API server killed and started again, and etcd compacted under a server
without a watch cache (every watch then reads etcd, and an old resourceVersion
gets 410 Gone): the console marks its data stale, recovers by itself, and its
store is right afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from console import exit_codes
from console.kube import backend as kube_backend
from console.model import ConnectionState, Snapshot, StreamEvent
from tests.faults.conftest import Fault
from tests.kube.helpers import backend, deploy_canary, unique_ns
from tests.kube.tcp_proxy import TcpProxy
from tests.kube.test_watch_lab import Stream
from tests.lab import sample
from tests.lab.kube import KubeLab

pytestmark = pytest.mark.lab


def down(e: StreamEvent) -> bool:
    return isinstance(e, ConnectionState) and not e.connected


def up(e: StreamEvent) -> bool:
    return isinstance(e, ConnectionState) and e.connected


def shows(ns: str, present: bool) -> Callable[[StreamEvent], bool]:
    def match(e: StreamEvent) -> bool:
        if not isinstance(e, Snapshot):
            return False
        names = [r.ref.name for r in e.rollouts if r.ref.namespace == ns]
        return names == ([sample.NAME] if present else [])

    return match


@pytest.fixture
def restartable(kube_lab: KubeLab) -> Iterator[KubeLab]:
    """The session's lab, if this session started it; its API server running afterwards."""
    if getattr(kube_lab, "_owned", False) is not True:
        pytest.skip("the lab was started elsewhere (ROLLOUT_LAB_KUBECONFIG): not ours to kill")
    try:
        yield kube_lab
    finally:
        if not kube_lab._apiserver.alive():
            kube_lab.start_apiserver()


@pytest.mark.fault(
    "API server killed (SIGKILL), then started again",
    "TUI data stale within 15 s, recovers by itself; headless get exits 3 in seconds",
)
def test_a_killed_api_server_is_stale_then_recovers(restartable: KubeLab, fault: Fault) -> None:
    lab = restartable
    ns = unique_ns("ko-kill")
    deploy_canary(lab, ns, start=False)
    s = Stream(backend(lab, ns))
    try:
        s.wait(shows(ns, True), 20, "the rollout")
        lab.kill_apiserver()
        killed_at = time.time()
        state = s.wait(down, 20, "a stale mark")
        stale_after = time.time() - killed_at
        assert isinstance(state, ConnectionState)

        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "console", "get", "-n", ns, "--kubeconfig", str(lab.kubeconfig)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "NO_COLOR": "1"},
        )
        took = time.monotonic() - started
        lines = [line for line in done.stderr.splitlines() if line.strip()]

        lab.start_apiserver()
        s.wait(up, 60, "reconnected")
        s.wait(shows(ns, True), 30, "the rollout listed again")
        fault.observed(
            f"stale after {stale_after:.1f}s, recovered; get exit {done.returncode} in {took:.1f}s"
        )
        assert stale_after <= 15
        assert s.thread.is_alive()  # no crash in the watch
        assert done.returncode == exit_codes.UNAVAILABLE, done.stderr
        assert took < 10
        assert len(lines) == 1 and lines[0].startswith("rollout-console: "), done.stderr
    finally:
        s.close()


@pytest.fixture
def no_watch_cache(restartable: KubeLab) -> Iterator[KubeLab]:
    restartable.start_apiserver(["--watch-cache=false"])
    try:
        yield restartable
    finally:
        restartable.start_apiserver()


def stable_pods(ns: str, e: StreamEvent) -> tuple[str, ...] | None:
    if not isinstance(e, Snapshot):
        return None
    found = [r for r in e.rollouts if r.ref.namespace == ns and r.stable is not None]
    return tuple(sorted(found[0].stable.pods)) if found and found[0].stable else None


@pytest.mark.fault(
    "etcd compacted, kube-apiserver --watch-cache=false, a change missed meanwhile",
    "the watches get 410 and relist; the store is right after (the deleted pod gone)",
)
def test_a_compacted_version_relists_and_the_store_is_right(
    no_watch_cache: KubeLab,
    api_proxy: tuple[TcpProxy, Path],
    monkeypatch: pytest.MonkeyPatch,
    fault: Fault,
) -> None:
    lab = no_watch_cache
    proxy, kubeconfig = api_proxy
    # Watches end every 3 s on the server and reopen from their resourceVersion;
    # without a watch cache there are no bookmarks, so that version stays the list's.
    monkeypatch.setattr(kube_backend, "WATCH_TIMEOUT_S", 3)
    ns = unique_ns("ko-410")
    deploy_canary(lab, ns, start=False)
    s = Stream(backend(lab, ns, kubeconfig=str(kubeconfig)))
    try:
        first = s.wait(lambda e: bool(stable_pods(ns, e)), 60, "the rollout with its pods")
        before = stable_pods(ns, first)
        assert before
        proxy.freeze()
        # Noticed by the heartbeat after 5-10 s: every 3 s watch has ended by then,
        # its end held in the proxy, so no watch delivers what happens next.
        s.wait(down, 20, "a stale mark")
        lab.kubectl("delete", "pod", before[0], "-n", ns, "--wait=true")
        revision = lab.compact_etcd()
        proxy.thaw()

        def right(e: StreamEvent) -> bool:
            pods = stable_pods(ns, e)
            return pods is not None and before[0] not in pods

        # Snapshots come only from a relist: a resumed watch would give Upserted.
        s.wait(right, 40, "a relist with the pods as they are")
        fault.observed(f"compacted at revision {revision}; relisted, deleted pod gone")
        assert s.thread.is_alive()
    finally:
        s.close()
