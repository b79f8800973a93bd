"""The change stream against the lab: snapshot, updates, deletes, and a cut connection."""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from console.kube import backend as kube_backend
from console.model import ConnectionState, Notices, Removed, Snapshot, StreamEvent, Upserted
from tests.kube.helpers import (
    ARGO_READER,
    backend,
    deploy_canary,
    proxied_kubeconfig,
    unique_ns,
)
from tests.lab import sample
from tests.lab.kube import KubeLab

pytestmark = pytest.mark.lab


class Stream:
    """Runs backend.watch in a thread; tests pull events with a deadline."""

    def __init__(self, b: Any) -> None:
        self.stop = threading.Event()
        self.events: queue.Queue[StreamEvent] = queue.Queue()
        self.thread = threading.Thread(target=self._run, args=(b,), daemon=True)
        self.thread.start()

    def _run(self, b: Any) -> None:
        for event in b.watch(self.stop):
            self.events.put(event)

    def wait(self, match: Any, timeout: float, what: str) -> StreamEvent:
        deadline = time.monotonic() + timeout
        seen: list[StreamEvent] = []
        while time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=0.2)
            except queue.Empty:
                continue
            seen.append(event)
            if match(event):
                return event
        raise AssertionError(f"no {what} within {timeout}s; saw {[type(e).__name__ for e in seen]}")

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def test_watch_snapshot_update_delete(kube_lab: KubeLab) -> None:
    ns = unique_ns("ko-watch")
    deploy_canary(kube_lab, ns)
    s = Stream(backend(kube_lab, ns))
    try:
        snap = s.wait(lambda e: isinstance(e, Snapshot), 15, "snapshot")
        assert isinstance(snap, Snapshot)
        assert [r.ref.name for r in snap.rollouts] == [sample.NAME]
        kube_lab.kubectl(
            "patch",
            "rollout",
            sample.NAME,
            "-n",
            ns,
            "--type=merge",
            "-p",
            '{"spec":{"paused":true}}',
        )
        s.wait(
            lambda e: (
                (isinstance(e, Upserted) and e.rollout.message == "manually paused")
                or (
                    isinstance(e, Upserted)
                    and dict(e.rollout.extra).get("generation") == "3"
                    and e.rollout.paused
                )
            ),
            30,
            "Upserted after pause",
        )
        kube_lab.kubectl("delete", "rollout", sample.NAME, "-n", ns)
        s.wait(lambda e: isinstance(e, Removed) and e.ref.name == sample.NAME, 30, "Removed")
    finally:
        s.close()
    assert not s.thread.is_alive(), "watch did not stop"


def test_disconnect_marks_stale_then_recovers(kube_lab: KubeLab, tmp_path: Path) -> None:
    ns = unique_ns("ko-cut")
    deploy_canary(kube_lab, ns, start=False)
    proxy, path = proxied_kubeconfig(kube_lab, tmp_path)
    s = Stream(backend(kube_lab, ns, kubeconfig=str(path)))
    try:
        s.wait(lambda e: isinstance(e, Snapshot), 15, "snapshot")
        before_cut = time.time()
        proxy.cut()
        down = s.wait(
            lambda e: isinstance(e, ConnectionState) and not e.connected, 30, "disconnected state"
        )
        assert isinstance(down, ConnectionState)
        assert down.cluster == "lab" and down.message
        assert before_cut - 1 <= down.since <= time.time()
        # A change made while the console is cut off arrives after reconnecting.
        kube_lab.kubectl(
            "patch",
            "rollout",
            sample.NAME,
            "-n",
            ns,
            "--type=merge",
            "-p",
            '{"spec":{"paused":true}}',
        )
        proxy.restore()
        s.wait(lambda e: isinstance(e, ConnectionState) and e.connected, 60, "reconnected")
        s.wait(
            lambda e: (
                (isinstance(e, Upserted) and e.rollout.paused)
                or (isinstance(e, Snapshot) and any(r.paused for r in e.rollouts))
            ),
            30,
            "the missed change",
        )
    finally:
        s.close()
        proxy.close()


def test_forbidden_kinds_are_notices_until_granted(
    kube_lab: KubeLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A forbidden kind is looked at again every OPTIONAL_RETRY_S (60 s in use).
    monkeypatch.setattr(kube_backend, "OPTIONAL_RETRY_S", 0.5)
    ns = unique_ns("ko-notice")
    deploy_canary(kube_lab, ns, start=False)
    kubeconfig = kube_lab.create_service_account_kubeconfig(ns, "viewer", ARGO_READER)
    s = Stream(backend(kube_lab, ns, kubeconfig=str(kubeconfig)))
    try:
        snap = s.wait(lambda e: isinstance(e, Snapshot), 15, "snapshot")
        assert isinstance(snap, Snapshot)
        assert [r.ref.name for r in snap.rollouts] == [sample.NAME]
        notices = s.wait(lambda e: isinstance(e, Notices) and bool(e.messages), 15, "notices")
        assert isinstance(notices, Notices) and notices.cluster == "lab"
        user = f"system:serviceaccount:{ns}:viewer"
        # Six kinds, one sentence.
        [said] = notices.messages
        assert said.startswith(f"Forbidden: user {user!r} may not list ") and "\n" not in said
        assert "virtualservices.networking.istio.io" in said and "canaries.flagger.app" in said
        assert "list rollouts.argoproj.io" not in said, "rollouts are readable"
        # The RoleBinding widened: the notices clear without a restart.
        rules = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]}]
        kube_lab.create_service_account_kubeconfig(ns, "viewer", rules)
        s.wait(lambda e: isinstance(e, Notices) and e.messages == (), 30, "the notices cleared")
    finally:
        s.close()
