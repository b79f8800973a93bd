"""A demo app frozen in simulated time: for snapshots, screenshots and benchmarks.

The clock is a ManualClock, so the same seed and warm-up give the same
pixels on every machine; the store is preloaded, so the first frame is full.
"""

from __future__ import annotations

from console.app import RolloutConsoleApp
from console.demo import ManualClock, make_demo
from console.demo.gates import demo_guard
from console.guard.loop import GuardReport
from console.model import Snapshot

#: 2026-01-01T00:00:00Z: a fixed origin so ages and clocks read the same everywhere.
T0 = 1_767_225_600.0
#: The demo's guard interval (simulated seconds in a frozen app; real seconds live).
GUARD_EVERY_S = 5.0


def frozen_demo_app(
    *,
    seed: int = 7,
    warmup_s: float = 60.0,
    extra: int = 0,
    read_only: bool = False,
    theme: str = "rollout-dark",
    live: bool = True,
    guard: bool = False,
    guard_every_s: float = GUARD_EVERY_S,
    scenario: str | None = None,
) -> tuple[RolloutConsoleApp, ManualClock]:
    """`live=False` starts no workers: the caller feeds the store (benchmarks).

    `guard=True` runs the demo's guard every `guard_every_s` simulated seconds of the
    warm-up, as the live demo would have, so its verdicts and pauses are in the first
    frame; the app keeps evaluating whenever the clock is moved (read-only: dry-run).
    `scenario` names a presenter's story (console/demo/stories.py) instead of the cluster.
    """
    clock = ManualClock(T0)
    backend, metrics = make_demo(
        seed=seed, read_only=read_only, extra=extra, clock=clock, scenario=scenario
    )
    the_guard = demo_guard(backend, metrics, clock.now, dry_run=read_only) if guard else None
    reports: list[GuardReport] = []
    # Let history accumulate so charts have something to draw.
    if the_guard is None:
        clock.advance(warmup_s)
    else:
        left = warmup_s
        while left > 0:
            reports.append(the_guard.evaluate(backend.list()))
            step = min(guard_every_s, left)
            clock.advance(step)
            left -= step
        reports.append(the_guard.evaluate(backend.list()))
    app = RolloutConsoleApp(
        backend,
        metrics,
        read_only=read_only,
        theme=theme,
        clock=clock.now,
        start_workers=live,
        guard=the_guard,
        guard_every_s=guard_every_s,
    )
    app.store.apply(Snapshot(tuple(backend.list())))
    if reports:
        decisions = [d for report in reports for d in report.decisions]
        app.store.set_guard_report(reports[-1].verdicts, decisions, reports[-1].at)
        # The app's own first evaluation waits for the clock to move.
        app.guard_clock = clock.now()
    return app, clock
