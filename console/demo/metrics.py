"""Per-version series from the simulated cluster, shaped like a Prometheus range query."""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence

from console.demo.simulation import SAMPLE_EVERY, TICK_S, DemoCluster, History
from console.model import (
    Metric,
    MetricsState,
    Role,
    Rollout,
    RolloutMetrics,
    Series,
    VersionMetrics,
    format_duration,
)


class DemoMetrics:
    """`MetricsSource` over a DemoCluster.

    NO_DATA means a version exists but served no request in the window (a
    canary at 0%); its GPU series still come, since the pods still run.
    UNAVAILABLE is kept for rollouts the demo does not know.
    """

    description = "demo (simulated per-version traffic)"
    #: One sample per version this often: the guard's staleness rule uses it.
    scrape_interval_s = SAMPLE_EVERY * TICK_S

    def __init__(self, cluster: DemoCluster) -> None:
        self.cluster = cluster

    def fetch(
        self, rollouts: Sequence[Rollout], window_s: float, step_s: float
    ) -> dict[str, RolloutMetrics]:
        cluster = self.cluster
        out: dict[str, RolloutMetrics] = {}
        with cluster.lock:
            cluster.sync()
            end = cluster.now
            since = end - window_s
            for rollout in rollouts:
                ref = rollout.ref
                stable = cluster.history(ref, Role.STABLE, since)
                if stable is None:
                    out[ref.key] = RolloutMetrics(
                        ref,
                        VersionMetrics(Role.STABLE),
                        None,
                        MetricsState.UNAVAILABLE,
                        f"{ref.short} is not a rollout of the demo cluster.",
                        taken_at=end,
                        window_s=window_s,
                    )
                    continue
                canary = cluster.history(ref, Role.CANARY, since)
                silent = [
                    role.value
                    for role, history in ((Role.STABLE, stable), (Role.CANARY, canary))
                    if history is not None and not _served(history)
                ]
                state, reason = MetricsState.OK, ""
                if silent:
                    state = MetricsState.NO_DATA
                    reason = (
                        f"{' and '.join(silent)} served no requests "
                        f"in the last {format_duration(window_s)}"
                    )
                out[ref.key] = RolloutMetrics(
                    ref,
                    _version(Role.STABLE, stable, end, step_s),
                    _version(Role.CANARY, canary, end, step_s) if canary is not None else None,
                    state,
                    reason,
                    taken_at=end,
                    window_s=window_s,
                )
        return out


def _served(history: History) -> bool:
    return any(rps > 0.0 for rps in history[1][Metric.REQUEST_RATE])


def _version(role: Role, history: History, end: float, step_s: float) -> VersionMetrics:
    times, columns = history
    if step_s <= SAMPLE_EVERY * TICK_S:
        # Raw samples; `v == v` drops NaN (nothing measured) without a call per point.
        return VersionMetrics(
            role,
            {
                metric: Series(tuple((t, v) for t, v in zip(times, values, strict=True) if v == v))
                for metric, values in columns.items()
            },
        )
    # One mean per step_s bucket aligned to `end`, as a range query's steps are.
    keys = [math.ceil((t - end) / step_s) for t in times]
    return VersionMetrics(
        role, {metric: _bucketed(keys, values, end, step_s) for metric, values in columns.items()}
    )


def _bucketed(keys: list[int], values: array[float], end: float, step_s: float) -> Series:
    points: list[tuple[float, float]] = []
    current, total, count = 0, 0.0, 0
    for key, value in zip(keys, values, strict=True):
        if value != value:  # NaN: nothing was measured
            continue
        if count and key != current:
            points.append((end + current * step_s, total / count))
            total, count = 0.0, 0
        current = key
        total += value
        count += 1
    if count:
        points.append((end + current * step_s, total / count))
    return Series(tuple(points))
