"""The headless `metrics` command's parsing and rendering (no server needed)."""

from __future__ import annotations

import io

import pytest

from console.metrics.headless import as_json, parse_target, render_table, rollout_from_labels
from console.model import (
    ConsoleError,
    Metric,
    MetricsState,
    Role,
    RolloutMetrics,
    Series,
    VersionMetrics,
)


def test_parse_target() -> None:
    assert parse_target("ml/yolo", None) == ("ml", "yolo")
    assert parse_target("yolo", "ml") == ("ml", "yolo")
    for bad in ("yolo", "ml/", "/yolo", "a/b/c"):
        with pytest.raises(ConsoleError, match="NAMESPACE/NAME"):
            parse_target(bad, None)


def test_version_labels_with_optional_pod_hash() -> None:
    r = rollout_from_labels("ml", "yolo", ["stable=v1", "Canary=v2:8d7e"])
    assert r.stable.label == "v1" and not r.stable.pod_hash
    assert r.canary is not None and (r.canary.label, r.canary.pod_hash) == ("v2", "8d7e")
    assert rollout_from_labels("ml", "yolo", ["stable=v1"]).canary is None
    for bad in (["canary=v2"], ["stable"], ["blue=v1"], ["stable="]):
        with pytest.raises(ConsoleError, match="--version-label"):
            rollout_from_labels("ml", "yolo", bad)


def test_table_and_json_show_both_versions_and_state() -> None:
    r = rollout_from_labels("ml", "yolo", ["stable=v1", "canary=v2"])
    m = RolloutMetrics(
        ref=r.ref,
        stable=VersionMetrics(
            Role.STABLE,
            {Metric.LATENCY_P99: Series(((1.0, 25.0),)), Metric.ERROR_PCT: Series(((1.0, 0.0),))},
        ),
        canary=VersionMetrics(Role.CANARY),
        state=MetricsState.NO_DATA,
        reason="no series matched for canary",
        taken_at=1795428000.0,
        window_s=300,
    )
    out = io.StringIO()
    render_table(r, m, 0.25, "prometheus http://p:9090 (istio+dcgm)", out)
    lines = out.getvalue().splitlines()
    assert lines[0] == (
        "ml/yolo  window 5m  taken 2026-11-23T10:00:00Z  query 0.25s  "
        "prometheus http://p:9090 (istio+dcgm)"
    )
    assert lines[1] == "no data: no series matched for canary"
    assert lines[2].split() == ["METRIC", "STABLE", "(v1)", "CANARY", "(v2)"]
    assert lines[4].split() == ["latency", "p99", "25.0", "ms", "-"]
    doc = as_json(r, m, 0.25, "src")
    assert doc["versions"]["stable"]["latency_p99_ms"] == 25.0
    assert doc["versions"]["canary"]["latency_p99_ms"] is None
    assert doc["state"] == "no data" and doc["taken_at"] == "2026-11-23T10:00:00Z"


def test_table_gives_gpu_memory_per_gpu_and_the_gpu_count() -> None:
    import io

    from console.metrics.headless import render_table
    from tests.widgets.data import rollout as sample_rollout
    from tests.widgets.data import sample_metrics

    out = io.StringIO()
    render_table(sample_rollout("tf-serving"), sample_metrics(), 0.1, "test", out)
    lines = {line.split("  ")[0]: line.split() for line in out.getvalue().splitlines()}
    assert lines["GPUs"][-2:] == ["4", "1"], "stable on 4 GPUs, canary on 1"
    assert "GPU memory/GPU" in lines and "GPU memory max" in lines
