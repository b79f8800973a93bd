"""Per-version traffic and metrics of the simulated cluster."""

from __future__ import annotations

import itertools
import statistics

import pytest

from console.backend import MetricsSource
from console.demo import DemoCluster, DemoMetrics, ManualClock
from console.model import (
    Action,
    Metric,
    MetricsState,
    Phase,
    ProviderKind,
    Role,
    Rollout,
    RolloutMetrics,
    RolloutRef,
    Series,
    VersionInfo,
)

T0 = 1_700_000_000.0


@pytest.fixture
def demo() -> tuple[DemoCluster, DemoMetrics, ManualClock]:
    clock = ManualClock(T0)
    cluster = DemoCluster(7, clock)
    return cluster, DemoMetrics(cluster), clock


def get(cluster: DemoCluster, name: str) -> Rollout:
    return next(r for r in cluster.rollouts() if r.ref.name == name)


def fetch(
    metrics: DemoMetrics, rollout: Rollout, window_s: float, step_s: float = 2.0
) -> RolloutMetrics:
    return metrics.fetch([rollout], window_s, step_s)[rollout.ref.key]


def values(series: Series) -> list[float]:
    return [v for _, v in series.points]


def mean(metrics: RolloutMetrics, role: Role, metric: Metric) -> float:
    version = metrics.version(role)
    assert version is not None
    return statistics.fmean(values(version.get(metric)))


def test_is_a_metrics_source(demo: tuple[DemoCluster, DemoMetrics, ManualClock]) -> None:
    assert isinstance(demo[1], MetricsSource)


def test_every_metric_per_version_over_the_window(
    demo: tuple[DemoCluster, DemoMetrics, ManualClock],
) -> None:
    cluster, metrics, _ = demo
    rollouts = cluster.rollouts()
    fetched = metrics.fetch(rollouts, 300, 10)
    assert set(fetched) == {r.ref.key for r in rollouts}
    yolo = fetched[get(cluster, "yolo-detector").ref.key]
    assert yolo.state is MetricsState.OK and yolo.canary is not None
    assert yolo.taken_at == T0 and yolo.window_s == 300
    # The canary began 240 s ago and took traffic once its pods were Ready.
    for version, least in ((yolo.stable, 30), (yolo.canary, 20)):
        for metric in Metric:
            points = version.get(metric).points
            assert least <= len(points) <= 31, metric
            assert all(T0 - 300 <= t <= T0 for t, _ in points)
            assert [t for t, _ in points] == sorted(t for t, _ in points)
    bert = fetched[get(cluster, "bert-ranker").ref.key]
    assert bert.canary is None and bert.state is MetricsState.OK


def test_canary_request_rate_follows_the_weight(
    demo: tuple[DemoCluster, DemoMetrics, ManualClock],
) -> None:
    cluster, metrics, clock = demo
    yolo = get(cluster, "yolo-detector")
    assert yolo.actual_weight == 20
    cluster.act(yolo.ref, Action.PAUSE)
    clock.advance(120)
    at_20 = fetch(metrics, get(cluster, "yolo-detector"), 100)
    cluster.act(yolo.ref, Action.ADVANCE)  # setWeight 40, and unpaused
    for _ in range(120):
        clock.advance(1)
        if get(cluster, "yolo-detector").actual_weight == 40:
            break
    cluster.act(yolo.ref, Action.PAUSE)
    clock.advance(120)
    at_40 = fetch(metrics, get(cluster, "yolo-detector"), 100)
    ratio = mean(at_40, Role.CANARY, Metric.REQUEST_RATE) / mean(
        at_20, Role.CANARY, Metric.REQUEST_RATE
    )
    # Total traffic wobbles a few percent over minutes: doubling is within 20%.
    assert 1.6 < ratio < 2.4
    canary_rps = mean(at_40, Role.CANARY, Metric.REQUEST_RATE)
    share = canary_rps / (canary_rps + mean(at_40, Role.STABLE, Metric.REQUEST_RATE))
    assert share == pytest.approx(0.40, abs=0.01)
    # More requests on the canary pods: more GPU busy, stable gets lighter.
    assert mean(at_40, Role.STABLE, Metric.GPU_UTIL) < mean(at_20, Role.STABLE, Metric.GPU_UTIL)


