"""The demo RolloutsBackend: list, the change stream, actions, read-only."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Iterator

import pytest

from console.backend import MetricsSource, RolloutsBackend
from console.demo import DemoBackend, DemoCluster, ManualClock, make_demo
from console.model import (
    Action,
    ActionError,
    ActionUnavailable,
    Snapshot,
    StreamEvent,
    Upserted,
)

T0 = 1_700_000_000.0


def test_make_demo_wires_both_interfaces_to_one_cluster() -> None:
    clock = ManualClock(T0)
    backend, metrics = make_demo(seed=3, clock=clock)
    assert isinstance(backend, RolloutsBackend) and isinstance(metrics, MetricsSource)
    assert backend.description == "demo (simulated cluster, seed 3)"
    assert metrics.cluster is backend.cluster and not backend.read_only
    rollouts = backend.list()
    assert len(rollouts) == 6
    assert all(r.ref.cluster == "demo" for r in rollouts)
    assert len(make_demo(extra=10, clock=ManualClock(T0))[0].list()) == 16


def test_read_only_refuses_every_action() -> None:
    clock = ManualClock(T0)
    backend = DemoBackend(DemoCluster(7, clock), read_only=True)
    before = backend.list()
    for action in Action:
        with pytest.raises(ActionUnavailable, match="read-only"):
            backend.act(before[0].ref, action)
    assert backend.list() == before


@pytest.fixture
def streaming() -> Iterator[tuple[DemoBackend, ManualClock, queue.Queue[StreamEvent]]]:
    clock = ManualClock(T0)
    backend = DemoBackend(DemoCluster(7, clock), interval=0.05)
    events: queue.Queue[StreamEvent] = queue.Queue()
    stop = threading.Event()

    def pump() -> None:
        for event in backend.watch(stop):
            events.put(event)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    yield backend, clock, events
    stop.set()
    thread.join(timeout=2)
    assert not thread.is_alive(), "watch() returns promptly once stopped"


def next_event(events: queue.Queue[StreamEvent], deadline_s: float = 5.0) -> StreamEvent:
    return events.get(timeout=deadline_s)


def test_watch_starts_with_a_snapshot_then_upserts_changes(
    streaming: tuple[DemoBackend, ManualClock, queue.Queue[StreamEvent]],
) -> None:
    _, clock, events = streaming
    first = next_event(events)
    assert isinstance(first, Snapshot) and len(first.rollouts) == 6
    time.sleep(0.2)
    assert events.empty(), "nothing moves while simulated time stands still"

    clock.advance(5)
    changed: set[str] = set()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "yolo-detector" not in changed:
        event = next_event(events)
        assert isinstance(event, Upserted)
        changed.add(event.rollout.ref.name)
    assert "yolo-detector" in changed, "its pause countdown moved"
    assert "bert-ranker" not in changed, "a finished rollout does not change"


def test_watch_reports_an_action(
    streaming: tuple[DemoBackend, ManualClock, queue.Queue[StreamEvent]],
) -> None:
    backend, _, events = streaming
    snapshot = next_event(events)
    assert isinstance(snapshot, Snapshot)
    face = next(r for r in snapshot.rollouts if r.ref.name == "facefusion")
    result = backend.act(face.ref, Action.ADVANCE)
    assert result.ref == face.ref
    event = next_event(events)
    assert isinstance(event, Upserted) and event.rollout.ref == face.ref
    assert event.rollout.set_weight == 50
    assert backend.events(face.ref)[-1][1].startswith("operator: promote (next step)")


def test_concurrent_actions_and_polls_are_safe() -> None:
    clock = ManualClock(T0)
    backend = DemoBackend(DemoCluster(7, clock, extra=20))
    refs = [r.ref for r in backend.list()]
    errors: list[BaseException] = []

    def hammer() -> None:
        try:
            for i in range(200):
                backend.list()
                if i % 20 == 0:
                    # "already paused" / "fully promoted" refusals are fine here.
                    with contextlib.suppress(ActionError):
                        backend.act(refs[i % len(refs)], Action.PAUSE)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for thread in threads:
        thread.start()
    for _ in range(100):
        clock.advance(1)
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
