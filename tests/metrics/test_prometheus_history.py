"""Backfilled history with known values, read back through the Prometheus source.

Tolerance: 1e-4 relative (0.01 %). The lab's history grows counters exactly
linearly and holds gauges constant, so rate() gives the constants back up to
float rounding, and latency quantiles are computed on the client with
PromQL's own interpolation rule (checked against the server's
histogram_quantile at every point to 1e-9). Expected values are the
hand-checked ones of tests.lab.history.known_pair:
stable p50 5 ms, p99 9.9 ms, 0.1 % errors, 40 req/s, GPU 30 %, 3 x 4 GiB;
canary p50 30 ms, p99 95 ms, 2 % errors, 10 req/s, GPU 50 %, 2 x 6 GiB.
"""

from __future__ import annotations

import math
import re
import time
from typing import Any

import pytest

from console.metrics.prometheus import PrometheusSource, QueryError
from console.model import (
    Metric,
    MetricsState,
    Phase,
    ProviderKind,
    Role,
    Rollout,
    RolloutRef,
    VersionInfo,
)
from tests.lab.history import expected_quantile, known_pair, openmetrics_history
from tests.lab.prom import PrometheusLab
from tests.metrics.helpers import Clock, latest, make_source, pair_rollout

pytestmark = pytest.mark.lab

NS = "metrics-history"
NS_RELABEL = "metrics-history-relabel"
REL = 1e-4


def relabel_dcgm(text: str, ns: str) -> str:
    """Make ns's DCGM series look scraped with honor_labels: false by a DCGM DaemonSet."""
    return re.sub(
        rf'(?<=[{{,])namespace="{ns}",pod="([^"]+)"',
        rf'namespace="gpu-operator",pod="dcgm-exporter-7x2k9",exported_namespace="{ns}",'
        r'exported_pod="\1"',
        text,
    )


@pytest.fixture(scope="module")
def history(prom_lab: PrometheusLab) -> dict[str, Any]:
    stable, canary = known_pair(namespace=NS)
    r_stable, r_canary = known_pair(namespace=NS_RELABEL, service="ocr")
    end = math.floor(time.time() / 60) * 60 - 900.0
    start = end - 3600.0
    text = openmetrics_history(
        [stable, canary, r_stable, r_canary], start, end, extra_labels={"job": "metrics-history"}
    )
    text = relabel_dcgm(text, NS_RELABEL)
    assert 'exported_pod="ocr-v2-0"' in text
    prom_lab.backfill(text)
    detector = pair_rollout(NS, stable, canary)
    ocr = Rollout(  # relabelled GPU series; the canary's pods found by pod-template hash
        ref=RolloutRef("lab", NS_RELABEL, "ocr"),
        provider=ProviderKind.ARGO,
        phase=Phase.PROGRESSING,
        stable=VersionInfo(Role.STABLE, label="v1", pods=r_stable.workload.pods),
        canary=VersionInfo(Role.CANARY, label="v2", pod_hash="v2"),
    )
    return {
        "start": start,
        "end": end,
        "at": end - 1200.0,
        "versions": {Role.STABLE: stable, Role.CANARY: canary},
        "rollouts": [detector, ocr],
    }


def expected(history: dict[str, Any], role: Role) -> dict[Metric, float]:
    v = history["versions"][role]
    return {
        Metric.LATENCY_P50: expected_quantile(0.5, v.latency_shares),
        Metric.LATENCY_P99: expected_quantile(0.99, v.latency_shares),
        Metric.ERROR_PCT: 100 * v.error_ratio,
        Metric.REQUEST_RATE: v.rps,
        Metric.GPU_UTIL: v.gpu_util_pct,
        Metric.GPU_MEMORY: v.gpu_mem_total_mib(history["start"], history["at"]) / 1024,
    }


def test_hand_checked_expectations() -> None:
    stable, canary = known_pair()
    assert expected_quantile(0.99, stable.latency_shares) == pytest.approx(9.9)
    assert expected_quantile(0.5, stable.latency_shares) == pytest.approx(5.0)
    assert expected_quantile(0.99, canary.latency_shares) == pytest.approx(95.0)
    assert expected_quantile(0.5, canary.latency_shares) == pytest.approx(30.0)


