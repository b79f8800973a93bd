"""UI benchmark (a script, not a test): prints the four figures of issue 2.

    python tests/bench/bench_ui.py [--runs N]

1. time to first full frame: `rollout-console --demo` started in tmux until the
   list's rows are on screen (process start included: imports, app start).
2. median UI-thread CPU time per refresh of the detail view (new rollout state
   and new metrics each refresh, charts redrawn and painted).
3. the same for the list with 200 simulated rollouts.
4. RSS of the running console with the detail view open.

UI-thread time is `time.thread_time()` on the event-loop thread, so the
metrics fetch (a worker's job) and idle waiting are not counted, and a noisy
neighbour on this 2-core machine does not inflate it the way wall time would.
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
from pathlib import Path

from console.demo_app import frozen_demo_app
from console.model import Snapshot

TARGETS = {"first_frame_s": 0.8, "detail_ms": 30.0, "list200_ms": 20.0, "rss_mb": 150.0}


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
            time.sleep(5)  # let charts draw and histories fill before reading RSS
            pid = _tmux("display-message", "-p", "-t", name, "#{pane_pid}").strip()
            status = Path(f"/proc/{pid}/status").read_text()
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    rss_mb = int(line.split()[1]) / 1024
        _tmux("kill-session", "-t", name)
    return times, rss_mb


async def refresh_costs(extra: int, detail: bool, refreshes: int) -> list[float]:
    app, clock = frozen_demo_app(extra=extra, live=False)
    backend, metrics = app.backend, app.metrics_source
    costs: list[float] = []
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        if detail:
            await pilot.press("slash", *"yolo-detector", "enter", "enter")
            await pilot.pause()
        key = getattr(app.screen, "key", None)
        for _ in range(refreshes + 3):
            clock.advance(2.0)
            rollouts = backend.list()
            fetched = {}
            if key is not None:
                target = [r for r in rollouts if r.ref.key == key]
                fetched = metrics.fetch(target, app.window_s, 2.0)  # worker's job: not timed
            await pilot.pause()
            t0 = time.thread_time()
            app.store.apply(Snapshot(tuple(rollouts)))
            if fetched:
                app.store.set_metrics(fetched)
            app.redraw_if_changed()
            await pilot.pause()  # layout, render and paint of what changed
            costs.append((time.thread_time() - t0) * 1000)
    return costs[3:]  # the first refreshes warm caches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="process starts for figure 1")
    parser.add_argument("--refreshes", type=int, default=30)
    args = parser.parse_args()

    detail = asyncio.run(refresh_costs(0, True, args.refreshes))
    list200 = asyncio.run(refresh_costs(194, False, args.refreshes))
    frames, rss = first_frame_and_rss(args.runs)

    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    print(
        f"first full frame:          median {statistics.median(frames):.2f} s "
        f"(min {min(frames):.2f}, max {max(frames):.2f}, {len(frames)} runs)"
        f"   target <= {TARGETS['first_frame_s']} s"
    )
    print(
        f"detail refresh, UI thread: median {statistics.median(detail):.1f} ms "
        f"(p90 {sorted(detail)[int(len(detail) * 0.9)]:.1f})"
        f"   target <= {TARGETS['detail_ms']} ms"
    )
    print(
        f"list(200) refresh, UI thread: median {statistics.median(list200):.1f} ms "
        f"(p90 {sorted(list200)[int(len(list200) * 0.9)]:.1f})"
        f"   target <= {TARGETS['list200_ms']} ms"
    )
    print(f"RSS with the detail view open: {rss:.0f} MB   target <= {TARGETS['rss_mb']} MB")


if __name__ == "__main__":
    main()
