"""Deterministic metric history with known values, for backfilling Prometheus.

Each version is described by constants (request rate, error ratio, how its
latencies spread over Istio's buckets, GPU utilisation and memory). Counters
grow exactly linearly, so ``rate()`` over any window inside the history gives
back the constant, and ``histogram_quantile`` gives back ``expected_quantile``.
That lets tests assert PromQL results against numbers computed here, not
against numbers read back from Prometheus.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from tests.lab.traffic.exposition import (
    DURATION,
    GPU_FB_USED,
    GPU_UTIL,
    REQUESTS_TOTAL,
    Workload,
    bucket_bounds,
    format_value,
    render_labels,
)


@dataclass(frozen=True)
class VersionHistory:
    """Constant behaviour of one version over the whole history."""

    workload: Workload
    rps: float
    error_ratio: float  # share of requests answered 500
    # Share of requests per histogram bucket, keyed by the bucket's upper bound
    # in ms (a key of Istio's bucket list). Shares must add up to 1.
    latency_shares: Mapping[float, float]
    gpu_util_pct: float  # per GPU, constant
    gpu_mem_mib: float  # per GPU at the start of the history
    gpu_mem_growth_mib_per_min: float = 0.0

    def __post_init__(self) -> None:
        bounds = set(bucket_bounds())
        unknown = set(self.latency_shares) - bounds
        if unknown:
            raise ValueError(f"latency_shares keys must be Istio bucket bounds, got {unknown}")
        if not math.isclose(sum(self.latency_shares.values()), 1.0, abs_tol=1e-9):
            raise ValueError("latency_shares must add up to 1")

    def gpu_mem_total_mib(self, start: float, at: float) -> float:
        """``sum(DCGM_FI_DEV_FB_USED)`` over this version's pods at time ``at``."""
        per_gpu = self.gpu_mem_mib + self.gpu_mem_growth_mib_per_min * (at - start) / 60.0
        return per_gpu * len(self.workload.pods)


def expected_quantile(q: float, latency_shares: Mapping[float, float]) -> float:
    """What PromQL ``histogram_quantile(q, ...)`` returns for these bucket shares.

    Same rule as Prometheus: find the bucket holding rank q, interpolate
    linearly between its lower and upper bound (the first bucket starts at 0),
    and answer the last finite bound if the rank falls in +Inf.
    """
    bounds = list(bucket_bounds())
    rank = q  # shares are normalised, so the total is 1
    cumulative = 0.0
    lower = 0.0
    for i, upper in enumerate(bounds):
        share = latency_shares.get(upper, 0.0)
        if share > 0 and cumulative + share >= rank:
            if math.isinf(upper):
                return bounds[i - 1]
            return lower + (upper - lower) * (rank - cumulative) / share
        cumulative += share
        lower = upper
    raise ValueError("quantile rank beyond the histogram")


@dataclass
class _Family:
    name: str
    kind: str
    series: list[tuple[str, Mapping[str, str], list[tuple[float, float]]]] = field(
        default_factory=list
    )