def test_yolo_canary_regresses_p99_and_errors(
    demo: tuple[DemoCluster, DemoMetrics, ManualClock],
) -> None:
    cluster, metrics, _ = demo
    m = fetch(metrics, get(cluster, "yolo-detector"), 200)
    p99 = mean(m, Role.CANARY, Metric.LATENCY_P99) / mean(m, Role.STABLE, Metric.LATENCY_P99)
    assert p99 > 2.0, "beyond the ~2x a bigger model is expected to cost"
    assert 2.0 < mean(m, Role.CANARY, Metric.ERROR_PCT) < 5.0
    assert mean(m, Role.STABLE, Metric.ERROR_PCT) < 0.1


def test_tf_serving_canary_looks_like_stable(
    demo: tuple[DemoCluster, DemoMetrics, ManualClock],
) -> None:
    cluster, metrics, _ = demo
    m = fetch(metrics, get(cluster, "tf-serving"), 60)
    ratio = mean(m, Role.CANARY, Metric.LATENCY_P99) / mean(m, Role.STABLE, Metric.LATENCY_P99)
    assert 0.8 < ratio < 1.2
    assert mean(m, Role.CANARY, Metric.ERROR_PCT) < 0.2


def test_facefusion_canary_gpu_memory_grows(
    demo: tuple[DemoCluster, DemoMetrics, ManualClock],
) -> None:
    cluster, metrics, clock = demo
    clock.advance(20 * 60)
    m = fetch(metrics, get(cluster, "facefusion"), 20 * 60, 60)
    assert m.canary is not None
    canary = values(m.canary.get(Metric.GPU_MEMORY))
    stable = values(m.stable.get(Metric.GPU_MEMORY))
    assert canary[-1] - canary[0] > 0.8, "~0.06 GiB/min over 20 min"
    assert all(b > a - 0.1 for a, b in itertools.pairwise(canary))
    assert max(stable) - min(stable) < 0.3
    assert canary[-1] < 24.0
    # Latency and errors give nothing away.
    ratio = mean(m, Role.CANARY, Metric.LATENCY_P99) / mean(m, Role.STABLE, Metric.LATENCY_P99)
    assert 0.8 < ratio < 1.2


def test_no_traffic_is_no_data_not_unavailable(
    demo: tuple[DemoCluster, DemoMetrics, ManualClock],
) -> None:
    cluster, metrics, clock = demo
    clock.advance(600)
    whisper = fetch(metrics, get(cluster, "whisper-asr"), 300)
    assert whisper.state is MetricsState.NO_DATA
    assert "canary" in whisper.reason and "no requests" in whisper.reason
    assert whisper.canary is not None
    assert whisper.canary.get(Metric.LATENCY_P99).points == ()
    assert set(values(whisper.canary.get(Metric.REQUEST_RATE))) == {0.0}
    assert whisper.canary.get(Metric.GPU_MEMORY).points, "the pods still run"
    assert whisper.stable.get(Metric.LATENCY_P99).points

    ghost = Rollout(
        RolloutRef("demo", "x", "ghost"), ProviderKind.DEMO, Phase.UNKNOWN, VersionInfo(Role.STABLE)
    )
    unknown = metrics.fetch([ghost], 300, 10)["demo/x/ghost"]
    assert unknown.state is MetricsState.UNAVAILABLE and unknown.reason


def test_coarse_steps_are_bucket_means(
    demo: tuple[DemoCluster, DemoMetrics, ManualClock],
) -> None:
    cluster, metrics, _ = demo
    bert = get(cluster, "bert-ranker")
    fine = fetch(metrics, bert, 300, 2).stable.get(Metric.REQUEST_RATE)
    coarse = fetch(metrics, bert, 300, 30).stable.get(Metric.REQUEST_RATE)
    assert 10 <= len(coarse.points) <= 11
    assert all((T0 - t) % 30 == 0 for t, _ in coarse.points)
    assert statistics.fmean(values(coarse)) == pytest.approx(statistics.fmean(values(fine)), 0.05)
