"""SVG snapshots of the list and detail views at 80x24 and 160x48.

The demo runs on a ManualClock (seed 7) with its guard evaluated through the
warm-up, so every run draws the same frame: yolo-detector paused by the guard,
the verdict column, and the gates panel in the detail view.
Update after an intended UI change with `pytest tests/ui --snapshot-update`,
then look at the SVGs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from console.demo_app import frozen_demo_app
from tests.ui.drive import charts_settled, open_rollout, until

SIZES = [(80, 24), (160, 48)]
SnapCompare = Callable[..., bool]


def _open(name: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        await open_rollout(pilot, name)
        key = app.screen.key  # type: ignore[attr-defined]
        await until(pilot, lambda: key in app.store.metrics, "metrics")  # type: ignore[attr-defined]
        app.redraw_if_changed()  # type: ignore[attr-defined]
        await pilot.pause()
        # Charts built on a worker are swapped in by a message: wait for them.
        await until(pilot, lambda: charts_settled(app), "the charts")
        await pilot.pause()

    return run_before


async def _settle(pilot: Pilot[Any]) -> None:
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_list_view(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    app, _ = frozen_demo_app(guard=True)
    assert snap_compare(app, terminal_size=size, run_before=_settle)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_detail_view_of_a_regressing_canary(
    snap_compare: SnapCompare, size: tuple[int, int]
) -> None:
    app, _ = frozen_demo_app(guard=True)
    assert snap_compare(app, terminal_size=size, run_before=_open("yolo-detector"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_detail_view_of_the_gpu_leak(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    # Five simulated minutes in: the GPU gate has paused facefusion.
    app, _ = frozen_demo_app(guard=True, warmup_s=420)
    assert snap_compare(app, terminal_size=size, run_before=_open("facefusion"))


def test_list_view_read_only_light_theme(snap_compare: SnapCompare) -> None:
    app, _ = frozen_demo_app(read_only=True, theme="rollout-light", guard=True)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_settle)
