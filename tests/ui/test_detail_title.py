"""Defect 11: the detail header is one line at 80 columns; the whole message is
still on the screen, in the notes under it."""

from __future__ import annotations

from textual.widgets import Static

from console.demo_app import frozen_demo_app
from tests.ui.drive import open_rollout, until
from tests.widgets.test_widgets import screen_text


async def test_the_detail_title_fits_one_line_at_80_columns() -> None:
    app, _ = frozen_demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rollout(pilot, "whisper-asr")
        title = app.screen.query_one("#title", Static)
        await until(pilot, lambda: "whisper-asr" in screen_text(app), "the detail view")
        assert title.region.height == 1
        lines = screen_text(app).splitlines()
        head = next(line for line in lines if "ml-serving/whisper-asr @demo" in line)
        assert head.rstrip().endswith("…"), head  # the message is cut, not wrapped
        # The next line is the traffic legend, not the rest of the title.
        assert lines[lines.index(head) + 1].lstrip().startswith("S"), lines
        message = app.store.rollouts[app.screen.key].message  # type: ignore[attr-defined]
        # In the notes of the body (under the charts: scrolled to, not in the first view).
        drawn = app.screen._drawn["#versions"].plain  # type: ignore[attr-defined]
        assert message and message in drawn


async def test_list_ages_move_with_the_demo_clock() -> None:
    app, clock = frozen_demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "48m" in screen_text(app), "llm-gateway's age")
        clock.advance(3600)
        # kubectl's AGE: minutes up to three hours.
        await until(pilot, lambda: "108m" in screen_text(app), "an hour later, on the demo clock")
