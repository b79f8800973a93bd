"""UI benchmark (a script, not a test): prints the figures of issues 2 and 12.

    python -m tests.bench.bench_ui [--runs N] [--refreshes N]

1. time to first full frame: `rollout-console --demo` started in tmux until the
   list's rows are on screen (process start included: imports, app start).
2. UI-thread CPU time per refresh of the detail view, all four chart pairs,
   with new rollout state and new metrics every refresh (the clock moves 1 s):
   from applying the data until every chart's worker build has been swapped in
   and painted. Also how many chart builds each refresh made.
3. the same with no new data (the same clock, the same metrics).
4. plotext build time per chart pair (both sides, off the UI thread).
5. the list with 200 simulated rollouts, and RSS with the detail view open.
6. the live demo at --speed 1 (real time, metrics every 2 s, redraws every
   0.5 s when something changed): how many redraws rebuilt any chart.

UI-thread time is `time.thread_time()` on the event-loop thread, so the
metrics fetch (a worker's job), the chart builds on worker threads and idle
waiting are not counted, and a noisy neighbour on this 2-core machine does not
inflate it the way wall time would.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.app import RolloutConsoleApp
from console.demo import make_demo
from console.demo_app import frozen_demo_app
from console.model import Snapshot
from widgets.version_chart import VersionChartPair, build_lines

TARGETS = {
    "first_frame_s": 0.8,
    "detail_median_ms": 20.0,
    "detail_p90_ms": 30.0,
    "idle_ms": 5.0,
    "list200_ms": 20.0,
    "rss_mb": 150.0,
}


SETTLE_S = 0.05  # three frames at 60 fps: time to paint whatever changed


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


def first_frame_and_rss(runs: int) -> tuple[list[float], float]:
    binary = shutil.which("rollout-console")
    if binary is None or shutil.which("tmux") is None:
        raise SystemExit("needs tmux and an installed rollout-console (tests/run installs both)")
    times: list[float] = []
    rss_mb = 0.0
    for i in range(runs):
        name = f"bench-{uuid.uuid4().hex[:6]}"
        t0 = time.monotonic()
        _tmux(
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            "120",
            "-y",
            "40",
            "env",
            "TERM=xterm-256color",
            binary,
            "--demo",
            "--seed",
            "7",
        )
        deadline = t0 + 20
        while time.monotonic() < deadline:
            screen = _tmux("capture-pane", "-p", "-t", name)
            if "bert-ranker" in screen and "yolo-detector" in screen and "Filter" in screen:
                times.append(time.monotonic() - t0)
                break
            time.sleep(0.005)  # poll interval of the measurement
        else:
            _tmux("kill-session", "-t", name)
            raise SystemExit("the list did not appear within 20 s")
        if i == runs - 1:
            _tmux("send-keys", "-t", name, "Enter")
            # RSS is read with the detail view's charts drawn (their axes are on screen).
            drawn_by = time.monotonic() + 20
            while "now" not in _tmux("capture-pane", "-p", "-t", name):
                if time.monotonic() > drawn_by:
                    raise SystemExit("the detail view's charts did not appear within 20 s")
                time.sleep(0.05)  # poll interval, bounded by the deadline
            pid = _tmux("display-message", "-p", "-t", name, "#{pane_pid}").strip()
            status = Path(f"/proc/{pid}/status").read_text()
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    rss_mb = int(line.split()[1]) / 1024
        _tmux("kill-session", "-t", name)
    return times, rss_mb


@dataclass
class Costs:
    ui_ms: list[float] = field(default_factory=list)
    builds: list[int] = field(default_factory=list)
    build_ms: list[float] = field(default_factory=list)


def _charts(app: Any) -> list[VersionChartPair]:
    return list(app.screen.query(VersionChartPair))


async def refresh_costs(extra: int, detail: bool, refreshes: int, *, new_data: bool) -> Costs:
    app, clock = frozen_demo_app(extra=extra, live=False)
    backend, metrics = app.backend, app.metrics_source
    out = Costs()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        if detail:
            await pilot.press("slash", *"yolo-detector", "enter", "enter")
            await pilot.pause()
        key = getattr(app.screen, "key", None)
        for i in range(refreshes + 3):
            if new_data or i < 3:
                clock.advance(1.0)
            rollouts = backend.list()
            fetched = {}
            if key is not None:
                target = [r for r in rollouts if r.ref.key == key]
                fetched = metrics.fetch(target, app.window_s, 1.0)  # worker's job: not timed
            await asyncio.sleep(SETTLE_S)
            charts = _charts(app)
            before = sum(c.build_count for c in charts)
            t0 = time.thread_time()
            app.store.apply(Snapshot(tuple(rollouts)))
            if fetched:
                app.store.set_metrics(fetched)
            app.redraw_if_changed()
            # Layout, render and paint of what changed, and the workers' builds swapped
            # in. Waiting by sleeping, not pilot.pause(): the pilot's own round trips to
            # every widget would cost the UI thread more than the refresh itself.
            await asyncio.sleep(SETTLE_S)
            while any(c.pending for c in charts):
                await asyncio.sleep(0.01)
            await asyncio.sleep(SETTLE_S)
            if i >= 3:  # the first refreshes warm caches
                out.ui_ms.append((time.thread_time() - t0) * 1000)
                out.builds.append(sum(c.build_count for c in charts) - before)
        for chart in _charts(app):
            request = chart._built
            if request is None:
                continue
            for _ in range(5):
                t0 = time.perf_counter()
                build_lines(request)
                out.build_ms.append((time.perf_counter() - t0) * 1000)
    return out


async def live_demo(seconds: float) -> tuple[int, int, int]:
    """The real demo at --speed 1 (real time): (redraws, redraws that built charts, builds)."""
    backend, metrics = make_demo(seed=7, speed=1.0)
    app = RolloutConsoleApp(backend, metrics)
    redraws = with_builds = 0
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        await pilot.press("slash", *"yolo-detector", "enter", "enter")
        await asyncio.sleep(3.0)  # the first metrics and the first builds
        screen = app.screen
        charts = _charts(app)
        drawn = screen.redraw  # type: ignore[attr-defined]
        before = sum(c.build_count for c in charts)

        def counted() -> None:
            nonlocal redraws
            redraws += 1
            drawn()

        screen.redraw = counted  # type: ignore[attr-defined]
        last = before
        deadline = time.monotonic() + seconds
        seen = 0
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            if redraws != seen:  # a redraw happened: did a chart build follow it?
                await asyncio.sleep(0.3)
                seen = redraws
                now = sum(c.build_count for c in charts)
                with_builds += now != last
                last = now
        builds = sum(c.build_count for c in charts) - before
    return redraws, with_builds, builds


def _p90(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.9)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="process starts for figure 1")
    parser.add_argument("--refreshes", type=int, default=30)
    parser.add_argument("--live-s", type=float, default=12.0, help="live demo run for figure 6")
    args = parser.parse_args()

    busy = asyncio.run(refresh_costs(0, True, args.refreshes, new_data=True))
    idle = asyncio.run(refresh_costs(0, True, args.refreshes, new_data=False))
    list200 = asyncio.run(refresh_costs(194, False, args.refreshes, new_data=True))
    frames, rss = first_frame_and_rss(args.runs)
    redraws, with_builds, builds = asyncio.run(live_demo(args.live_s))

    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    print(
        f"first full frame:          median {statistics.median(frames):.2f} s "
        f"(min {min(frames):.2f}, max {max(frames):.2f}, {len(frames)} runs)"
        f"   target <= {TARGETS['first_frame_s']} s"
    )
    print(
        f"detail refresh, new data every 1 s, UI thread: median "
        f"{statistics.median(busy.ui_ms):.1f} ms (p90 {_p90(busy.ui_ms):.1f}, "
        f"{len(busy.ui_ms)} refreshes)   target median <= {TARGETS['detail_median_ms']} ms, "
        f"p90 <= {TARGETS['detail_p90_ms']} ms"
    )
    print(
        f"  chart builds per refresh: median {statistics.median(busy.builds):g} "
        f"(min {min(busy.builds)}, max {max(busy.builds)}; 4 chart pairs on screen)"
    )
    print(
        f"  plotext build per chart pair (both sides, worker thread): median "
        f"{statistics.median(busy.build_ms):.1f} ms (p90 {_p90(busy.build_ms):.1f})"
    )
    print(
        f"detail refresh, no new data, UI thread: median {statistics.median(idle.ui_ms):.1f} ms "
        f"(p90 {_p90(idle.ui_ms):.1f}; builds per refresh: max {max(idle.builds)})"
        f"   target <= {TARGETS['idle_ms']} ms"
    )
    print(
        f"list(200) refresh, UI thread: median {statistics.median(list200.ui_ms):.1f} ms "
        f"(p90 {_p90(list200.ui_ms):.1f})"
        f"   target <= {TARGETS['list200_ms']} ms"
    )
    print(f"RSS with the detail view open: {rss:.0f} MB   target <= {TARGETS['rss_mb']} MB")
    print(
        f"live demo at --speed 1, detail view, {args.live_s:g} s: {redraws} redraws, "
        f"{with_builds} of them rebuilt charts ({builds} chart builds)"
    )


if __name__ == "__main__":
    main()
