"""The Prometheus half of the lab is real: scraped traffic and backfilled history.

Tolerances, and why:
- live split: the load generator's weighted round-robin is exact, but a 20 s
  rate window holds one or two scrapes more or less per series, so the canary
  share is checked as 20 % +- 5 points and the total as 20 rps +- 25 %
  (30 % +- 5 points when the split comes from the live VirtualService);
- backfilled history: counters grow exactly linearly, so PromQL must give the
  constants back up to float rounding; checked to 0.1 % relative;
- bad canary: latencies are real sleeps, so only the order and the buckets
  (p99 stable <= 50 ms, canary > 100 ms) and error ratios (canary 10 % +- 7
  points over ~100 requests, stable 0) are asserted.
"""

from __future__ import annotations

import math
import time
import uuid

import pytest

from tests.lab import sample
from tests.lab.fixtures_prom import StageTraffic
from tests.lab.history import VersionHistory, expected_quantile, known_pair, openmetrics_history
from tests.lab.kube import KubeLab
from tests.lab.proc import wait_for
from tests.lab.prom import PrometheusLab
from tests.lab.traffic import Behaviour, ServerSpec
from tests.lab.traffic.exposition import Workload

pytestmark = pytest.mark.lab

BY_VERSION = "destination_version"


def _workload(namespace: str, version: str, pods: int = 2) -> Workload:
    return Workload(
        namespace=namespace,
        workload=f"detector-{version}",
        version=version,
        service="detector",
        pods=tuple(f"detector-{version}-{i}" for i in range(pods)),
    )


def _rates(ns: str, window: str) -> str:
    return (
        f"sum by ({BY_VERSION}) (rate(istio_requests_total"
        f'{{reporter="destination",destination_workload_namespace="{ns}"}}[{window}]))'
    )


def _p99(ns: str, window: str) -> str:
    return (
        f"histogram_quantile(0.99, sum by ({BY_VERSION}, le) (rate("
        f'istio_request_duration_milliseconds_bucket{{reporter="destination",'
        f'destination_workload_namespace="{ns}"}}[{window}])))'
    )


def _error_ratio(ns: str, window: str) -> str:
    sel = f'reporter="destination",destination_workload_namespace="{ns}"'
    total = f"sum by ({BY_VERSION}) (rate(istio_requests_total{{{sel}}}[{window}]))"
    failed = total.replace(sel, sel + ',response_code=~"5.."')
    # A version without any 5xx has no error series; "or" gives it a 0.
    return f"{failed} / {total} or {total} * 0"


def _pods_regex(workload: Workload) -> str:
    return "|".join(workload.pods)


def test_prometheus_returns_per_version_rates_of_the_traffic_lab(
    prom_lab: PrometheusLab, stage_traffic: StageTraffic
) -> None:
    ns = "lab-rates"
    v1, v2 = _workload(ns, "v1"), _workload(ns, "v2")
    stage_traffic(
        [ServerSpec(v1, seed=1), ServerSpec(v2, seed=2)],
        weights={"v1": 80, "v2": 20},
        rps=20,
        duration=90,
    )

    # Wait until the 20 s window is filled with traffic, not just for the
    # first scrape: a half-empty window shows a low total, not a wrong split.
    def filled() -> dict[str, float] | None:
        rates = prom_lab.query_by(_rates(ns, "20s"), BY_VERSION)
        full = {"v1", "v2"} <= rates.keys() and sum(rates.values()) >= 17
        return rates if full else None

    rates = wait_for(filled, timeout=60, what=f"both versions' request rates in {ns}", interval=1)
    total = rates["v1"] + rates["v2"]
    assert rates["v2"] / total == pytest.approx(0.20, abs=0.05), rates
    assert total == pytest.approx(20, rel=0.25), rates

    # DCGM series name the version's pods; utilisation follows the load.
    util = prom_lab.query_by(f'DCGM_FI_DEV_GPU_UTIL{{namespace="{ns}"}}', "pod")
    assert set(util) == set(v1.pods) | set(v2.pods)
    assert util["detector-v1-0"] > util["detector-v2-0"] >= Behaviour().gpu_util_idle_pct
    mem = prom_lab.query_by(f'sum(DCGM_FI_DEV_FB_USED{{pod=~"{_pods_regex(v2)}"}})', "")
    assert mem[""] == pytest.approx(2 * Behaviour().gpu_mem_base_mib)


