"""KubeBackend's list/watch machinery on a scripted fake client (no cluster needed).

Covers what the lab cannot force on demand: 410 Gone → relist, a failing
connection → ConnectionState(connected=False) with backoff → recovery, and
provider-level unavailable actions.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from console.kube import backend as backend_mod
from console.kube.argo import PODS, REPLICASETS, ROLLOUTS
from console.kube.backend import KubeBackend
from console.kube.config import ClusterConfig
from console.kube.errors import ApiError
from console.kube.provider import ResourceType
from console.model import (
    ConnectionState,
    ConsoleError,
    Removed,
    Snapshot,
    StreamEvent,
    Upserted,
)
from tests.unit.test_argo_logic import CANARY_RS, STABLE_RS, rollout


def named(name: str, **status: Any) -> dict[str, Any]:
    ro = rollout(**status)
    ro["metadata"]["name"] = name
    ro["metadata"]["resourceVersion"] = "1"
    return ro


class FakeClient:
    """Lists from `objects`; watches replay scripted event batches, then block."""

    def __init__(self) -> None:
        self.objects: dict[ResourceType, list[dict[str, Any]]] = {
            ROLLOUTS: [named("a")],
            REPLICASETS: [STABLE_RS, CANARY_RS],
            PODS: [],
        }
        self.script: dict[ResourceType, list[Any]] = {}
        self.lists: dict[ResourceType, int] = {}
        self.fail_lists = 0
        self.grace = 0  # successful lists before failures start
        self.lock = threading.Lock()

    def list_with_version(self, rt: ResourceType, scope: Any, sel: Any = None) -> Any:
        with self.lock:
            if self.fail_lists > 0 and rt == ROLLOUTS and self.lists.get(rt, 0) >= self.grace:
                self.fail_lists -= 1
                raise ConnectionRefusedError("Connection refused")
            self.lists[rt] = self.lists.get(rt, 0) + 1
            if rt.optional and rt not in self.objects:
                raise ApiError(404, "Not Found")
            return copy.deepcopy(self.objects.get(rt, [])), "10"

    def watch_events(
        self,
        rt: ResourceType,
        scope: Any,
        rv: str,
        timeout: int,
        on_open: Callable[[Any], None] | None = None,
    ) -> Iterator[dict[str, Any]]:
        while True:
            with self.lock:
                steps = self.script.get(rt) or []
                step = steps.pop(0) if steps else None
            if step is None:
                time.sleep(0.05)
                continue
            if isinstance(step, Exception):
                raise step
            yield step

    def access_review(self, *args: Any) -> tuple[bool, str]:
        return True, ""


def make(fake: FakeClient) -> KubeBackend:
    b = KubeBackend([ClusterConfig("c1", None, "default", "me")], namespace="ml")  # type: ignore[arg-type]
    b.clusters["c1"].client = fake  # type: ignore[assignment]
    b.clusters["c1"].access.client = fake
    return b


def collect(
    b: KubeBackend, until: Callable[[list[StreamEvent]], bool], timeout: float = 10
) -> list[StreamEvent]:
    stop = threading.Event()
    out: list[StreamEvent] = []
    deadline = time.monotonic() + timeout
    for event in b.watch(stop):
        out.append(event)
        if until(out) or time.monotonic() > deadline:
            break
    stop.set()
    assert until(out), [type(e).__name__ for e in out]
    return out


def test_list_builds_rollouts_with_replicasets() -> None:
    b = make(FakeClient())
    [r] = b.list()
    assert r.ref.key == "c1/ml/a"
    assert r.canary is not None and r.canary.workload == "tf-serving-bbb222"
    assert b.description == "kube: c1"


def test_list_failure_is_one_sentence() -> None:
    fake = FakeClient()
    fake.fail_lists = 1
    b = make(fake)
    try:
        b.list()
    except ConsoleError as exc:
        assert str(exc).startswith("Connection refused"), str(exc)
    else:
        raise AssertionError("no ConsoleError")


def test_watch_snapshot_then_upsert_and_remove() -> None:
    fake = FakeClient()
    paused = named("a", phase="Paused", message="manually paused")
    paused["spec"]["paused"] = True

    def until(ev: list[StreamEvent]) -> bool:
        if len(ev) == 1:
            # Events only after the first Snapshot, else they are part of it.
            fake.script[ROLLOUTS] = [
                {"type": "ADDED", "object": named("b")},
                {"type": "MODIFIED", "object": paused},
            ]
        if any(isinstance(e, Upserted) and e.rollout.ref.name == "b" for e in ev):
            with fake.lock:
                if not fake.script.get(ROLLOUTS):
                    # Delete only once the add was seen: one batch would coalesce both.
                    fake.script[ROLLOUTS] = [{"type": "DELETED", "object": named("b")}]
        return any(isinstance(e, Removed) for e in ev)

    events = collect(make(fake), until)
    assert isinstance(events[0], Snapshot)
    assert [r.ref.name for r in events[0].rollouts] == ["a"]
    upserts = [e.rollout for e in events if isinstance(e, Upserted)]
    assert any(r.ref.name == "a" and r.message == "manually paused" for r in upserts)
    assert [e.ref.name for e in events if isinstance(e, Removed)] == ["b"]


def test_410_gone_relists_and_sends_snapshot() -> None:
    fake = FakeClient()

    def until(ev: list[StreamEvent]) -> bool:
        if len(ev) == 1:
            fake.objects[ROLLOUTS] = [named("a"), named("c")]  # what the relist will find
            fake.script[ROLLOUTS] = [ApiError(410, "Expired")]
        return sum(isinstance(e, Snapshot) for e in ev) >= 2

    events = collect(make(fake), until)
    snaps = [e for e in events if isinstance(e, Snapshot)]
    assert snaps[-1].cluster == "c1"
    assert sorted(r.ref.name for r in snaps[-1].rollouts) == ["a", "c"]
    assert fake.lists[ROLLOUTS] == 2
    assert not any(isinstance(e, ConnectionState) for e in events)


def test_disconnect_reports_stale_and_recovers(monkeypatch: Any) -> None:
    monkeypatch.setattr(backend_mod, "BACKOFF_START_S", 0.05)
    fake = FakeClient()
    fake.fail_lists = 2  # the first reconnect attempts fail too: backoff, then recover
    fake.grace = 1
    b = make(fake)

    def reconnected(ev: list[StreamEvent]) -> bool:
        if len(ev) == 1:
            fake.script[ROLLOUTS] = [ConnectionResetError("reset by peer")]
        return any(isinstance(e, ConnectionState) and e.connected for e in ev)

    events = collect(b, reconnected)
    states = [e for e in events if isinstance(e, ConnectionState)]
    assert not states[0].connected and states[0].cluster == "c1"
    assert "c1" in states[0].message and states[0].since > 0
    assert states[-1].connected
    assert fake.lists[ROLLOUTS] == 2  # initial list + the relist that proved recovery


def test_optional_missing_crd_is_not_an_error() -> None:
    opt = ResourceType("example.io", "v1", "widgets", "Widget", optional=True)

    class OptProvider:
        kind = "demo"
        resource = opt
        related: tuple[ResourceType, ...] = ()
        actions: tuple[Any, ...] = ()

        def to_rollouts(self, *a: Any) -> list[Any]:
            return []

        def required_verbs(self, action: Any) -> list[Any]:
            return []

    fake = FakeClient()
    b = make(fake)
    from console.kube.argo import ArgoProvider

    b.providers = [ArgoProvider(), OptProvider()]  # type: ignore[list-item]
    b._types = [ROLLOUTS, REPLICASETS, PODS, opt]
    assert [r.ref.name for r in b.list()] == ["a"]
    assert b.last_errors == []


def test_stored_objects_drop_managed_fields_and_the_last_applied_copy() -> None:
    from console.kube.backend import slim

    obj = {
        "metadata": {
            "name": "x",
            "managedFields": [{"manager": "kubectl"}] * 50,
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": "{" + "x" * 5000 + "}",
                "rollout-console.io/paused": "true",
            },
        },
        "spec": {"replicas": 1},
    }
    out = slim(obj)
    assert "managedFields" not in out["metadata"]
    assert out["metadata"]["annotations"] == {"rollout-console.io/paused": "true"}
    assert out["spec"] == {"replicas": 1}
