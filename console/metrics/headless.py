"""`rollout-console metrics NS/NAME`: the latest per-version figures, for runbooks.

    rollout-console metrics prod/detector --prometheus http://prom:9090 [--window 5m]
        [--context C] [-o table|json] [--version-label stable=v1 --version-label canary=v2:8d7e]

The rollout's versions (labels, workloads, pods) come from the Kubernetes
backend. With ``--version-label ROLE=LABEL[:POD_HASH]`` (both roles, or
stable alone) no cluster is read: the version label values are given
directly, with the pod-template hash if GPU figures are wanted.

Figures are over the window: request rate, 5xx share and latency quantiles
from rates over [window]; GPU utilisation averaged over the window; GPU
memory now.

Exit status: 0 figures shown, 1 no data for a version, 2 usage or
configuration error (one sentence on stderr), 3 metrics unavailable.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import Any, TextIO

from console import exit_codes
from console.model import (
    ConsoleError,
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
from console.timestamps import rfc3339

# The shared codes (console/exit_codes.py); `metrics` adds 1 for "no data": nothing
# was refused, but a runbook must not read an empty answer as a healthy one.
EXIT_OK, EXIT_USAGE, EXIT_UNAVAILABLE = exit_codes.OK, exit_codes.USAGE, exit_codes.UNAVAILABLE
EXIT_NO_DATA = 1

ROWS: tuple[tuple[Metric, str, str], ...] = (
    (Metric.LATENCY_P50, "latency p50", "{:.1f} ms"),
    (Metric.LATENCY_P99, "latency p99", "{:.1f} ms"),
    (Metric.ERROR_PCT, "errors", "{:.2f} %"),
    (Metric.REQUEST_RATE, "requests", "{:.2f} req/s"),
    (Metric.GPU_UTIL, "GPU util", "{:.0f} %"),
    # Per GPU, never summed over pods: versions on different pod counts compare.
    (Metric.GPU_MEMORY, "GPU memory/GPU", "{:.2f} GiB"),
    (Metric.GPU_MEMORY_MAX, "GPU memory max", "{:.2f} GiB"),
    (Metric.GPU_COUNT, "GPUs", "{:.0f}"),
)


def parse_target(target: str, namespace: str | None) -> tuple[str, str]:
    if "/" in target:
        ns, _, name = target.partition("/")
    else:
        ns, name = namespace or "", target
    if not ns or not name or "/" in name:
        raise ConsoleError(f"Give the rollout as NAMESPACE/NAME, not {target!r}.")
    return ns, name


def rollout_from_labels(ns: str, name: str, pairs: list[str]) -> Rollout:
    """A Rollout built from --version-label ROLE=LABEL[:POD_HASH], without a cluster.

    LABEL is the version label value (Istio's destination_version); the
    optional POD_HASH (pod-template hash) finds the version's pods for GPU
    figures, which are otherwise left out.
    """
    labels: dict[Role, tuple[str, str]] = {}
    for pair in pairs:
        role_text, sep, value = pair.partition("=")
        role = next((r for r in Role if r.value == role_text.strip().lower()), None)
        if not sep or role is None or not value.strip():
            raise ConsoleError(f"--version-label takes stable=VALUE or canary=VALUE, not {pair!r}.")
        label, _, pod_hash = value.strip().partition(":")
        labels[role] = (label, pod_hash)
    if Role.STABLE not in labels:
        raise ConsoleError("--version-label needs at least stable=VALUE.")

    def info(role: Role) -> VersionInfo:
        label, pod_hash = labels[role]
        return VersionInfo(role, label=label, pod_hash=pod_hash)

    return Rollout(
        ref=RolloutRef(cluster="", namespace=ns, name=name),
        provider=ProviderKind.ISTIO,
        phase=Phase.UNKNOWN,
        stable=info(Role.STABLE),
        canary=info(Role.CANARY) if Role.CANARY in labels else None,
    )


def rollout_from_cluster(args: argparse.Namespace, ns: str, name: str) -> Rollout:
    from console.sources import make_backend

    backend = make_backend(args, demo=False, read_only=True, namespace=ns)
    found = [r for r in backend.list() if r.ref.namespace == ns and r.ref.name == name]
    if not found:
        raise ConsoleError(f"No rollout {ns}/{name} in {backend.description}.")
    if len({r.ref.cluster for r in found}) > 1:
        clusters = ", ".join(sorted(r.ref.cluster for r in found))
        raise ConsoleError(f"{ns}/{name} exists in several clusters ({clusters}); pick --context.")
    return found[0]


def _figure(m: RolloutMetrics, role: Role, metric: Metric) -> float | None:
    version = m.version(role)
    if version is None:
        return None
    value = version.get(metric).latest
    return value if value is not None and math.isfinite(value) else None


def _iso(t: float) -> str:
    if not t:
        return "-"
    return rfc3339(t)


def _version_name(rollout: Rollout, role: Role) -> str:
    info = rollout.stable if role is Role.STABLE else rollout.canary
    if info is None:
        return ""
    return info.label or info.revision or info.pod_hash or info.workload or info.display


def as_json(rollout: Rollout, m: RolloutMetrics, elapsed_s: float, source: str) -> dict[str, Any]:
    roles = [Role.STABLE] + ([Role.CANARY] if rollout.canary is not None else [])
    return {
        "rollout": rollout.ref.short,
        "cluster": rollout.ref.cluster,
        "source": source,
        "window_s": m.window_s,
        "taken_at": _iso(m.taken_at) if m.taken_at else None,
        "query_seconds": round(elapsed_s, 3),
        "state": m.state.value,
        "reason": m.reason,
        "versions": {
            role.value: {
                "version": _version_name(rollout, role),
                **{metric.value: _figure(m, role, metric) for metric, _, _ in ROWS},
            }
            for role in roles
        },
    }


def render_table(
    rollout: Rollout, m: RolloutMetrics, elapsed_s: float, source: str, out: TextIO
) -> None:
    from console.model import format_duration

    roles = [Role.STABLE] + ([Role.CANARY] if rollout.canary is not None else [])
    print(
        f"{rollout.ref.short}  window {format_duration(m.window_s)}  "
        f"taken {_iso(m.taken_at)}  query {elapsed_s:.2f}s  {source}",
        file=out,
    )
    if m.state is not MetricsState.OK:
        print(f"{m.state.value}: {m.reason}", file=out)
    header = ["METRIC"] + [f"{r.value.upper()} ({_version_name(rollout, r)})" for r in roles]
    rows = [header]
    for metric, label, fmt in ROWS:
        cells = [label]
        for role in roles:
            value = _figure(m, role, metric)
            cells.append("-" if value is None else fmt.format(value))
        rows.append(cells)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        line = "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        print(line.rstrip(), file=out)


def run_metrics(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        from console.metrics.config import parse_duration
        from console.sources import prometheus_source

        ns, name = parse_target(args.target, getattr(args, "namespace", None))
        window_s = parse_duration(getattr(args, "window", None) or "5m", "--window")
        pairs = list(getattr(args, "version_label", None) or [])
        rollout = (
            rollout_from_labels(ns, name, pairs) if pairs else rollout_from_cluster(args, ns, name)
        )
        source = prometheus_source(args, strict=True)
    except ConsoleError as exc:
        print(f"rollout-console: {exc}", file=sys.stderr)
        # A config error is 2; a cluster or Prometheus that did not answer is 3.
        return (
            EXIT_USAGE
            if exit_codes.for_error(exc) == exit_codes.REFUSED
            else exit_codes.for_error(exc)
        )
    try:
        began = time.perf_counter()
        result = source.fetch_latest([rollout], window_s)[rollout.ref.key]
        elapsed = time.perf_counter() - began
    finally:
        source.close()
    if getattr(args, "output", "table") == "json":
        doc = as_json(rollout, result, elapsed, source.description)
        print(json.dumps(doc, indent=2), file=out)
    else:
        render_table(rollout, result, elapsed, source.description, out)
    if result.state is MetricsState.UNAVAILABLE:
        return EXIT_UNAVAILABLE
    if result.state is MetricsState.NO_DATA:
        return EXIT_NO_DATA
    return EXIT_OK
