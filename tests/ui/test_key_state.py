"""Defect 9: the footer offers only keys that can act on the selected rollout.

a p x stay in place, dimmed (disabled) when they cannot act; A r R are hidden
then; the detail view says why.
"""

from __future__ import annotations

from textual.widgets._footer import FooterKey

from console.demo_app import frozen_demo_app
from console.screens.rollout_detail import RolloutDetailScreen
from tests.ui.drive import open_rollout, rollout_named, until
from widgets.key_footer import KeyFooter

SIZE = (160, 40)


def footer_keys(app: object) -> dict[str, bool]:
    """Shown key -> enabled."""
    screen = app.screen  # type: ignore[attr-defined]
    keys = screen.query_one(KeyFooter).query(FooterKey)
    return {k.key: not k.has_class("-disabled") for k in keys}


async def test_a_fully_promoted_rollout_dims_a_p_x_and_hides_the_rest() -> None:
    app, _ = frozen_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_rollout(pilot, "bert-ranker")
        await until(pilot, lambda: "p" in footer_keys(app), "the detail footer")
        await until(pilot, lambda: not footer_keys(app)["p"], "p dimmed")
        keys = footer_keys(app)
        assert keys["a"] is False and keys["x"] is False
        assert not {"A", "r", "R"} & set(keys), keys
        drawn = app.screen._drawn["#versions"].plain  # type: ignore[attr-defined]
        assert "not now a A p x: fully promoted, no canary" in drawn
        before = rollout_named(app, "bert-ranker")
        await pilot.press("a", "p")
        await pilot.pause(0.2)
        assert isinstance(app.screen, RolloutDetailScreen)
        assert rollout_named(app, "bert-ranker") == before


async def test_an_aborted_rollout_offers_retry_not_resume_or_rollback() -> None:
    app, _ = frozen_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_rollout(pilot, "whisper-asr")
        await until(pilot, lambda: "R" in footer_keys(app), "retry in the footer")
        keys = footer_keys(app)
        assert keys["R"] is True
        assert keys["x"] is False and keys["a"] is False
        assert "r" not in keys and "A" not in keys


async def test_resume_appears_once_paused_and_pause_dims() -> None:
    app, _ = frozen_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_rollout(pilot, "yolo-detector")
        await until(pilot, lambda: footer_keys(app).get("p") is True, "pause offered")
        assert "r" not in footer_keys(app) and "R" not in footer_keys(app)
        await pilot.press("p")
        await until(pilot, lambda: footer_keys(app).get("r") is True, "resume offered")
        assert footer_keys(app)["p"] is False
        await pilot.press("r")
        await until(pilot, lambda: not rollout_named(app, "yolo-detector").paused, "resume")
        await until(pilot, lambda: "r" not in footer_keys(app), "resume hidden again")


async def test_the_list_footer_follows_the_highlighted_row() -> None:
    app, _ = frozen_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", *"whisper", "enter")
        await until(pilot, lambda: footer_keys(app).get("R") is True, "retry for whisper-asr")
        await pilot.press("escape")
        await pilot.press("slash", *"yolo", "enter")
        await until(pilot, lambda: footer_keys(app).get("p") is True, "pause for yolo-detector")
        assert "R" not in footer_keys(app)