def test_range_fetch_gives_known_values_at_every_point(
    prom_lab: PrometheusLab, history: dict[str, Any]
) -> None:
    source = make_source(prom_lab.url, Clock(history["at"]))
    out = source.fetch(history["rollouts"], window_s=900, step_s=15)
    assert source.last_stats is not None and source.last_stats.queries == 5
    for rollout in history["rollouts"]:
        m = out[rollout.ref.key]
        assert m.state is MetricsState.OK, m.reason
        assert m.window_s == 900 and m.taken_at > 0
        for role in (Role.STABLE, Role.CANARY):
            version = m.version(role)
            assert version is not None
            for metric, value in expected(history, role).items():
                points = version.get(metric).points
                assert len(points) == 61, (rollout.ref.short, role, metric)  # 15 min / 15 s + 1
                for t, v in points:
                    assert v == pytest.approx(value, rel=REL), (rollout.ref.short, role, metric, t)


def test_client_quantiles_equal_server_histogram_quantile(
    prom_lab: PrometheusLab, history: dict[str, Any]
) -> None:
    source = make_source(prom_lab.url, Clock(history["at"]))
    detector = history["rollouts"][0]
    m = source.fetch([detector], window_s=600, step_s=30)[detector.ref.key]
    points = m.stable.get(Metric.LATENCY_P99).points
    canary = m.canary
    assert canary is not None
    server = prom_lab.query_range(
        "histogram_quantile(0.99, sum by (destination_version, le) (rate("
        f'istio_request_duration_milliseconds_bucket{{destination_workload_namespace="{NS}"}}[60s])))',
        points[0][0],
        points[-1][0],
        30,
    )
    by_version = {
        r["metric"]["destination_version"]: [(float(t), float(v)) for t, v in r["values"]]
        for r in server
    }
    for client, version in ((points, "v1"), (canary.get(Metric.LATENCY_P99).points, "v2")):
        assert [t for t, _ in client] == [t for t, _ in by_version[version]]
        for (_, mine), (_, theirs) in zip(client, by_version[version], strict=True):
            assert mine == pytest.approx(theirs, rel=1e-9)


def test_incremental_refresh_asks_only_new_points_and_equals_a_cold_fetch(
    prom_lab: PrometheusLab, history: dict[str, Any]
) -> None:
    clock = Clock(history["at"])
    source = make_source(prom_lab.url, clock)
    rollouts = history["rollouts"]
    source.fetch(rollouts, window_s=900, step_s=15)
    cold = source.last_stats
    assert cold is not None and not cold.incremental
    clock.t += 60
    sent = source.transport.log.sent
    warm_out = source.fetch(rollouts, window_s=900, step_s=15)
    warm = source.last_stats
    assert warm is not None and warm.incremental
    assert source.transport.log.sent - sent == 5
    # 60 s at a 15 s step: the 4 new points plus the newest old one, per series.
    assert warm.points <= cold.points * 5 / 61 + 1
    fresh = make_source(prom_lab.url, Clock(clock.t))
    cold_out = fresh.fetch(rollouts, window_s=900, step_s=15)
    for r in rollouts:
        for role in (Role.STABLE, Role.CANARY):
            a, b = warm_out[r.ref.key].version(role), cold_out[r.ref.key].version(role)
            assert a is not None and b is not None
            assert set(a.series) == set(b.series)
            for metric in a.series:
                pa, pb = a.get(metric).points, b.get(metric).points
                assert [t for t, _ in pa] == [t for t, _ in pb], (r.ref.short, role, metric)
                assert [v for _, v in pa] == pytest.approx([v for _, v in pb], rel=1e-9)


