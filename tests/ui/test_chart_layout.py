"""Where the charts land in the detail view: in view without scrolling, whole, and all
on one time window, at 80x24, 120x40 and 160x48, with the log of recent changes full."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from console.demo_app import frozen_demo_app
from console.screens.rollout_detail import chart_window
from tests.ui.drive import charts_settled, open_rollout, until
from widgets.version_chart import VersionChartPair


async def _detail(pilot: Pilot[Any]) -> list[VersionChartPair]:
    app = pilot.app
    await open_rollout(pilot, "yolo-detector")
    key = app.screen.key  # type: ignore[attr-defined]
    await until(pilot, lambda: key in app.store.metrics, "metrics")  # type: ignore[attr-defined]
    for i in range(10):  # more entries than the log shows: it is as tall as it gets
        app.store.log_action(key, f"action {i}")  # type: ignore[attr-defined]
    app.redraw_if_changed()  # type: ignore[attr-defined]
    await pilot.pause()
    await until(pilot, lambda: charts_settled(app), "the charts")
    await pilot.pause()
    return list(app.screen.query(VersionChartPair))


def _in_view(pilot: Pilot[Any], chart: VersionChartPair) -> bool:
    """The whole chart is on screen, not clipped by the scrolling body or the log."""
    visible = pilot.app.screen._compositor.visible_widgets
    if chart not in visible:
        return False
    region, clip = visible[chart]
    return region.intersection(clip) == region and region.height == chart.size.height


@pytest.mark.parametrize(
    ("size", "whole"),
    [((80, 24), {"latency"}), ((120, 40), {"latency", "errors", "gpu-util", "gpu-mem"}),
     ((160, 48), {"latency", "errors", "gpu-util", "gpu-mem"})],
    ids=["80x24", "120x40", "160x48"],
)  # fmt: skip
async def test_charts_in_view_without_scrolling(size: tuple[int, int], whole: set[str]) -> None:
    app, _ = frozen_demo_app()
    async with app.run_test(size=size) as pilot:
        charts = await _detail(pilot)
        in_view = {chart.id for chart in charts if _in_view(pilot, chart)}
        assert in_view == whole
        for chart in charts:
            if chart.id in whole:
                lines = [chart.render_line(y).text for y in range(chart.size.height)]
                assert sum("┤" in line for line in lines) >= 3  # a plot body with its y axis
                assert "now" in lines[-1] and "-5m" in lines[-1]  # and its window


async def test_every_chart_shows_the_same_window() -> None:
    app, _ = frozen_demo_app()
    async with app.run_test(size=(160, 48)) as pilot:
        charts = await _detail(pilot)
        metrics = app.store.metrics[app.screen.key]  # type: ignore[attr-defined]
        window = chart_window(metrics)
        assert window is not None and window[1] - window[0] == metrics.window_s
        for chart in charts:
            assert chart._built is not None and chart._built.window == window
