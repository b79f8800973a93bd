"""Shared pieces of the guard's lab tests: fast gates, a fast Prometheus source, a loop."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.backend import RolloutsBackend
from console.guard.gates import StaticResolver, parse_gate_config
from console.guard.loop import Guard, GuardReport
from console.guard.verdicts import DecisionKind
from console.metrics import make_prometheus_source
from console.metrics.prometheus import PrometheusSource
from console.model import ConsoleError, Rollout, RolloutRef

#: K of N for every gate below, and the guard's interval in these tests.
K, N = 3, 5
INTERVAL_S = 2.0
SCRAPE_S = 1.0  # the lab Prometheus' scrape interval
HOLD_S = 4.0

#: The seed notes' latency and error gates with lab-sized windows: 30 s of data,
#: no warm-up (the lab's traffic is steady from its first request).
_HEADER = f"""\
default: fast
sets:
  fast:
    hold: {HOLD_S:g}s
    gates:
"""
P99_GATE = f"""\
      - name: p99-latency
        kind: absolute
        metric: latency_p99_ms
        op: "<"
        threshold: 50
        window: 30s
        warmup: 0s
        min_points: 1
        debounce: {K}/{N}
"""
ERROR_GATE = f"""\
      - name: error-rate
        kind: absolute
        metric: error_pct
        op: "<"
        threshold: 1
        window: 30s
        warmup: 0s
        min_points: 1
        min_requests: 10
        debounce: {K}/{N}
"""
FAST_GATES = _HEADER + P99_GATE + ERROR_GATE


def fast_resolver(text: str = FAST_GATES) -> StaticResolver:
    return StaticResolver.from_config(parse_gate_config(text, "test gates"))


def p99_resolver() -> StaticResolver:
    """One gate: which gates fail together cannot depend on the machine's load."""
    return fast_resolver(_HEADER + P99_GATE)


def fast_source(url: str) -> PrometheusSource:
    """Rates over 10 s (not the auto 60 s): the figures follow the traffic quickly."""
    return make_prometheus_source(url=url, rate_window_s=10.0, refresh_s=1.0)


def write_config(path: Path, prometheus_url: str) -> Path:
    path.write_text(
        f"prometheus:\n  url: {prometheus_url}\nmetrics:\n  rate_window: 10s\n  refresh: 1s\n"
    )
    return path


def write_gates(path: Path) -> Path:
    path.write_text(FAST_GATES)
    return path


@dataclass
class Run:
    """The reports of an in-process guard loop, with their wall-clock times."""

    reports: list[GuardReport] = field(default_factory=list)

    def decisions(self, ref: RolloutRef, kind: DecisionKind | None = None) -> list[Any]:
        return [
            d
            for r in self.reports
            for d in r.decisions
            if d.ref == ref and (kind is None or d.kind is kind)
        ]

    def states(self, ref: RolloutRef) -> list[str]:
        return [r.verdicts[ref.key].state.value for r in self.reports if ref.key in r.verdicts]


def loop(
    guard: Guard,
    backend: RolloutsBackend,
    *,
    until: Callable[[Run], bool],
    timeout: float,
    run: Run | None = None,
    interval: float = INTERVAL_S,
    what: str = "the guard",
    each: Callable[[GuardReport], None] | None = None,
) -> Run:
    """Evaluate every `interval` until `until(run)` holds; AssertionError at `timeout`."""
    run = run or Run()
    deadline = time.monotonic() + timeout
    while True:
        began = time.monotonic()
        try:
            rollouts = backend.list()
        except ConsoleError as exc:
            # A fresh lab's API server answers 429 while a CRD's storage initialises.
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: the list kept failing: {exc}") from None
            time.sleep(interval)
            continue
        report = guard.evaluate(rollouts)
        run.reports.append(report)
        if each is not None:
            each(report)
        if until(run):
            return run
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}; last verdicts: "
                + "; ".join(
                    f"{k}: {v.state.value} "
                    + ", ".join(f"{g.gate.name}={g.state.value}({g.reason})" for g in v.results)
                    for k, v in report.verdicts.items()
                )
            )
        time.sleep(max(0.0, interval - (time.monotonic() - began)))


def evaluations(n: int) -> Callable[[Run], bool]:
    def enough(run: Run) -> bool:
        return len(run.reports) >= n

    return enough


def listed(backend: RolloutsBackend, name: str, timeout: float = 30.0) -> Rollout:
    """The rollout `name`, retrying while a fresh lab's API server answers 429."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = [r for r in backend.list() if r.ref.name == name]
        except ConsoleError:
            found = []
            if time.monotonic() > deadline:
                raise
        if found:
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"rollout {name} not listed")
        time.sleep(0.5)
