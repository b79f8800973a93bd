"""Defect 5 at 80x24, as drawn: a Progressing row with a wide weight (`100/30%`)
in the demo's list, every column whole and AGE kept.

tf-serving is promoted fully (A, y): it turns Progressing and sends 100 % while
the router still applies 30 %. Update with `--snapshot-update` and look at it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

from console.demo_app import frozen_demo_app
from console.model import Phase
from console.screens.confirm import ConfirmScreen
from console.screens.rollout_list import RolloutListScreen
from tests.ui.drive import open_rollout, rollout_named, until
from tests.widgets.test_widgets import screen_text

SnapCompare = Callable[..., bool]


async def promote_tf_serving(pilot: Pilot[Any]) -> None:
    app = pilot.app
    await open_rollout(pilot, "tf-serving")
    await pilot.press("A")
    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
    await pilot.press("y")
    await until(pilot, lambda: rollout_named(app, "tf-serving").set_weight == 100, "100 %")  # type: ignore[arg-type]
    await pilot.press("escape")
    await until(pilot, lambda: isinstance(app.screen, RolloutListScreen), "the list")
    await pilot.press("escape")  # clears the filter: every row
    await until(
        pilot,
        lambda: "100/30%" in screen_text(app) and "bert-ranker" in screen_text(app),
        "the promoted row in the full list",
    )
    app.clear_notifications()
    await pilot.pause()


def test_list_at_80x24_with_a_progressing_row_and_a_wide_weight(snap_compare: SnapCompare) -> None:
    app, _ = frozen_demo_app()
    assert snap_compare(app, terminal_size=(80, 24), run_before=promote_tf_serving)
    assert rollout_named(app, "tf-serving").phase is Phase.PROGRESSING
