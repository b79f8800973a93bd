"""The footer at 80, 100 and 160 columns: what fits, by priority, never half a key."""

from __future__ import annotations

import pytest
from textual.widgets._footer import FooterKey

from console.demo_app import frozen_demo_app
from console.screens.actions import FOOTER_PRIORITY
from tests.ui.drive import open_rollout, until
from tests.widgets.test_widgets import screen_text
from widgets.key_footer import KeyFooter, fitting


def test_fitting_takes_priority_order_and_keeps_display_order() -> None:
    keys = [("a", 10), ("b", 10), ("c", 10), ("quit", 8)]
    assert fitting(keys, ("quit", "c"), 19) == [2, 3]
    assert fitting(keys, ("quit", "c"), 100) == [0, 1, 2, 3]
    # A key that does not fit is skipped whole; a smaller later one may still fit.
    assert fitting([("a", 15), ("b", 4), ("c", 3)], ("a", "b", "c"), 19) == [0, 1]


@pytest.mark.parametrize("width", [80, 100, 160])
async def test_footer_keeps_quit_help_and_pause_at_every_width(width: int) -> None:
    app, _ = frozen_demo_app()
    async with app.run_test(size=(width, 24)) as pilot:
        footer = app.screen.query_one(KeyFooter)
        await until(pilot, lambda: "quit" in footer.shown, "the footer's keys")
        assert {"quit", "help", "filter", "act('pause')", "act('rollback')"} <= set(footer.shown)
        ranks = [FOOTER_PRIORITY.index(a) for a in footer.shown if a in FOOTER_PRIORITY]
        # Candidates: keys offered for the highlighted row (ones it cannot take are hidden).
        offered = {b.binding.action for b in app.screen.active_bindings.values()}
        dropped = [a for a in FOOTER_PRIORITY if a in offered and a not in footer.shown]
        # Nothing of lower priority is shown while something higher was dropped.
        assert all(FOOTER_PRIORITY.index(d) > max(ranks) for d in dropped if d.startswith("act"))
        # Every shown key is drawn whole: its description is on the screen's last line.
        await until(pilot, lambda: footer.query(FooterKey), "the keys drawn")
        last = screen_text(app).splitlines()[-1]
        for key in footer.query(FooterKey):
            assert f"{key.key_display} {key.description}" in last, f"cut at {width}: {last!r}"
        await open_rollout(pilot, "yolo-detector")
        detail_footer = app.screen.query_one(KeyFooter)
        await until(pilot, lambda: "back" in detail_footer.shown, "the detail footer")
        assert {"quit", "help", "act('pause')"} <= set(detail_footer.shown)