def test_backfilled_history_gives_known_values_back(prom_lab: PrometheusLab) -> None:
    ns = "lab-history"
    stable, canary = known_pair(namespace=ns)
    leaky = VersionHistory(  # GPU memory that grows: 8 MiB per minute per GPU
        workload=_workload(ns, "v3", pods=1),
        rps=1.0,
        error_ratio=0.0,
        latency_shares={10: 1.0},
        gpu_util_pct=10.0,
        gpu_mem_mib=1000.0,
        gpu_mem_growth_mib_per_min=8.0,
    )
    # Whole minutes in the past, far enough back not to touch the live head.
    end = math.floor(time.time() / 60) * 60 - 600.0
    start = end - 2 * 3600
    blocks = prom_lab.backfill(
        openmetrics_history([stable, canary, leaky], start, end, extra_labels={"job": "history"})
    )
    assert blocks, "promtool created no blocks"

    at = end - 30 * 60
    rates = prom_lab.query_by(_rates(ns, "5m"), BY_VERSION, at)
    p99 = prom_lab.query_by(_p99(ns, "5m"), BY_VERSION, at)
    errors = prom_lab.query_by(_error_ratio(ns, "5m"), BY_VERSION, at)
    for v in (stable, canary):
        version = v.workload.version
        assert rates[version] == pytest.approx(v.rps, rel=1e-3)
        assert p99[version] == pytest.approx(expected_quantile(0.99, v.latency_shares), rel=1e-3)
        assert errors[version] == pytest.approx(v.error_ratio, rel=1e-3)
        pods = _pods_regex(v.workload)
        util = prom_lab.query(f'avg(DCGM_FI_DEV_GPU_UTIL{{namespace="{ns}",pod=~"{pods}"}})', at)
        assert float(util[0]["value"][1]) == pytest.approx(v.gpu_util_pct, rel=1e-3)
        mem = prom_lab.query(f'sum(DCGM_FI_DEV_FB_USED{{namespace="{ns}",pod=~"{pods}"}})', at)
        assert float(mem[0]["value"][1]) == pytest.approx(v.gpu_mem_total_mib(start, at), rel=1e-3)

    # The hand-checked figures of known_pair, so a bug shared by the generator
    # and expected_quantile cannot hide.
    assert p99 == pytest.approx({"v1": 9.9, "v2": 95.0, "v3": 9.95}, rel=1e-3)
    assert errors["v2"] == pytest.approx(0.02, rel=1e-3)
    assert rates["v2"] == pytest.approx(10.0, rel=1e-3)
    canary_gib = canary.gpu_mem_total_mib(start, at) / 1024
    assert canary_gib == pytest.approx(12.0)

    # Growth shows up as a slope: 8 MiB/min over one hour.
    pods = _pods_regex(leaky.workload)
    one_hour = prom_lab.query(f'delta(DCGM_FI_DEV_FB_USED{{pod=~"{pods}"}}[1h])', at)
    assert float(one_hour[0]["value"][1]) == pytest.approx(480.0, rel=1e-2)


def test_staged_bad_canary_shows_higher_p99_and_errors(
    prom_lab: PrometheusLab, stage_traffic: StageTraffic
) -> None:
    ns = "lab-bad-canary"
    stable = ServerSpec(_workload(ns, "v1"), Behaviour(latency_base_ms=15, latency_jitter_ms=10))
    canary = ServerSpec(
        _workload(ns, "v2"),
        Behaviour(latency_base_ms=150, latency_jitter_ms=60, error_ratio=0.10),
        seed=7,
    )
    stage_traffic([stable, canary], weights={"v1": 50, "v2": 50}, rps=20, duration=90)

    window = "30s"
    count = (
        f"sum by ({BY_VERSION}) (increase(istio_requests_total"
        f'{{destination_workload_namespace="{ns}"}}[{window}]))'
    )

    def enough() -> bool:
        seen = prom_lab.query_by(count, BY_VERSION)
        return min(seen.get("v1", 0), seen.get("v2", 0)) >= 100

    wait_for(enough, timeout=60, what=f"100 requests per version in {ns}", interval=1)
    p99 = prom_lab.query_by(_p99(ns, window), BY_VERSION)
    errors = prom_lab.query_by(_error_ratio(ns, window), BY_VERSION)

    assert p99["v1"] <= 50 < 100 < p99["v2"], p99
    assert errors["v1"] == 0
    assert errors["v2"] == pytest.approx(0.10, abs=0.07), errors


