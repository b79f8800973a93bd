"""Build 3: k9s-style sort keys on the list (shift+letter, again turns the
direction), a stable order while sorted, and back to the default with D."""

from __future__ import annotations

from console.demo_app import frozen_demo_app
from console.screens.rollout_list import RolloutListScreen
from tests.ui.drive import until
from tests.widgets.test_widgets import screen_text
from widgets.rollout_table import RolloutTable


def names(app: object) -> list[str]:
    table = app.screen.query_one(RolloutTable)  # type: ignore[attr-defined]
    return [key.rsplit("/", 1)[-1] for key in table._keys]


async def test_shift_letters_sort_and_repeat_turns_the_direction() -> None:
    app, clock = frozen_demo_app()
    async with app.run_test(size=(100, 24)) as pilot:
        await until(pilot, lambda: len(names(app)) == 6, "the rows")
        default = names(app)
        await pilot.press("N")
        await until(pilot, lambda: names(app) == sorted(default), "sorted by name")
        assert "NAME↑" in screen_text(app) and "sorted by name ↑" in screen_text(app)
        await pilot.press("N")
        await until(pilot, lambda: names(app) == sorted(default, reverse=True), "name, descending")
        assert "NAME↓" in screen_text(app)

        await pilot.press("W")
        store = app.store
        weights = lambda: [  # noqa: E731
            store.rollouts[k].set_weight for k in app.screen.query_one(RolloutTable)._keys
        ]
        await until(pilot, lambda: weights() == sorted(weights()), "sorted by weight")
        assert "WEIGHT↑" in screen_text(app) and "NAME↓" not in screen_text(app)
        # Time passes, rows change: the order follows the column, ties by name.
        before = names(app)
        clock.advance(1)
        app.redraw_if_changed()
        await pilot.pause()
        assert weights() == sorted(weights())
        ties = [n for n, w in zip(names(app), weights(), strict=True) if w == weights()[0]]
        assert ties == sorted(ties)
        assert set(before) == set(names(app))

        await pilot.press("D")
        await until(pilot, lambda: names(app) == default, "the default order again")
        assert "↑" not in screen_text(app).splitlines()[1]
        assert isinstance(app.screen, RolloutListScreen)
