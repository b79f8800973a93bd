"""Client-side split of grouped answers into per-rollout, per-version series."""

from __future__ import annotations

import math

import pytest

from console.metrics.profiles import (
    GpuProfile,
    PodMatcher,
    RequestsMatcher,
    RequestsProfile,
    label_key,
    load_profiles,
)
from console.metrics.prometheus import QueryError, build_metrics
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

PROFILES = load_profiles()


def _profiles() -> tuple[RequestsProfile, GpuProfile]:
    istio, dcgm = PROFILES["istio"], PROFILES["dcgm"]
    assert isinstance(istio, RequestsProfile) and isinstance(dcgm, GpuProfile)
    return istio, dcgm


ISTIO, DCGM = _profiles()


def rollout(
    ns: str,
    name: str,
    stable: VersionInfo | None = None,
    canary: VersionInfo | None = None,
) -> Rollout:
    return Rollout(
        ref=RolloutRef("lab", ns, name),
        provider=ProviderKind.ARGO,
        phase=Phase.PROGRESSING,
        stable=stable or VersionInfo(Role.STABLE, label="v1"),
        canary=canary or VersionInfo(Role.CANARY, label="v2"),
    )


def istio(ns: str, service: str, workload: str, version: str, **extra: str) -> dict[str, str]:
    return {
        "destination_workload_namespace": ns,
        "destination_service_name": service,
        "destination_workload": workload,
        "destination_version": version,
        "destination_canonical_revision": version,
        **extra,
    }


def test_argo_rollout_versions_split_by_version_label() -> None:
    r = rollout("ml", "detector")
    m = RequestsMatcher(ISTIO, [r])
    assert m.assign(istio("ml", "detector", "detector", "v1")) == [(r.ref.key, Role.STABLE)]
    assert m.assign(istio("ml", "detector", "detector", "v2")) == [(r.ref.key, Role.CANARY)]
    assert m.assign(istio("ml", "detector-canary", "detector", "v2")) == [(r.ref.key, Role.CANARY)]
    assert m.assign(istio("other", "detector", "detector", "v2")) == []  # namespace
    assert m.assign(istio("ml", "detector-x", "detector-x", "v2")) == []  # a different app
    assert m.assign(istio("ml", "detector", "detector", "v3")) == []  # neither version


def test_flagger_primary_split_by_workload() -> None:
    r = rollout(
        "ml",
        "podinfo",
        VersionInfo(Role.STABLE, workload="podinfo-primary"),
        VersionInfo(Role.CANARY, workload="podinfo"),
    )
    m = RequestsMatcher(ISTIO, [r])
    labels = istio("ml", "podinfo", "podinfo-primary", "latest")
    assert m.assign(labels) == [(r.ref.key, Role.STABLE)]
    assert m.assign(istio("ml", "podinfo-canary", "podinfo", "latest")) == [
        (r.ref.key, Role.CANARY)
    ]


def test_two_deployments_matched_through_their_workloads() -> None:
    # Mesh-weighted canary: yolo-v1 and yolo-v2 Deployments behind one service "vision".
    r = rollout(
        "ml",
        "vision-split",
        VersionInfo(Role.STABLE, workload="yolo-v1"),
        VersionInfo(Role.CANARY, workload="yolo-v2"),
    )
    m = RequestsMatcher(ISTIO, [r])
    assert m.assign(istio("ml", "vision", "yolo-v2", "v9")) == [(r.ref.key, Role.CANARY)]


def test_version_by_revision_or_pod_hash() -> None:
    r = rollout(
        "ml",
        "det",
        VersionInfo(Role.STABLE, revision="3", pod_hash="abc12"),
        VersionInfo(Role.CANARY, revision="4", pod_hash="def34"),
    )
    m = RequestsMatcher(ISTIO, [r])
    assert m.assign(istio("ml", "det", "det", "4")) == [(r.ref.key, Role.CANARY)]
    labels = istio("ml", "det", "det", "x", destination_canonical_revision="abc12")
    assert m.assign(labels) == [(r.ref.key, Role.STABLE)]


