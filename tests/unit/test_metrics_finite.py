"""NaN or Inf only is no data (console/metrics/finite.py), without a server."""

from __future__ import annotations

from console.metrics.finite import fresh_window, nan_only_is_no_data
from console.model import (
    Metric,
    MetricsState,
    Role,
    RolloutMetrics,
    RolloutRef,
    Series,
    VersionMetrics,
)

REF = RolloutRef("c", "ns", "x")


def metrics(stable_last: float | None, canary_last: float | None, at: float) -> RolloutMetrics:
    def version(role: Role, last: float | None) -> VersionMetrics:
        if last is None:
            return VersionMetrics(role)
        return VersionMetrics(role, {Metric.REQUEST_RATE: Series(((last - 15, 1.0), (last, 2.0)))})

    return RolloutMetrics(
        ref=REF,
        stable=version(Role.STABLE, stable_last),
        canary=version(Role.CANARY, canary_last),
        state=MetricsState.OK,
        taken_at=at,
    )


def test_recent_finite_points_stay_ok() -> None:
    m = metrics(985.0, 970.0, 1000.0)
    assert nan_only_is_no_data(m, fresh_window(15)) is m


def test_a_version_without_recent_finite_points_is_no_data_with_its_age() -> None:
    out = nan_only_is_no_data(metrics(985.0, 880.0, 1000.0), fresh_window(15))
    assert out.state is MetricsState.NO_DATA
    assert out.reason == "canary has had only NaN or Inf values for 2m"
    assert out.canary is not None and out.canary.get(Metric.REQUEST_RATE).latest == 2.0  # kept


def test_no_finite_point_at_all() -> None:
    out = nan_only_is_no_data(metrics(None, None, 1000.0), 0.0)
    assert out.reason == "stable has only NaN or Inf values; canary has only NaN or Inf values"


def test_an_outage_keeps_its_own_state() -> None:
    from dataclasses import replace

    down = replace(metrics(None, None, 1000.0), state=MetricsState.UNAVAILABLE, reason="refused")
    assert nan_only_is_no_data(down, 0.0) is down
    assert fresh_window(1) == 30.0 and fresh_window(60) == 180.0
