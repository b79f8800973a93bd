"""Helpers for Pilot tests: wait on the app's state with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.app import App
from textual.pilot import Pilot

from console.app import RolloutConsoleApp
from console.model import Rollout


async def until(
    pilot: Pilot[int], predicate: Callable[[], object], what: str, timeout: float = 10.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def rollout_named(app: RolloutConsoleApp, name: str) -> Rollout:
    """The backend's own view (not the UI's), so tests check what really changed."""
    for rollout in app.backend.list():
        if rollout.ref.name == name:
            return rollout
    raise AssertionError(f"no rollout named {name}")


def notifications(app: RolloutConsoleApp) -> list[str]:
    return [n.message for n in app._notifications]


async def open_rollout(pilot: Pilot[int], name: str) -> None:
    app = pilot.app
    await pilot.press("slash", *name, "enter", "enter")
    await until(
        pilot,
        lambda: getattr(app.screen, "key", "").endswith("/" + name),
        f"the detail view of {name}",
    )


def charts_settled(app: App[object]) -> bool:
    """No chart has a build under way: what is on screen is for the latest data."""
    from widgets.version_chart import VersionChartPair

    return not any(chart.pending for chart in app.screen.query(VersionChartPair))