def test_pods_join_by_name_hash_and_exported_pod() -> None:
    r = rollout(
        "ml",
        "det",
        VersionInfo(Role.STABLE, pods=("det-7f9c-aaaaa", "det-7f9c-bbbbb")),
        VersionInfo(Role.CANARY, pod_hash="5d6e7"),
    )
    m = PodMatcher(DCGM, [r])
    assert m.assign({"namespace": "ml", "pod": "det-7f9c-aaaaa"}) == [(r.ref.key, Role.STABLE)]
    assert m.assign({"namespace": "ml", "pod": "det-5d6e7-x1y2z"}) == [(r.ref.key, Role.CANARY)]
    # honor_labels: false -> the exporter's own pod/namespace, the workload's exported_*
    relabelled = {
        "namespace": "gpu-operator",
        "pod": "dcgm-exporter-q8v2k",
        "exported_namespace": "ml",
        "exported_pod": "det-5d6e7-x1y2z",
    }
    assert m.assign(relabelled) == [(r.ref.key, Role.CANARY)]
    assert m.assign({"namespace": "other", "pod": "det-7f9c-aaaaa"}) == []
    assert m.assign({"namespace": "gpu-operator", "pod": "dcgm-exporter-q8v2k"}) == []


def _pts(*values: float, t0: float = 100.0) -> dict[float, float]:
    return {t0 + 15 * i: v for i, v in enumerate(values)}


def test_build_metrics_sums_series_and_computes_ratios_and_quantiles() -> None:
    r = rollout(
        "ml",
        "det",
        VersionInfo(Role.STABLE, label="v1", pods=("p1", "p2")),
        VersionInfo(Role.CANARY, label="v2", pods=("p3",)),
    )
    v1a = istio("ml", "det", "det", "v1")
    v1b = istio("ml", "det-stable", "det", "v1")  # two series of one version add up
    v2 = istio("ml", "det", "det", "v2")
    data = {
        "rate": {
            label_key(v1a): _pts(30, 30),
            label_key(v1b): _pts(10, 10),
            label_key(v2): _pts(10, 0),
        },
        "errors": {label_key(v2): _pts(0.5, 0)},
        "buckets": {
            label_key({**v1a, "le": "5"}): _pts(20),
            label_key({**v1a, "le": "10"}): _pts(30),
            label_key({**v1a, "le": "+Inf"}): _pts(30),
            label_key({**v1b, "le": "5"}): _pts(0),
            label_key({**v1b, "le": "10"}): _pts(10),
            label_key({**v1b, "le": "+Inf"}): _pts(10),
        },
        "gpu_util": {
            label_key({"namespace": "ml", "pod": "p1"}): _pts(20),
            label_key({"namespace": "ml", "pod": "p2"}): _pts(40),
            label_key({"namespace": "ml", "pod": "p3"}): _pts(90),
        },
        "gpu_memory": {
            label_key({"namespace": "ml", "pod": "p1"}): _pts(1024),
            label_key({"namespace": "ml", "pod": "p2"}): _pts(2048),
        },
    }
    out = build_metrics(
        [r], data, ISTIO, DCGM, (0.5, 0.99), window_s=900, taken_at=123.0, error=None
    )[r.ref.key]
    assert out.state is MetricsState.OK and out.taken_at == 123.0 and out.window_s == 900
    stable, canary = out.stable, out.canary
    assert canary is not None
    assert stable.get(Metric.REQUEST_RATE).points == ((100, 40.0), (115, 40.0))
    assert stable.get(Metric.ERROR_PCT).points == ((100, 0.0), (115, 0.0))
    assert canary.get(Metric.ERROR_PCT).points == ((100, 5.0),)  # no traffic at 115: no point
    # merged buckets: le5=20, le10=40, total 40 -> p50 = rank 20 -> top of le5 bucket (1..5)
    assert stable.get(Metric.LATENCY_P50).latest == pytest.approx(5.0)
    assert stable.get(Metric.LATENCY_P99).latest == pytest.approx(5 + 5 * (39.6 - 20) / 20)
    assert Metric.LATENCY_P99 not in canary.series  # canary had no bucket series
    assert stable.get(Metric.GPU_UTIL).latest == pytest.approx(30.0)
    assert stable.get(Metric.GPU_MEMORY).latest == pytest.approx(3.0)
    assert canary.get(Metric.GPU_UTIL).latest == pytest.approx(90.0)


