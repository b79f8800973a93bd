"""NaN or Inf only is no data: a version whose series stopped giving finite values.

Prometheus answers NaN for 0/0 (an error ratio with no requests, a quantile of
empty buckets) and a broken exporter can report NaN or Inf for ever. The source
drops such points, so a version's series just stop: the screen would keep the
last real figures, unmarked, as if they were current. Here a version whose
newest finite point is older than a few steps makes the result NO_DATA, with one
sentence that says since when; the figures stay visible under that mark.
"""

from __future__ import annotations

from dataclasses import replace

from console.model import MetricsState, RolloutMetrics, VersionMetrics, format_duration


def newest_point(version: VersionMetrics) -> float | None:
    """The time of the version's newest finite point, over all its metrics."""
    return max((s.points[-1][0] for s in version.series.values() if s.points), default=None)


def nan_only_is_no_data(m: RolloutMetrics, fresh_s: float) -> RolloutMetrics:
    """`m`, or NO_DATA when a version has no finite value in the `fresh_s` before
    `m.taken_at` (only results that were OK; an outage keeps its own state)."""
    if m.state is not MetricsState.OK or not m.taken_at:
        return m
    parts: list[str] = []
    for version in (m.stable, m.canary):
        if version is None:
            continue
        newest = newest_point(version)
        if newest is None:
            parts.append(f"{version.role.value} has only NaN or Inf values")
        elif newest < m.taken_at - fresh_s:
            age = format_duration(m.taken_at - newest)
            parts.append(f"{version.role.value} has had only NaN or Inf values for {age}")
    if not parts:
        return m
    return replace(m, state=MetricsState.NO_DATA, reason="; ".join(parts))


def fresh_window(step_s: float) -> float:
    """How old the newest finite point may be: three steps (a late scrape or a missed
    evaluation is not NaN), at least 30 s."""
    return max(3.0 * step_s, 30.0)
