"""End to end: the lab's Argo Rollout mid-canary, read by the Kubernetes backend,
its versions' live metrics from the traffic lab through the Prometheus source.

The traffic lab serves each version with the kwok pod names the backend
reports (so the GPU join goes through VersionInfo.pods) and the load
generator follows the live VirtualService weights the Argo controller writes.
The canary is staged bad (slow, 10 % errors).

Tolerances as in test_prometheus_live: order only for p99 (stable <= 50 ms <
100 ms < canary), canary errors > stable errors (= 0), GPU memory exact.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from console.kube import make_kube_backend
from console.metrics import make_prometheus_source
from console.model import Metric, MetricsState, Role, Rollout, RolloutMetrics
from tests.lab import sample
from tests.lab.kube import KubeLab
from tests.lab.proc import wait_for
from tests.lab.prom import PrometheusLab
from tests.lab.traffic import Behaviour
from tests.metrics.helpers import latest

pytestmark = pytest.mark.lab


def test_live_metrics_of_an_argo_canary_in_the_lab(
    kube_lab: KubeLab,
    prom_lab: PrometheusLab,
    tmp_path: Path,
) -> None:
    ns = f"metrics-e2e-{uuid.uuid4().hex[:6]}"
    sample.deploy(kube_lab, ns)
    sample.start_canary(kube_lab, ns)
    backend = make_kube_backend(str(kube_lab.kubeconfig), [], ns, False, True)

    def mid_canary() -> Rollout | None:
        # The indefinite pause (30 %): pods and weights hold still while we measure.
        for r in backend.list():
            if (
                r.ref.name == sample.NAME
                and r.current_step == sample.INDEFINITE_PAUSE_STEP
                and r.canary is not None
                and r.canary.pods
                and r.stable.pods
                and r.actual_weight > 0
            ):
                return r
        return None

    rollout = wait_for(
        mid_canary, timeout=180, what=f"{ns}/{sample.NAME} paused mid-canary", interval=1
    )
    assert rollout.canary is not None
    assert rollout.stable.label == "v1" and rollout.canary.label == "v2", (
        "the Kubernetes backend must set VersionInfo.label from the pod template's "
        f"`version` label (Istio's destination_version); got {rollout.stable}, {rollout.canary}"
    )

    lab = sample.serve_bad_canary(
        kube_lab,
        prom_lab,
        ns,
        rollout.stable.pods,
        rollout.canary.pods,
        tmp_path / "traffic",
        job=f"metrics-e2e-{ns}",
        duration=150,
    )
    try:
        source = make_prometheus_source(url=prom_lab.url)

        def filled() -> RolloutMetrics | None:
            r = mid_canary() or rollout
            m = source.fetch([r], window_s=120, step_s=2)[r.ref.key]
            if m.state is not MetricsState.OK:
                return None
            canary_rate = latest(m, Role.CANARY, Metric.REQUEST_RATE) or 0
            errors = latest(m, Role.CANARY, Metric.ERROR_PCT) or 0
            return m if canary_rate >= 2 and errors > 0 else None

        m = wait_for(filled, timeout=120, what="live canary metrics from the lab", interval=1)
        p99_stable = latest(m, Role.STABLE, Metric.LATENCY_P99)
        p99_canary = latest(m, Role.CANARY, Metric.LATENCY_P99)
        assert p99_stable is not None and p99_canary is not None
        assert p99_stable <= 50 < 100 < p99_canary
        assert latest(m, Role.STABLE, Metric.ERROR_PCT) == 0
        stable_rate = latest(m, Role.STABLE, Metric.REQUEST_RATE)
        assert stable_rate is not None and stable_rate > (
            latest(m, Role.CANARY, Metric.REQUEST_RATE) or 0
        )
        per_gpu = Behaviour().gpu_mem_base_mib / 1024
        stable_gib = latest(m, Role.STABLE, Metric.GPU_MEMORY)
        canary_gib = latest(m, Role.CANARY, Metric.GPU_MEMORY)
        assert stable_gib == pytest.approx(per_gpu * len(rollout.stable.pods), rel=1e-6)
        assert canary_gib == pytest.approx(per_gpu * len(rollout.canary.pods), rel=1e-6)
    finally:
        lab.stop()
