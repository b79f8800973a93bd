"""The list under churn (issue 9, item 8): a burst of changes reaches the store whole
and in order, with at most one stream message waiting in the app's queue (a key
typed meanwhile is not queued behind hundreds of them), and the filter follows
the keys typed."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import replace

from console.app import RolloutConsoleApp
from console.messages import StreamReceived
from console.metrics.none import NoMetrics
from console.model import (
    Action,
    ActionResult,
    Removed,
    RolloutRef,
    Seen,
    Snapshot,
    StreamEvent,
    Upserted,
)
from tests.ui.drive import until
from tests.widgets.data import NOW, rollout
from tests.widgets.test_widgets import screen_text
from widgets.rollout_table import RolloutTable

N = 300


def rows(app: RolloutConsoleApp) -> int:
    return app.screen.query_one(RolloutTable).row_count


BURST = 2_000


class Churning:
    description = "churn"
    read_only = False

    def __init__(self) -> None:
        self.rollouts = [rollout(f"svc-{i:04d}", namespace=f"ns-{i % 30:02d}") for i in range(N)]
        self.go = threading.Event()
        self.done = threading.Event()

    def list(self) -> list:  # type: ignore[type-arg]
        return list(self.rollouts)

    def watch(self, stop: threading.Event) -> Iterator[StreamEvent]:
        yield Snapshot(tuple(self.rollouts))
        self.go.wait(30)
        # As fast as the thread can: far faster than the UI applies them one by one.
        for i in range(BURST):
            j = i % N
            self.rollouts[j] = replace(self.rollouts[j], set_weight=i % 100)
            yield Upserted(self.rollouts[j])
        gone = self.rollouts.pop()
        yield Removed(gone.ref)
        self.done.set()
        while not stop.wait(0.1):
            pass

    def act(
        self, ref: RolloutRef, action: Action, *, note: str = "", seen: Seen | None = None
    ) -> ActionResult:
        return ActionResult(ref, action, "done")

    def annotate(self, ref: RolloutRef, changes: Mapping[str, str | None]) -> None:
        pass


async def test_a_burst_of_changes_is_applied_whole_in_order_with_few_messages() -> None:
    backend = Churning()
    app = RolloutConsoleApp(backend, NoMetrics("none"), clock=lambda: NOW)
    handled: list[int] = []
    original = app.on_stream_received

    def counting(message: StreamReceived) -> None:
        handled.append(1)
        original(message)

    app.on_stream_received = counting  # type: ignore[method-assign]
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: len(app.store.rollouts) == N, "the first list")
        backend.go.set()
        await until(pilot, backend.done.is_set, "the burst sent", timeout=30)
        await until(pilot, lambda: len(app.store.rollouts) == N - 1, "every change applied")
        # The newest state of every rollout, the deleted one gone.
        for r in backend.rollouts:
            assert app.store.rollouts[r.ref.key].set_weight == r.set_weight
        assert len(handled) < BURST / 2, "events were taken in batches, not a message each"


async def test_the_list_follows_the_filter_typed() -> None:
    backend = Churning()
    app = RolloutConsoleApp(backend, NoMetrics("none"), clock=lambda: NOW)
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: len(app.store.rollouts) == N, "the first list")
        backend.go.set()  # churn while typing
        await pilot.press("slash", *"svc-0042")
        await until(pilot, lambda: rows(app) == 1, "one row left")
        assert "svc-0042" in screen_text(app)
        assert "svc-0043" not in screen_text(app)
        # Burst: filter, leave the box, open the row, as typed fast over SSH.
        await pilot.press("enter", "escape")
        await until(
            pilot,
            lambda: rows(app) == len(app.store.rollouts),
            "the filter cleared",
        )
        await pilot.press("slash", *"svc-0123", "enter", "enter")
        await until(
            pilot, lambda: getattr(app.screen, "key", "").endswith("/svc-0123"), "svc-0123 open"
        )