def test_no_data_names_the_version_and_unavailable_wins() -> None:
    r = rollout("ml", "det")
    data = {"rate": {label_key(istio("ml", "det", "det", "v1")): _pts(1)}}
    out = build_metrics([r], data, ISTIO, None, (0.5, 0.99), window_s=60, taken_at=1, error=None)
    m = out[r.ref.key]
    assert m.state is MetricsState.NO_DATA
    assert m.reason == "no series matched for canary"
    assert m.stable.get(Metric.REQUEST_RATE).latest == 1.0  # what there is still shows

    err = QueryError("connection refused to http://127.0.0.1:9")
    m = build_metrics([r], data, ISTIO, None, (0.5, 0.99), window_s=60, taken_at=1, error=err)[
        r.ref.key
    ]
    assert m.state is MetricsState.UNAVAILABLE
    assert m.reason == "connection refused to http://127.0.0.1:9"
    assert m.stable.get(Metric.REQUEST_RATE).latest == 1.0  # last good data kept

    alone = Rollout(
        ref=RolloutRef("lab", "ml", "nothing"),
        provider=ProviderKind.ARGO,
        phase=Phase.HEALTHY,
        stable=VersionInfo(Role.STABLE, label="v1"),
    )
    m = build_metrics([alone], {}, ISTIO, None, (0.5, 0.99), window_s=60, taken_at=1, error=None)[
        alone.ref.key
    ]
    assert m.state is MetricsState.NO_DATA and m.reason == "no series matched for stable"
    assert m.canary is None


def test_nan_points_are_dropped() -> None:
    r = rollout("ml", "det")
    v2 = istio("ml", "det", "det", "v2")
    data = {"rate": {label_key(v2): {1.0: math.nan, 2.0: 3.0}}}
    m = build_metrics([r], data, ISTIO, None, (0.5, 0.99), window_s=60, taken_at=1, error=None)
    canary = m[r.ref.key].canary
    assert canary is not None
    assert canary.get(Metric.REQUEST_RATE).points == ((2.0, 3.0),)


def test_merge_keeps_old_points_in_window_and_recomputes_no_data() -> None:
    from console.metrics.prometheus import merge_metrics
    from console.model import RolloutMetrics, Series, VersionMetrics

    r = rollout("ml", "det")
    old = RolloutMetrics(
        ref=r.ref,
        stable=VersionMetrics(Role.STABLE, {Metric.REQUEST_RATE: Series(((0, 1.0), (15, 2.0)))}),
        canary=VersionMetrics(Role.CANARY, {Metric.REQUEST_RATE: Series(((15, 5.0),))}),
        taken_at=1.0,
    )
    # The since-limited run saw only the stable's new point: not "no data" for the
    # canary, whose older points are still inside the window.
    new = RolloutMetrics(
        ref=r.ref,
        stable=VersionMetrics(Role.STABLE, {Metric.REQUEST_RATE: Series(((30, 3.0),))}),
        canary=VersionMetrics(Role.CANARY),
        state=MetricsState.NO_DATA,
        reason="no series matched for canary",
        taken_at=2.0,
    )
    m = merge_metrics(old, new, since=30, window_start=15)
    assert m.stable.get(Metric.REQUEST_RATE).points == ((15, 2.0), (30, 3.0))
    assert m.canary is not None and m.canary.get(Metric.REQUEST_RATE).points == ((15, 5.0),)
    assert m.state is MetricsState.OK and m.reason == "" and m.taken_at == 2.0
    gone = merge_metrics(old, new, since=30, window_start=20)
    assert gone.state is MetricsState.NO_DATA and gone.reason == "no series matched for canary"
