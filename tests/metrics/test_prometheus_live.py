"""Live scraping of the traffic lab: a staged bad canary shows higher p99 and errors.

The DCGM series are scraped the way a DCGM DaemonSet is with honor_labels:
false (the job's target labels namespace/pod rename the exporter's to
exported_namespace/exported_pod), and the versions' pods are given one by
name, one by pod-template hash.

Tolerances: latencies are real sleeps, so only the order is asserted with the
bucket bounds between them (stable p99 <= 50 ms < 100 ms < canary p99); the
canary's 10 % errors over a few hundred requests: 2-25 %; stable 0 %. GPU
memory is a constant gauge: exact (1e-6). Utilisation follows load: present
and above the idle 5 %.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from console.metrics import make_prometheus_source
from console.metrics.headless import run_metrics
from console.model import (
    Metric,
    MetricsState,
    Phase,
    ProviderKind,
    Role,
    Rollout,
    RolloutMetrics,
    RolloutRef,
    VersionInfo,
)
from tests.lab.proc import wait_for
from tests.lab.prom import PrometheusLab
from tests.lab.traffic import Behaviour, ServerSpec, TrafficLab
from tests.lab.traffic.exposition import Workload
from tests.metrics.helpers import latest

pytestmark = pytest.mark.lab

NS = "metrics-live"


def test_bad_canary_is_worse_than_stable_side_by_side(
    prom_lab: PrometheusLab, tmp_path: Path
) -> None:
    stable_w = Workload(
        NS, "detector", "v1", "detector", pods=("detector-6c9f-a1", "detector-6c9f-a2")
    )
    canary_w = Workload(NS, "detector", "v2", "detector", pods=("detector-8d7e-b1",))
    lab = TrafficLab(tmp_path / "traffic", prom_lab, job="metrics-live")
    try:
        lab.start_servers(
            [
                ServerSpec(stable_w, Behaviour(latency_base_ms=15, latency_jitter_ms=10), seed=1),
                ServerSpec(
                    canary_w,
                    Behaviour(
                        latency_base_ms=150,
                        latency_jitter_ms=60,
                        error_ratio=0.10,
                        gpu_mem_base_mib=9216,
                    ),
                    seed=7,
                ),
            ],
            scrape_labels={"namespace": "gpu-operator", "pod": "dcgm-exporter-live"},
            honor_labels=False,
        )
        lab.start_loadgen(weights={"v1": 50, "v2": 50}, rps=20, duration=150)
        rollout = Rollout(
            ref=RolloutRef("lab", NS, "detector"),
            provider=ProviderKind.ARGO,
            phase=Phase.PROGRESSING,
            stable=VersionInfo(Role.STABLE, label="v1", pod_hash="6c9f"),
            canary=VersionInfo(Role.CANARY, label="v2", pods=canary_w.pods),
        )
        source = make_prometheus_source(url=prom_lab.url)
        assert source.refresh_interval_s == 1.0  # the lab scrapes every second

        def filled() -> RolloutMetrics | None:
            m = source.fetch([rollout], window_s=120, step_s=2)[rollout.ref.key]
            if m.state is not MetricsState.OK:
                return None
            rates = [latest(m, role, Metric.REQUEST_RATE) or 0 for role in Role]
            # A 60 s rate window at least half full of traffic: ~300 requests each.
            return m if min(rates) >= 5 else None

        m = wait_for(filled, timeout=90, what="both versions' rates in the live lab", interval=1)
        p99_stable = latest(m, Role.STABLE, Metric.LATENCY_P99)
        p99_canary = latest(m, Role.CANARY, Metric.LATENCY_P99)
        assert p99_stable is not None and p99_canary is not None
        assert p99_stable <= 50 < 100 < p99_canary, (p99_stable, p99_canary)
        p50_stable = latest(m, Role.STABLE, Metric.LATENCY_P50)
        assert p50_stable is not None and p50_stable <= p99_stable
        assert latest(m, Role.STABLE, Metric.ERROR_PCT) == 0
        errors = latest(m, Role.CANARY, Metric.ERROR_PCT)
        assert errors is not None and 2 < errors < 25, errors
        # GPU, joined through exported_pod: by pod-template hash and by pod names.
        assert latest(m, Role.STABLE, Metric.GPU_MEMORY) == pytest.approx(12.0, rel=1e-6)
        assert latest(m, Role.CANARY, Metric.GPU_MEMORY) == pytest.approx(9.0, rel=1e-6)
        for role in Role:
            util = latest(m, role, Metric.GPU_UTIL)
            assert util is not None and util > Behaviour().gpu_util_idle_pct, (role, util)
        # The series are live: more than one point, the newest within a few seconds.
        series = m.stable.get(Metric.REQUEST_RATE).points
        assert len(series) > 5 and abs(series[-1][0] - m.taken_at) < 10

        # The headless command, for runbooks (versions given without a cluster).
        out = io.StringIO()
        args = argparse.Namespace(
            target=f"{NS}/detector",
            prometheus=prom_lab.url,
            config=None,
            output="json",
            window="30s",
            version_label=["stable=v1", "canary=v2:8d7e"],
            context=[],
            kubeconfig=None,
            namespace=None,
        )
        assert run_metrics(args, out=out) == 0, out.getvalue()
        doc = json.loads(out.getvalue())
        assert doc["rollout"] == f"{NS}/detector" and doc["window_s"] == 30
        assert doc["state"] == "ok" and doc["taken_at"].endswith("Z")
        stable, canary = doc["versions"]["stable"], doc["versions"]["canary"]
        assert stable["version"] == "v1" and canary["version"] == "v2"
        assert stable["latency_p99_ms"] <= 50 < 100 < canary["latency_p99_ms"]
        assert canary["error_pct"] > stable["error_pct"] == 0
        assert canary["gpu_memory_gib"] == pytest.approx(9.0)  # pods by hash 8d7e
        assert stable["gpu_memory_gib"] is None  # no pods known for stable: no GPU figure

        table = io.StringIO()
        args.output = "table"
        assert run_metrics(args, out=table) == 0
        text = table.getvalue()
        assert text.startswith(f"{NS}/detector  window 30s  taken ")
        assert "STABLE (v1)" in text and "CANARY (v2)" in text and "latency p99" in text
    finally:
        lab.stop()
