"""Profile loading, overrides, query building and PromQL-exact quantiles."""

from __future__ import annotations

import math

import pytest

from console.metrics.profiles import (
    BUILTIN_PROFILES,
    GpuProfile,
    RequestsProfile,
    bucket_quantile,
    gpu_queries,
    load_profiles,
    requests_queries,
)
from console.model import ConsoleError


def test_builtins_load_from_package_data() -> None:
    profiles = load_profiles()
    assert set(BUILTIN_PROFILES) <= set(profiles)
    istio = profiles["istio"]
    assert isinstance(istio, RequestsProfile)
    assert istio.requests_metric == "istio_requests_total"
    assert istio.latency_bucket_metric == "istio_request_duration_milliseconds_bucket"
    assert istio.selector == 'reporter="destination"'
    assert istio.version_labels == ("destination_version", "destination_canonical_revision")
    generic = profiles["generic-http"]
    assert isinstance(generic, RequestsProfile)
    assert generic.latency_scale_to_ms == 1000.0
    dcgm = profiles["dcgm"]
    assert isinstance(dcgm, GpuProfile)
    assert dcgm.pod_labels == ("exported_pod", "pod")
    assert dcgm.memory_to_gib == pytest.approx(1 / 1024)


def test_override_merges_into_builtin_and_new_profile_is_added() -> None:
    profiles = load_profiles(
        {
            "istio": {"match": {"workload_regex": "{name}-(v[0-9]+)"}},
            "tf-serving": {
                "kind": "requests",
                "requests_metric": "http_requests_total",
                "latency_bucket_metric": "model_latency_seconds_bucket",
                "latency_unit": "s",
                "selector": 'job="tf-serving"',
                "error_selector": 'code=~"5.."',
                "labels": {"namespace": "namespace", "service": "job", "version": "version"},
                "match": {"service_regex": "tf-serving"},
            },
        }
    )
    istio = profiles["istio"]
    assert isinstance(istio, RequestsProfile)
    assert istio.workload_regex == "{name}-(v[0-9]+)"
    assert istio.service_regex == "{name}(-canary|-stable|-primary)?"  # untouched
    assert istio.requests_metric == "istio_requests_total"
    tf = profiles["tf-serving"]
    assert isinstance(tf, RequestsProfile)
    assert tf.service_labels == ("job",)


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ({"istio": {"latency_unit": "us"}}, "latency_unit"),
        ({"istio": {"match": {"version_keys": ["colour"]}}}, "unknown version key"),
        ({"istio": {"match": {"service_regex": "{name}("}}}, "not a valid pattern"),
        ({"mine": {"kind": "requests"}}, "lacks the field"),
        ({"mine": {"kind": "cpu"}}, "kind must be"),
        ({"mine": "istio"}, "must be a mapping"),
    ],
)
def test_bad_profiles_give_one_sentence(override: dict[str, object], words: str) -> None:
    with pytest.raises(ConsoleError, match=words):
        load_profiles(override)


def test_requests_queries_are_three_grouped_queries_for_any_number_of_namespaces() -> None:
    istio = load_profiles()["istio"]
    assert isinstance(istio, RequestsProfile)
    one = requests_queries(istio, ["a"], 60)
    many = requests_queries(istio, [f"ns-{i}" for i in range(50)], 60)
    assert [q.key for q in one] == [q.key for q in many] == ["rate", "errors", "buckets"]
    rate, errors, buckets = (q.promql for q in many)
    by = (
        "sum by (destination_workload_namespace, destination_service_name, "
        "destination_workload, destination_version, destination_canonical_revision"
    )
    assert rate.startswith(by + ") (rate(istio_requests_total{")
    assert 'response_code=~"5.."' in errors
    assert buckets.startswith(by + ", le) (rate(istio_request_duration_milliseconds_bucket{")
    assert "[60s]" in rate
    assert 'destination_workload_namespace=~"ns-0|ns-1|' in rate


def test_namespace_regex_is_escaped_for_promql() -> None:
    istio = load_profiles()["istio"]
    assert isinstance(istio, RequestsProfile)
    q = requests_queries(istio, ["a.b"], 60)[0].promql
    assert 'destination_workload_namespace=~"a\\\\.b"' in q


def test_gpu_queries_cover_relabelled_and_plain_pod_labels() -> None:
    dcgm = load_profiles()["dcgm"]
    assert isinstance(dcgm, GpuProfile)
    util, mem = gpu_queries(dcgm, ["ml"])
    assert util.promql == (
        "avg by (exported_namespace, namespace, exported_pod, pod) "
        '(DCGM_FI_DEV_GPU_UTIL{exported_namespace=~"ml"} or DCGM_FI_DEV_GPU_UTIL{namespace=~"ml"})'
    )
    assert mem.promql.startswith("sum by (exported_namespace, namespace, exported_pod, pod)")


def _cumulative(shares: dict[float, float], total: float = 100.0) -> dict[float, float]:
    bounds = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, math.inf]
    out, acc = {}, 0.0
    for b in bounds:
        acc += shares.get(b, 0.0) * total
        out[float(b)] = acc
    return out


@pytest.mark.parametrize(
    ("q", "shares", "expected"),
    [
        (0.99, {5: 0.5, 10: 0.5}, 9.9),  # 5 + 5 * 0.49 / 0.5
        (0.5, {5: 0.5, 10: 0.5}, 5.0),  # rank at the top of the le=5 bucket, from 1
        (0.99, {25: 0.4, 50: 0.5, 100: 0.1}, 95.0),
        (0.5, {25: 0.4, 50: 0.5, 100: 0.1}, 30.0),  # 25 + 25 * 0.1 / 0.5
        (0.99, {10: 0.5, math.inf: 0.5}, 1000.0),  # rank in +Inf: highest finite bound
        (0.1, {0.5: 1.0}, 0.05),  # first bucket starts at 0
    ],
)
def test_bucket_quantile_matches_promql(
    q: float, shares: dict[float, float], expected: float
) -> None:
    assert bucket_quantile(q, _cumulative(shares)) == pytest.approx(expected)


def test_bucket_quantile_edge_cases() -> None:
    assert math.isnan(bucket_quantile(0.5, {10.0: 0.0, math.inf: 0.0}))  # no traffic
    assert math.isnan(bucket_quantile(0.5, {10.0: 3.0}))  # no +Inf bucket
    assert bucket_quantile(-1, {10.0: 1.0, math.inf: 1.0}) == -math.inf
    # Non-monotonic buckets (rate noise) are made monotonic, as Prometheus does.
    assert bucket_quantile(0.5, {5.0: 4.0, 10.0: 3.0, math.inf: 8.0}) == pytest.approx(5.0)
