"""The built-in simulated cluster: the default `--demo` data source."""

from __future__ import annotations

from console.demo.backend import DemoBackend
from console.demo.clock import Clock, ManualClock, ScaledClock
from console.demo.metrics import DemoMetrics
from console.demo.simulation import DemoCluster

__all__ = [
    "Clock",
    "DemoBackend",
    "DemoCluster",
    "DemoMetrics",
    "ManualClock",
    "ScaledClock",
    "make_demo",
]


def make_demo(
    seed: int = 7,
    speed: float = 1.0,
    read_only: bool = False,
    extra: int = 0,
    clock: Clock | None = None,
    scenario: str | None = None,
) -> tuple[DemoBackend, DemoMetrics]:
    """A backend and a metrics source sharing one simulated cluster.

    `clock` wins over `speed` when given (tests and screenshots pass a ManualClock);
    `scenario` names a presenter's story (console/demo/stories.py), alone on the cluster.
    """
    ticking = clock if clock is not None else ScaledClock(speed)
    cluster = DemoCluster(seed, ticking, extra, scenario=scenario)
    return DemoBackend(cluster, read_only), DemoMetrics(cluster)
