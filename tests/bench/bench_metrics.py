"""Benchmark: queries and wall time per metrics refresh, 1 vs 50 rollouts.

    python -m tests.bench.bench_metrics [--rollouts 50] [--repeat 5] [--window 15m]

Starts the lab's Prometheus (Debian's package) in a temporary directory,
backfills 30 minutes of history for N rollouts (tests/metrics/fleet.py: two
versions each, Istio request/latency series and DCGM GPU series per pod),
then times refreshes of the Prometheus metrics source pointed into that
history: cold (empty cache, whole window) and incremental (15 s later: only
the new points), with the refresh's queries run on 6 threads and one by one
(both over prometheus-api-client).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from console.metrics.config import load_config, parse_duration
from console.metrics.prometheus import PrometheusSource
from tests.lab.prom import PrometheusLab
from tests.metrics.fleet import fleet, fleet_openmetrics
from tests.metrics.helpers import Clock


def _ms(values: Iterable[float]) -> float:
    return 1000 * statistics.median(values)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rollouts", type=int, default=50)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--window", default="15m")
    p.add_argument("--step", type=float, default=15.0)
    args = p.parse_args()
    window_s = parse_duration(args.window, "--window")

    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as tmp:
        os.environ["XDG_CONFIG_HOME"] = tmp  # never the user's own config file
        lab = PrometheusLab(Path(tmp) / "prom")
        try:
            end = math.floor(time.time() / 60) * 60 - 900.0
            began = time.perf_counter()
            lab.backfill(fleet_openmetrics(args.rollouts, end - 1800 - window_s, end))
            lab.start()
            print(
                f"lab prometheus {lab.url}: backfilled {args.rollouts} rollouts "
                f"in {time.perf_counter() - began:.1f}s"
            )
            _, rollouts = fleet(args.rollouts)
            at = end - 120
            print(
                f"window {args.window}, step {args.step:g}s, {args.repeat} runs each, "
                "median wall time per refresh (query: HTTP + parse + cache; split: per-version "
                "series)"
            )
            print(
                f"{'rollouts':>8}  {'client':<10}  {'refresh':<11}  {'queries':>7}  "
                f"{'points':>7}  {'query ms':>8}  {'split ms':>8}  {'total ms':>8}"
            )
            for n in sorted({1, args.rollouts}):
                for concurrency, client in ((6, "6 threads"), (1, "sequential")):
                    cold, warm = [], []
                    for _ in range(args.repeat):
                        config = load_config(url=lab.url, max_concurrency=concurrency)
                        source = PrometheusSource(config)
                        source.check()
                        clock = Clock(at)
                        source.clock = clock
                        source.fetch(rollouts[:n], window_s, args.step, force=True)
                        assert source.last_stats is not None
                        cold.append(source.last_stats)
                        clock.t = at + args.step
                        source.fetch(rollouts[:n], window_s, args.step, force=True)
                        assert source.last_stats is not None
                        warm.append(source.last_stats)
                        source.close()
                    for name, stats in (("cold", cold), ("incremental", warm)):
                        print(
                            f"{n:>8}  {client:<10}  {name:<11}  {stats[0].queries:>7}  "
                            f"{stats[0].points:>7}  "
                            f"{_ms(s.seconds for s in stats):>8.1f}  "
                            f"{_ms(s.split_seconds for s in stats):>8.1f}  "
                            f"{_ms(s.seconds + s.split_seconds for s in stats):>8.1f}"
                        )
        finally:
            lab.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
