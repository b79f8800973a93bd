"""The screen is the truth: the list after the detail view, clocks, the stale banner.

Before: back from the detail view the header said "3 rollouts" while 2 rows
showed and a weight changed meanwhile still read the old value; AGE moved only
when something else changed; the stale banner kept the first error of an outage
("reset by peer") after it had become "refused", and was cut at 160 columns.

Pilot against the demo with no workers (``live=False``): the test alone changes
the store and moves the clock, so only the behaviour under test can redraw.
Only APIs the console had before issue 9 are used, so these rows can be run
against the old code too.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.app import App
from textual.widgets import Static

from console.demo_app import frozen_demo_app
from console.model import Action, ConnectionState, Removed, Upserted
from console.screens.rollout_detail import RolloutDetailScreen
from tests.faults.conftest import Fault
from tests.ui.drive import rollout_named, until
from widgets.rollout_table import RolloutTable

SIZE = (120, 40)


def screen_text(app: App[Any]) -> str:
    """What the terminal shows, as plain text."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


def row_of(app: App[Any], name: str) -> str:
    return next((line for line in screen_text(app).splitlines() if f" {name} " in line), "")


@pytest.mark.fault(
    "objects change while the detail view is open (one deleted, one advanced)",
    "on return the header count equals the rows, and the row shows the new step",
)
async def test_the_list_is_true_on_return_from_the_detail_view(fault: Fault) -> None:
    app, _ = frozen_demo_app(live=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.store.rollouts, "the list")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RolloutDetailScreen), "the detail")
        opened = app.screen.key  # type: ignore[attr-defined]
        # Another operator advances tf-serving; somebody deletes another rollout.
        tf = rollout_named(app, "tf-serving")
        step = tf.current_step or 0
        app.backend.act(tf.ref, Action.ADVANCE)
        app.store.apply(Upserted(rollout_named(app, "tf-serving")))
        gone = next(
            r.ref
            for r in app.store.rollouts.values()
            if r.ref.key != opened and r.ref.name != "tf-serving"
        )
        app.store.apply(Removed(gone))
        app.redraw_if_changed()  # draws the detail view, on top; the list is hidden
        total = len(app.store.rollouts)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, RolloutDetailScreen), "the list")
        app.tick_clocks()  # the once-a-second timer, as it would fire
        await pilot.pause()
        rows = len(app.screen.query_one(RolloutTable).rows)
        text = screen_text(app)
        tf_row = row_of(app, "tf-serving")
        fault.observed(
            f"header {'says' if f'{total} rollouts' in text else 'lacks'} '{total} rollouts', "
            f"{rows} rows; {gone.name} {'still' if f' {gone.name} ' in text else 'not'} shown; "
            f"tf-serving row {' '.join(tf_row.split())[:60]!r}"
        )
        assert f"{total} rollouts" in text and rows == total
        assert f" {gone.name} " not in text
        assert f" {step + 1}/{len(tf.steps)} " in tf_row, tf_row


@pytest.mark.fault(
    "three hours pass and nothing changes",
    "AGE on the list moves on its own",
)
async def test_age_ticks_with_nothing_else_changing(fault: Fault) -> None:
    app, clock = frozen_demo_app(live=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.store.rollouts, "the list")
        newest = max(app.store.rollouts.values(), key=lambda r: r.created_at)
        await until(pilot, lambda: row_of(app, newest.ref.name), "the newest row")
        before = row_of(app, newest.ref.name)
        app.redraw_if_changed()  # no redraw left pending: only the tick can move AGE
        await pilot.pause()
        before = row_of(app, newest.ref.name)
        clock.advance(3 * 3600)
        app.tick_clocks()  # the once-a-second timer; no data changed
        try:
            await until(pilot, lambda: row_of(app, newest.ref.name) != before, "AGE to move", 5)
        finally:
            after = row_of(app, newest.ref.name)
            fault.observed(f"{' '.join(before.split())!r} -> {' '.join(after.split())!r}")
        assert "3h" in after, after


def help_text(app: App[Any]) -> str:
    return " ".join(" ".join(str(w.render()) for w in app.screen.query(Static)).split())


@pytest.mark.fault(
    "stale cluster whose reason changes to a 212-character one",
    "the status line shows the current reason; `?` shows it whole",
)
async def test_the_stale_banner_shows_the_current_error_in_full_under_help(
    fault: Fault,
) -> None:
    first = "read ECONNRESET: connection reset by peer"
    current = (
        "Connection refused: the API server at https://10.0.0.1:6443 did not answer; "
        "retrying with backoff, the data shown is the last that was read, and the "
        "rest of this sentence takes it past 160 columns: end-of-reason."
    )
    assert len(current) > 160
    app, clock = frozen_demo_app(live=False)
    async with app.run_test(size=(200, 40)) as pilot:
        await until(pilot, lambda: app.store.rollouts, "the list")
        cluster = next(iter(app.store.rollouts.values())).ref.cluster
        app.store.apply(ConnectionState(False, first, since=clock.now() - 30, cluster=cluster))
        app.redraw_if_changed()
        await until(pilot, lambda: "reset by peer" in screen_text(app), "the first error")
        app.store.apply(ConnectionState(False, current, since=clock.now(), cluster=cluster))
        app.redraw_if_changed()
        app.tick_clocks()
        try:
            await until(pilot, lambda: "Connection refused" in screen_text(app), "the new error")
        finally:
            banner = next(
                (line for line in screen_text(app).splitlines() if "stale" in line.lower()), ""
            )
            fault.observed(f"banner {' '.join(banner.split())[:90]!r}")
        assert "reset by peer" not in screen_text(app)
        await pilot.press("question_mark")
        await until(pilot, lambda: "end-of-reason" in help_text(app), "the whole reason", 5)
        assert " ".join(current.split()) in help_text(app)
        fault.observed(
            f"banner {' '.join(banner.split())[:90]!r}; `?` gives all {len(current)} chars"
        )
