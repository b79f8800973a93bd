"""NaN or Inf only is NO_DATA, with the real Prometheus answering NaN-only series.

Before: NaN-only data gave `state: ok`, and the TUI kept the last real figures
with no mark for over a minute. The history here is real until `cut`, then
every sample is NaN (an exporter gone bad), so rates, ratios and quantiles
over it are NaN too.
"""

from __future__ import annotations

import pytest

from console.model import (
    Metric,
    MetricsState,
    Role,
)
from tests.faults.conftest import Fault, NanHistory
from tests.lab.prom import PrometheusLab
from tests.metrics.helpers import Clock, latest, make_source
from widgets.metric_summary import MetricSummary

pytestmark = pytest.mark.lab


@pytest.mark.fault(
    "Prometheus series turn NaN-only (TUI refreshes)",
    "NO_DATA with its age; the figures stay under a 'no data' mark",
)
def test_nan_only_series_are_no_data_and_marked(
    prom_lab: PrometheusLab, nan_history: NanHistory, fault: Fault
) -> None:
    rollout, cut = nan_history.rollout, nan_history.cut
    clock = Clock(cut - 120)
    source = make_source(prom_lab.url, clock)
    before = source.fetch([rollout], window_s=300, step_s=15, force=True)[rollout.ref.key]
    assert before.state is MetricsState.OK, before.reason
    assert latest(before, Role.CANARY, Metric.LATENCY_P99) == pytest.approx(95.0, rel=1e-4)

    # Refreshes every 15 s into the NaN stretch, as the TUI's worker does.
    states = []
    while clock.t < cut + 120:
        clock.t += 15
        m = source.fetch([rollout], window_s=300, step_s=15, force=True)[rollout.ref.key]
        states.append((clock.t - cut, m.state))
    marked_after = next(t for t, state in states if state is MetricsState.NO_DATA)
    fault.observed(f"NO_DATA {marked_after:.0f}s into NaN: {m.reason}")
    # Marked within a few steps, and stays marked.
    assert marked_after <= 60
    assert all(state is MetricsState.NO_DATA for t, state in states if t >= marked_after)
    assert "stable has had only NaN or Inf values for" in m.reason
    assert "canary has had only NaN or Inf values for" in m.reason

    # The TUI's summary: the last real figures, under the mark, never bare.
    summary = MetricSummary()
    summary.show(m, now=clock.t, refresh_s=15)
    lines = summary.text.splitlines()
    assert lines[0].startswith("no data: stable has had only NaN or Inf values"), lines
    assert any(line.startswith("p99 ms") for line in lines), lines


@pytest.mark.fault(
    "Prometheus answers NaN only (headless metrics, instant queries)",
    "NO_DATA (metrics exits 1, 'no data'), never state ok",
)
def test_nan_only_instant_answers_are_no_data(
    prom_lab: PrometheusLab, nan_history: NanHistory, fault: Fault
) -> None:
    rollout, cut = nan_history.rollout, nan_history.cut
    source = make_source(prom_lab.url, Clock(cut + 300))
    m = source.fetch_latest([rollout], window_s=60)[rollout.ref.key]
    fault.observed(f"{m.state.name}: {m.reason}")
    assert m.state is MetricsState.NO_DATA
    assert m.reason == "stable has only NaN or Inf values; canary has only NaN or Inf values"
    good = make_source(prom_lab.url, Clock(cut - 120)).fetch_latest([rollout], window_s=60)
    assert good[rollout.ref.key].state is MetricsState.OK