def test_refresh_faster_than_the_scrape_interval_is_answered_from_cache(
    prom_lab: PrometheusLab, history: dict[str, Any]
) -> None:
    clock = Clock(history["at"])
    source = make_source(prom_lab.url, clock, refresh_s=30.0)
    assert source.refresh_interval_s == 30.0
    source.fetch(history["rollouts"], window_s=300, step_s=15)
    sent = source.transport.log.sent
    clock.t += 10
    again = source.fetch(history["rollouts"], window_s=300, step_s=15)
    assert source.transport.log.sent == sent
    assert source.last_stats is not None and source.last_stats.cached
    assert all(m.state is MetricsState.OK for m in again.values())
    clock.t += 30
    source.fetch(history["rollouts"], window_s=300, step_s=15)
    assert source.transport.log.sent == sent + 5


def test_latest_figures_over_a_window(prom_lab: PrometheusLab, history: dict[str, Any]) -> None:
    source: PrometheusSource = make_source(prom_lab.url, Clock(history["at"]))
    out = source.fetch_latest(history["rollouts"], window_s=300)
    for rollout in history["rollouts"]:
        m = out[rollout.ref.key]
        assert m.state is MetricsState.OK, m.reason
        for role in (Role.STABLE, Role.CANARY):
            for metric, value in expected(history, role).items():
                assert latest(m, role, metric) == pytest.approx(value, rel=REL), (role, metric)


def test_rollout_without_series_is_no_data_not_unavailable(
    prom_lab: PrometheusLab, history: dict[str, Any]
) -> None:
    source = make_source(prom_lab.url, Clock(history["at"]))
    ghost = Rollout(
        ref=RolloutRef("lab", NS, "ghost"),
        provider=ProviderKind.ARGO,
        phase=Phase.PROGRESSING,
        stable=VersionInfo(Role.STABLE, label="v1"),
        canary=VersionInfo(Role.CANARY, label="v2"),
    )
    half = Rollout(  # stable matches, the canary label matches nothing
        ref=RolloutRef("lab", NS, "detector"),
        provider=ProviderKind.ARGO,
        phase=Phase.PROGRESSING,
        stable=VersionInfo(Role.STABLE, label="v1"),
        canary=VersionInfo(Role.CANARY, label="v7"),
    )
    out = source.fetch([ghost], window_s=300, step_s=15)
    m = out[ghost.ref.key]
    assert m.state is MetricsState.NO_DATA
    assert f"{m.state.value}: {m.reason}" == "no data: no series matched for stable and canary"
    m = source.fetch([half], window_s=300, step_s=15, force=True)[half.ref.key]
    assert m.state is MetricsState.NO_DATA and m.reason == "no series matched for canary"
    assert latest(m, Role.STABLE, Metric.REQUEST_RATE) == pytest.approx(40.0, rel=REL)


def test_query_range_runs_custom_promql_through_the_same_client(
    prom_lab: PrometheusLab, history: dict[str, Any]
) -> None:
    """The public query_range (for custom gates): labels and points of any PromQL."""
    source = make_source(prom_lab.url, Clock(history["at"]))
    end = history["at"]
    sent = source.transport.log.sent
    series = source.query_range(
        "histogram_quantile(0.99, sum by (destination_version, le) (rate("
        f'istio_request_duration_milliseconds_bucket{{destination_workload_namespace="{NS}"}}[60s])))',
        end - 300,
        end,
        30,
    )
    assert source.transport.log.sent == sent + 1
    by_version = {labels["destination_version"]: points for labels, points in series}
    assert set(by_version) == {"v1", "v2"}
    for version, value in (("v1", 9.9), ("v2", 95.0)):
        points = by_version[version]
        assert [t for t, _ in points] == [end - 300 + 30 * i for i in range(11)]
        assert all(v == pytest.approx(value, rel=REL) for _, v in points)
    # A query Prometheus rejects is a QueryError with its reason, not an exception of a library.
    with pytest.raises(QueryError) as info:
        source.query_range("sum(", end - 60, end, 15)
    assert info.value.reason.startswith(f"{prom_lab.url} rejected a query (HTTP 400)")
    assert not info.value.transient
    # Nothing matched: no series, no error.
    assert source.query_range('up{job="no-such-job"}', end - 60, end, 15) == []
