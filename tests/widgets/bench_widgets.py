"""Per-widget UI-thread cost (a script, not a test):

    python -m tests.widgets.bench_widgets

Times show() plus the widget's own drawing, then one full frame through the
pilot, as CPU time of the UI thread (thread_time: on a shared box wall time
mostly measures the neighbours).
"""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import time

from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical

from console.model import Metric, Series
from tests.widgets.data import NOW, STEPS, rollout, sample_metrics
from themes import register_themes
from widgets.metric_summary import MetricSummary
from widgets.rollout_table import RolloutTable
from widgets.step_timeline import StepTimeline
from widgets.traffic_bar import TrafficBar
from widgets.version_chart import VersionChartPair, build_lines

clock = time.thread_time
CHARTS = (
    (Metric.LATENCY_P99, "lat", "latency", "ms"),
    (Metric.ERROR_PCT, "err", "errors", "%"),
    (Metric.GPU_UTIL, "gpu", "GPU util", "%"),
    (Metric.GPU_MEMORY, "mem", "GPU memory", "GiB"),
)


class Detail(App[None]):
    def __init__(self) -> None:
        super().__init__()
        register_themes(self)
        self.theme = "rollout-dark"

    def compose(self) -> ComposeResult:
        yield TrafficBar()
        yield StepTimeline()
        with Horizontal():
            for half in (CHARTS[:2], CHARTS[2:]):
                with Vertical():
                    for _, key, title, unit in half:
                        yield VersionChartPair(title, unit, id=key)
        yield MetricSummary()


class ListApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        register_themes(self)
        self.theme = "rollout-dark"

    def compose(self) -> ComposeResult:
        yield RolloutTable()


def ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:.2f} ms, max {max(samples) * 1000:.2f} ms"


def shifted(series: Series, shift: float, scale: float) -> Series:
    return Series(tuple((t + shift, v * scale) for t, v in series.points))


async def detail(size: tuple[int, int], points: int) -> None:
    app = Detail()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        charts = {key: app.query_one(f"#{key}", VersionChartPair) for _, key, _, _ in CHARTS}
        bar, steps, summary = (
            app.query_one(TrafficBar),
            app.query_one(StepTimeline),
            app.query_one(MetricSummary),
        )
        build: list[float] = []
        cached: list[float] = []
        other: list[float] = []
        frame: list[float] = []
        plotted: list[float] = []
        for tick in range(30):
            metrics = sample_metrics(points)
            canary = metrics.canary
            assert canary is not None
            # A sliding window: every tick is new data, as in a live refresh.
            shift, scale = tick * 5.0, 1 + 0.01 * tick
            shown = {
                key: (
                    [shifted(metrics.stable.get(metric), shift, scale)],
                    [shifted(canary.get(metric), shift, scale)],
                )
                for metric, key, _, _ in CHARTS
            }
            t0 = clock()
            for key, (stable, canary_series) in shown.items():
                # show() only queues the build for the builder thread.
                charts[key].show(
                    stable, canary_series, stable_version="2.12.0", canary_version="2.13.0-gpu"
                )
            t1 = clock()
            for key, (stable, canary_series) in shown.items():
                charts[key].show(  # the same data again: nothing to do
                    stable, canary_series, stable_version="2.12.0", canary_version="2.13.0-gpu"
                )
            t2 = clock()
            bar.show(
                set_weight=40,
                actual_weight=30 + tick % 3,
                stable_label="2.12.0",
                canary_label="2.13.0-gpu",
            )
            bar.render()
            steps.show(STEPS, 3, pause_remaining_s=60 - tick, paused=False, aborted=False)
            steps.render()
            summary.show(metrics, now=NOW + tick)
            summary.render()
            t3 = clock()
            await pilot.pause()
            while any(chart.pending for chart in charts.values()):
                await pilot.pause()
            t4 = clock()
            for chart in charts.values():
                request = chart._built
                if request is not None:  # what the builder thread did, timed here (CPU)
                    b0 = clock()
                    build_lines(request)
                    plotted.append(clock() - b0)
            build.append(t1 - t0)
            cached.append(t2 - t1)
            other.append(t3 - t2)
            frame.append(t4 - t3)
        print(
            f"detail {size[0]}x{size[1]}, {points} points/series:\n"
            f"  4 chart pairs, show() new data: {ms(build)}\n"
            f"  4 chart pairs, show() same data: {ms(cached)}\n"
            f"  plotext build of one pair (builder thread, CPU): {ms(plotted)}\n"
            f"  traffic bar + step timeline + summary: {ms(other)}\n"
            f"  frames until the builds are swapped in (compositor, all widgets): {ms(frame)}"
        )


async def table(size: tuple[int, int]) -> None:
    app = ListApp()
    async with app.run_test(size=size) as pilot:
        widget = app.query_one(RolloutTable)
        rollouts = [
            rollout(f"model-{i:03}", namespace=f"ns-{i % 7}", age_s=5000 + i * 37)
            for i in range(200)
        ]
        t0 = clock()
        widget.show(rollouts, NOW)
        first = clock() - t0
        await pilot.pause()
        same: list[float] = []
        ages: list[float] = []
        ten: list[float] = []
        frame: list[float] = []
        reorder: list[float] = []
        for _ in range(20):
            t0 = clock()
            widget.show(rollouts, NOW)
            same.append(clock() - t0)
        for tick in range(20):
            t0 = clock()
            widget.show(rollouts, NOW + tick + 1)
            ages.append(clock() - t0)
            await pilot.pause()
        for tick in range(20):
            changed = list(rollouts)
            for i in range(0, 200, 20):
                changed[i] = dataclasses.replace(rollouts[i], actual_weight=(tick * 3 + i) % 100)
            t0 = clock()
            widget.show(changed, NOW + 21)
            ten.append(clock() - t0)
            t0 = clock()
            await pilot.pause()
            frame.append(clock() - t0)
        for tick in range(20):
            order = list(reversed(rollouts)) if tick % 2 == 0 else rollouts
            t0 = clock()
            widget.show(order, NOW + 21)
            reorder.append(clock() - t0)
            await pilot.pause()
        print(
            f"table, 200 rows, {size[0]}x{size[1]}:\n"
            f"  first show: {first * 1000:.1f} ms\n"
            f"  show, nothing changed: {ms(same)}\n"
            f"  show, every age changed: {ms(ages)}\n"
            f"  show, 10 rows changed: {ms(ten)}\n"
            f"  full frame after 10 rows changed: {ms(frame)}\n"
            f"  show, order changed (clear + re-add): {ms(reorder)}"
        )


async def main() -> None:
    await detail((80, 24), 60)
    await detail((160, 48), 60)
    await detail((160, 48), 1000)
    await table((80, 24))
    await table((160, 48))


if __name__ == "__main__":
    asyncio.run(main())
