"""Benchmark: one guard evaluation over 500 rollouts against the lab's Prometheus, and
breach onset to pause on the lab's Argo controller.

    python -m tests.bench.bench_guard [--rollouts 500] [--repeat 5] [--no-onset]

Part 1 starts the lab's Prometheus in a temporary directory, backfills 12 minutes of
history for N rollouts (tests/metrics/fleet.py) and times `Guard.evaluate` with the
built-in gate set (5-minute windows) on a clock pointed into that history, for 1, 50
and N rollouts: PromQL queries per evaluation (must not grow with N), wall time (cold:
a fresh source; warm: the next evaluation 15 s later, incremental), and the process'
RSS. Goal: <= 2 s for 500.

Part 2 (unless --no-onset) starts a kube lab (or uses ROLLOUT_LAB_KUBECONFIG's),
serves the sample's bad canary through the traffic lab and runs the guard every
2 s with 3-of-5 debouncing: the time from the first breaching canary sample to the
pause. Goal: <= K x interval + one scrape interval.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from console.guard.gates import StaticResolver  # noqa: E402
from console.guard.loop import Guard  # noqa: E402
from console.metrics.config import load_config  # noqa: E402
from console.metrics.prometheus import PrometheusSource  # noqa: E402
from tests.lab.prom import PrometheusLab  # noqa: E402
from tests.metrics.fleet import fleet, fleet_openmetrics  # noqa: E402
from tests.metrics.helpers import Clock  # noqa: E402


class _Judge:
    """The backend of a follower: it is never asked to act (is_leader is False)."""

    description = "bench"
    read_only = True


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def evaluation_cost(n_max: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-guard-") as tmp:
        os.environ["XDG_CONFIG_HOME"] = tmp  # never the user's own config file
        lab = PrometheusLab(Path(tmp) / "prom")
        try:
            end = math.floor(time.time() / 60) * 60 - 900.0
            began = time.perf_counter()
            # Only what the 5-minute windows read, and some: promtool's time grows with it.
            lab.backfill(fleet_openmetrics(n_max, end - 720, end))
            lab.start()
            print(
                f"lab prometheus {lab.url}: backfilled {n_max} rollouts in "
                f"{time.perf_counter() - began:.1f}s"
            )
            print(
                f"built-in gates (5m windows), {repeat} runs each, median wall time per "
                "evaluation (metrics fetch + verdicts), in a fresh process each size; "
                f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
            )
            print(
                f"{'rollouts':>8}  {'queries':>7}  {'cold ms':>8}  {'(query)':>8}  "
                f"{'(split)':>8}  {'warm ms':>8}  {'(query)':>8}  {'verdicts':>8}  "
                f"{'RSS MiB':>8}  states"
            )
            for n in sorted({1, 50, n_max}):
                # A fresh interpreter: the RSS is the guard's, not the history generator's.
                argv = ["--measure", lab.url, "--at", str(end - 120), "--rollouts", str(n)]
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "tests.bench.bench_guard",
                        *argv,
                        "--repeat",
                        str(repeat),
                    ],
                    check=True,
                    cwd=REPO,
                )
        finally:
            lab.close()


def measure(url: str, at: float, n: int, repeat: int) -> None:
    """One row of the table: n rollouts against the backfilled Prometheus at `url`."""
    _, rollouts = fleet(n)
    cold: list[float] = []
    warm: list[float] = []
    fetch: list[float] = []
    warm_fetch: list[float] = []
    split: list[float] = []
    queries: set[int] = set()
    verdicts = 0
    states: set[str] = set()
    for _ in range(repeat):
        clock = Clock(at)
        source = PrometheusSource(load_config(url=url, scrape_interval_s=15.0), clock=clock)
        source.check()
        guard = Guard(
            _Judge(),  # type: ignore[arg-type]
            source,
            StaticResolver(),
            clock=clock,
            is_leader=lambda: False,
            scrape_interval_s=15.0,
        )
        t = time.perf_counter()
        report = guard.evaluate(rollouts)
        cold.append(time.perf_counter() - t)
        queries.add(report.queries)
        if source.last_stats is not None:
            fetch.append(source.last_stats.seconds)
            split.append(source.last_stats.split_seconds)
        verdicts = len(report.verdicts)
        clock.t = at + 15.0
        t = time.perf_counter()
        report = guard.evaluate(rollouts)
        warm.append(time.perf_counter() - t)
        if source.last_stats is not None:
            warm_fetch.append(source.last_stats.seconds)
        queries.add(report.queries)
        states = {v.state.value for v in report.verdicts.values()}
        source.close()
    print(
        f"{n:>8}  {'/'.join(map(str, sorted(queries))):>7}  "
        f"{1000 * statistics.median(cold):>8.0f}  {1000 * statistics.median(fetch):>8.0f}  "
        f"{1000 * statistics.median(split):>8.0f}  {1000 * statistics.median(warm):>8.0f}  "
        f"{1000 * statistics.median(warm_fetch or [math.nan]):>8.0f}  {verdicts:>8}  "
        f"{_rss_mib():>8.0f}  {','.join(sorted(states))}",
        flush=True,
    )


def onset_to_pause() -> None:
    from console.guard.verdicts import DecisionKind
    from console.model import Metric
    from tests.kube import guard_helpers as G
    from tests.kube.helpers import backend, deploy_canary
    from tests.lab import sample
    from tests.lab.kube import KubeLab

    with tempfile.TemporaryDirectory(prefix="bench-guard-lab-") as tmp:
        running = os.environ.get("ROLLOUT_LAB_KUBECONFIG")
        lab = KubeLab.attach(Path(running)) if running else KubeLab(Path(tmp) / "kube")
        if not running:
            lab.start()
        prom = PrometheusLab(Path(tmp) / "prom")
        prom.start()
        traffic: Any = None
        try:
            ns = f"bench-guard-{int(time.time()) % 100000}"
            deploy_canary(lab, ns)
            b = backend(lab, ns)
            probe = G.listed(b, sample.NAME)
            assert probe.canary is not None
            metrics = G.fast_source(prom.url)
            guard = Guard(b, metrics, G.fast_resolver())
            traffic = sample.serve_bad_canary(
                lab, prom, ns, probe.stable.pods, probe.canary.pods, Path(tmp) / "traffic",
                job=f"bench-{ns}", duration=300,
            )  # fmt: skip
            run = G.loop(
                guard,
                b,
                until=lambda run: bool(run.decisions(probe.ref, DecisionKind.PAUSED)),
                timeout=120,
            )
            [paused] = run.decisions(probe.ref, DecisionKind.PAUSED)
            m = metrics.fetch([probe], 120.0, 1.0)[probe.ref.key]
            assert m.canary is not None
            onset = next(t for t, v in m.canary.get(Metric.LATENCY_P99).points if v >= 50)
            budget = G.K * G.INTERVAL_S + G.SCRAPE_S
            print(
                f"breach onset to pause: {paused.at - onset:.1f}s (goal <= {budget:g}s: "
                f"K={G.K} x interval {G.INTERVAL_S:g}s + scrape {G.SCRAPE_S:g}s); "
                f"status.abort={sample.get_rollout(lab, ns)['status'].get('abort')}"
            )
            lab.kubectl("delete", "namespace", ns, "--wait=false", check=False)
            metrics.close()
        finally:
            if traffic is not None:
                traffic.stop()
            prom.close()
            if not running:
                lab.stop()


def main() -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--rollouts", type=int, default=500)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--no-onset", action="store_true", help="skip the kube lab part")
    p.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)
    p.add_argument("--at", type=float, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.measure:
        measure(args.measure, args.at, args.rollouts, args.repeat)
        return 0
    evaluation_cost(args.rollouts, args.repeat)
    if not args.no_onset:
        onset_to_pause()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
