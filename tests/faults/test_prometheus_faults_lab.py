"""Prometheus killed, stopped (SIGSTOP), answering 500 or garbage: headless `metrics`
exits 3 with one sentence within its timeout, and the TUI's figures are marked
stale with their age. (tests/metrics/test_prometheus_failures.py covers the
source's recovery; these are the operator-facing ends.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from console import exit_codes
from console.model import MetricsState
from tests.faults.conftest import Fault, NanHistory
from tests.lab.proc import free_port
from tests.lab.prom import PrometheusLab
from tests.metrics.fault_proxy import FaultProxy
from tests.metrics.helpers import Clock, make_source
from widgets.metric_summary import MetricSummary

pytestmark = pytest.mark.lab

#: The config's default Prometheus timeout is 10 s; start-up and one check on top.
BOUND_S = 16.0


def metrics(url: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "console",
            "metrics",
            "faults-nan/detector",
            "--version-label",
            "stable=v1",
            "--version-label",
            "canary=v2",
            "--prometheus",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )
    return done, time.monotonic() - started


def one_sentence(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("rollout-console: "), done.stderr
    assert "Traceback" not in done.stderr
    return lines[0].removeprefix("rollout-console: ")


@pytest.mark.fault(
    "Prometheus answers 500 / garbage / is killed: headless metrics",
    "exit 3 within the timeout, one sentence",
)
@pytest.mark.parametrize("mode", ["5xx", "garbage", "killed"])
def test_headless_metrics_exits_3_with_one_sentence(
    proxy: FaultProxy, mode: str, fault: Fault
) -> None:
    if mode == "killed":
        url = f"http://127.0.0.1:{free_port()}"  # nothing listens any more
    else:
        proxy.mode, url = mode, proxy.url
    done, took = metrics(url)
    said = done.stderr.strip().removeprefix("rollout-console: ")
    fault.observed(f"exit {done.returncode} in {took:.1f}s: {said}")
    assert done.returncode == exit_codes.UNAVAILABLE, done.stderr
    assert took < BOUND_S
    one_sentence(done)


@pytest.fixture
def stopped(prom_lab: PrometheusLab) -> Iterator[int]:
    pid = prom_lab.pid
    assert pid is not None
    try:
        yield pid
    finally:
        os.kill(pid, signal.SIGCONT)


@pytest.mark.fault(
    "Prometheus stopped by SIGSTOP, TUI source and headless metrics",
    "figures kept and marked stale with their age; metrics exits 3 within its timeout",
)
def test_a_stopped_prometheus_is_stale_with_its_age_and_exit_3(
    prom_lab: PrometheusLab, nan_history: NanHistory, stopped: int, fault: Fault
) -> None:
    rollout, key = nan_history.rollout, nan_history.rollout.ref.key
    clock = Clock(nan_history.cut - 60)
    source = make_source(prom_lab.url, clock, timeout_s=2.0)
    good = source.fetch([rollout], window_s=300, step_s=15, force=True)
    assert good[key].state is MetricsState.OK

    os.kill(stopped, signal.SIGSTOP)
    clock.t += 45
    m = source.fetch([rollout], window_s=300, step_s=15, force=True)[key]
    assert m.state is MetricsState.UNAVAILABLE
    assert m.taken_at == good[key].taken_at  # aged from the last good answer
    summary = MetricSummary()
    summary.show(m, now=clock.t, refresh_s=15)
    lines = summary.text.splitlines()
    assert lines[0].startswith("⚠ metrics unavailable: no answer from"), lines
    assert "⚠ stale 45s" in lines[1], lines

    done, took = metrics(prom_lab.url)
    sentence = one_sentence(done)
    fault.observed(
        f"TUI '{lines[1].split('  ')[-1]}'; metrics exit {done.returncode} in {took:.1f}s"
    )
    assert done.returncode == exit_codes.UNAVAILABLE
    assert took < BOUND_S
    assert "no answer" in sentence or "timed out" in sentence.lower(), sentence