def test_traffic_follows_the_live_virtualservice_weights(
    kube_lab: KubeLab, prom_lab: PrometheusLab, stage_traffic: StageTraffic
) -> None:
    """The Argo controller moves the sample's weights 10 -> 30; traffic and Prometheus follow."""
    ns = f"lab-traffic-{uuid.uuid4().hex[:6]}"
    sample.deploy(kube_lab, ns)
    sample.start_canary(kube_lab, ns)
    kube_lab.wait_for(
        lambda: sample.canary_weight(kube_lab, ns) == 10, timeout=90, what="canary weight 10"
    )

    def pods(version: str) -> tuple[str, ...]:
        items = kube_lab.get_json("pods", "-n", ns, "-l", f"version={version}")["items"]
        return tuple(sorted(p["metadata"]["name"] for p in items))

    workloads = {
        v: Workload(
            namespace=ns,
            workload=sample.NAME,  # Istio names Argo's ReplicaSets after the Rollout
            version=v,
            service=sample.NAME,
            pods=pods(v),
            container=sample.NAME,
        )
        for v in ("v1", "v2")
    }
    assert workloads["v1"].pods and workloads["v2"].pods, workloads
    lab = stage_traffic(
        [ServerSpec(w) for w in workloads.values()],
        virtualservice=f"{ns}/{sample.NAME}",
        kubeconfig=kube_lab.kubeconfig,
        route=sample.ROUTE,
        rps=20,
        duration=150,
    )

    # After the 30 s pause the controller sets 30 %; once a full 20 s rate
    # window has been scraped since the load generator switched, Prometheus
    # must show the new split.
    kube_lab.wait_for(
        lambda: sample.canary_weight(kube_lab, ns) == 30, timeout=90, what="canary weight 30"
    )
    switched = wait_for(
        lambda: "'v2': 30" in lab.loadgen_log() and time.time(),
        timeout=10,
        what="the load generator to read weight 30",
    )
    newest = f'max(timestamp(istio_requests_total{{destination_workload_namespace="{ns}"}}))'
    at = switched + 22
    wait_for(
        lambda: float(prom_lab.query(newest)[0]["value"][1]) >= at,
        timeout=60,
        what="a full rate window scraped after the switch",
        interval=1,
    )
    rates = prom_lab.query_by(_rates(ns, "20s"), BY_VERSION, at)
    total = rates["v1"] + rates["v2"]
    assert rates["v2"] / total == pytest.approx(0.30, abs=0.05), rates

    summary = lab.stop_loadgen()
    assert summary is not None
    seen = [w for _, w in summary["weights_seen"]]
    assert seen[:2] == [{"v1": 90, "v2": 10}, {"v1": 70, "v2": 30}], seen
    assert summary["weight_read_errors"] == 0, summary["last_weight_error"]

    util = prom_lab.query_by(f'DCGM_FI_DEV_GPU_UTIL{{namespace="{ns}"}}', "pod")
    assert set(util) == set(workloads["v1"].pods) | set(workloads["v2"].pods)


def test_dcgm_scraped_without_honor_labels_gets_exported_pod(
    prom_lab: PrometheusLab, stage_traffic: StageTraffic
) -> None:
    """Scraped as a DCGM exporter DaemonSet usually is, the pod labels move aside."""
    ns = "lab-exported"
    workload = _workload(ns, "v1")
    exporter = {"namespace": "gpu-operator", "pod": "nvidia-dcgm-exporter-x7k2p"}
    stage_traffic([ServerSpec(workload)], scrape_labels=exporter, honor_labels=False)

    series = prom_lab.query(f'DCGM_FI_DEV_FB_USED{{exported_namespace="{ns}"}}')
    assert {s["metric"]["exported_pod"] for s in series} == set(workload.pods)
    assert {s["metric"]["pod"] for s in series} == {exporter["pod"]}
