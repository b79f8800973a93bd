"""Queries per refresh do not grow with the number of rollouts.

Fifty rollouts' history (tests/metrics/fleet.py) is backfilled; a refresh for
one rollout and a refresh for all fifty send the same five queries (rate, 5xx
rate, latency buckets, GPU utilisation, GPU memory), cold and incremental,
and the client-side split still gives every rollout its own figures.
"""

from __future__ import annotations

import math
import time

import pytest

from console.model import Metric, MetricsState, Role
from tests.lab.prom import PrometheusLab
from tests.metrics.fleet import fleet, fleet_openmetrics
from tests.metrics.helpers import Clock, latest, make_source

pytestmark = pytest.mark.lab

N = 50


def test_queries_per_refresh_are_constant_for_1_and_50_rollouts(prom_lab: PrometheusLab) -> None:
    end = math.floor(time.time() / 60) * 60 - 900.0
    prom_lab.backfill(fleet_openmetrics(N, end - 1800, end))
    _, rollouts = fleet(N)
    at = end - 300

    counts: dict[int, list[int]] = {}
    for n in (1, N):
        clock = Clock(at)
        source = make_source(prom_lab.url, clock)
        sent = []
        for _ in range(3):  # one cold refresh, two incremental ones
            before = source.transport.log.sent
            out = source.fetch(rollouts[:n], window_s=900, step_s=15, force=True)
            sent.append(source.transport.log.sent - before)
            clock.t += 15
        counts[n] = sent
        assert len(out) == n
        for i, r in enumerate(rollouts[:n]):
            m = out[r.ref.key]
            assert m.state is MetricsState.OK, (r.ref.short, m.reason)
            assert latest(m, Role.STABLE, Metric.REQUEST_RATE) == pytest.approx(i + 1, rel=1e-4)
            assert latest(m, Role.CANARY, Metric.REQUEST_RATE) == pytest.approx(
                (i + 1) / 4, rel=1e-4
            )
            assert latest(m, Role.CANARY, Metric.ERROR_PCT) == pytest.approx(1.0, rel=1e-4)
            assert latest(m, Role.CANARY, Metric.LATENCY_P99) == pytest.approx(95.0, rel=1e-4)
            assert latest(m, Role.STABLE, Metric.GPU_MEMORY) == pytest.approx(4.0, rel=1e-4)
            assert latest(m, Role.CANARY, Metric.GPU_UTIL) == pytest.approx(60.0, rel=1e-4)
    assert counts[1] == counts[N] == [5, 5, 5], counts
