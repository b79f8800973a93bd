"""A demo app frozen in simulated time: for snapshots, screenshots and benchmarks.

The clock is a ManualClock, so the same seed and warm-up give the same
pixels on every machine; the store is preloaded, so the first frame is full.
"""

from __future__ import annotations

from console.app import RolloutConsoleApp
from console.demo import ManualClock, make_demo
from console.model import Snapshot

#: 2026-01-01T00:00:00Z: a fixed origin so ages and clocks read the same everywhere.
T0 = 1_767_225_600.0


def frozen_demo_app(
    *,
    seed: int = 7,
    warmup_s: float = 60.0,
    extra: int = 0,
    read_only: bool = False,
    theme: str = "rollout-dark",
    live: bool = True,
) -> tuple[RolloutConsoleApp, ManualClock]:
    """`live=False` starts no workers: the caller feeds the store (benchmarks)."""
    clock = ManualClock(T0)
    backend, metrics = make_demo(seed=seed, read_only=read_only, extra=extra, clock=clock)
    # Let history accumulate so charts have something to draw.
    clock.advance(warmup_s)
    app = RolloutConsoleApp(
        backend, metrics, read_only=read_only, theme=theme, clock=clock.now, start_workers=live
    )
    app.store.apply(Snapshot(tuple(backend.list())))
    return app, clock