def openmetrics_history(
    versions: Sequence[VersionHistory],
    start: float,
    end: float,
    *,
    step: float = 15.0,
    extra_labels: Mapping[str, str] | None = None,
) -> str:
    """OpenMetrics text for ``promtool tsdb create-blocks-from openmetrics``.

    One sample per ``step`` seconds from ``start`` to ``end`` (inclusive);
    timestamps are in seconds, as promtool expects. ``extra_labels`` (for
    example a ``job``) are added to every series.
    """
    if end <= start or step <= 0:
        raise ValueError("need start < end and step > 0")
    extra = dict(extra_labels or {})
    times = [start + i * step for i in range(int((end - start) // step) + 1)]
    requests = _Family(REQUESTS_TOTAL.removesuffix("_total"), "counter")
    duration = _Family(DURATION, "histogram")
    util = _Family(GPU_UTIL, "gauge")
    fb_used = _Family(GPU_FB_USED, "gauge")

    for v in versions:
        codes = {200: 1.0 - v.error_ratio, 500: v.error_ratio}
        for code, code_share in codes.items():
            if code_share <= 0:
                continue
            labels = {**v.workload.istio_labels(code), **extra}
            per_second = v.rps * code_share

            def counter(rate: float) -> list[tuple[float, float]]:
                return [(t, rate * (t - start)) for t in times]

            requests.series.append((REQUESTS_TOTAL, labels, counter(per_second)))
            cumulative = 0.0
            for upper in bucket_bounds():
                cumulative += v.latency_shares.get(upper, 0.0)
                bucket_labels = {**labels, "le": format_value(upper)}
                duration.series.append(
                    (f"{DURATION}_bucket", bucket_labels, counter(per_second * cumulative))
                )
            mean_ms = _mean_latency_ms(v.latency_shares)
            duration.series.append((f"{DURATION}_sum", labels, counter(per_second * mean_ms)))
            duration.series.append((f"{DURATION}_count", labels, counter(per_second)))
        for pod in v.workload.pods:
            labels = {**v.workload.dcgm_labels(pod), **extra}
            util.series.append((GPU_UTIL, labels, [(t, v.gpu_util_pct) for t in times]))
            mem = [
                (t, v.gpu_mem_mib + v.gpu_mem_growth_mib_per_min * (t - start) / 60.0)
                for t in times
            ]
            fb_used.series.append((GPU_FB_USED, labels, mem))

    lines = list(_render(requests, duration, util, fb_used))
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def _mean_latency_ms(shares: Mapping[float, float]) -> float:
    """Mean latency if each bucket's requests sit at the bucket's midpoint."""
    total = 0.0
    lower = 0.0
    for upper in bucket_bounds():
        share = shares.get(upper, 0.0)
        mid = lower if math.isinf(upper) else (lower + upper) / 2
        total += share * mid
        lower = upper
    return total


def _render(*families: _Family) -> Iterator[str]:
    # OpenMetrics wants each family in one block, and the TSDB wants each
    # series' samples in time order, so series are written one after another.
    for family in families:
        if not family.series:
            continue
        yield f"# TYPE {family.name} {family.kind}"
        for name, labels, samples in family.series:
            rendered = render_labels(labels)
            for t, value in samples:
                yield f"{name}{rendered} {format_value(value)} {format_value(t)}"


# A ready-made pair for tests: stable is healthy, the canary is the bad one.
# Its numbers are easy to check by hand:
#   stable p99 = 5 + (10-5) * (0.99-0.5)/0.5  = 9.9 ms      (all in 1-10 ms)
#   canary p99 = 50 + (100-50) * (0.99-0.9)/0.1 = 95 ms     (90% <= 50 ms)
#   canary error ratio 2 %, rate 10 rps, GPU util 50 %, memory 12 GiB on 2 GPUs.
def known_pair(
    namespace: str = "history",
    service: str = "detector",
) -> tuple[VersionHistory, VersionHistory]:
    stable = VersionHistory(
        workload=Workload(
            namespace=namespace,
            workload=f"{service}-v1",
            version="v1",
            service=service,
            pods=(f"{service}-v1-0", f"{service}-v1-1", f"{service}-v1-2"),
        ),
        rps=40.0,
        error_ratio=0.001,
        latency_shares={5: 0.5, 10: 0.5},
        gpu_util_pct=30.0,
        gpu_mem_mib=4096.0,
    )
    canary = VersionHistory(
        workload=Workload(
            namespace=namespace,
            workload=f"{service}-v2",
            version="v2",
            service=service,
            pods=(f"{service}-v2-0", f"{service}-v2-1"),
        ),
        rps=10.0,
        error_ratio=0.02,
        latency_shares={25: 0.4, 50: 0.5, 100: 0.1},
        gpu_util_pct=50.0,
        gpu_mem_mib=6144.0,
        gpu_mem_growth_mib_per_min=0.0,
    )
    return stable, canary
