"""Every key flow, driven through Textual's Pilot against the demo backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.demo_app import frozen_demo_app
from console.model import Action, ActionUnavailable, Phase
from console.screens.confirm import ConfirmScreen
from console.screens.rollout_detail import RolloutDetailScreen
from tests.ui.drive import notifications, open_rollout, rollout_named, until
from tests.widgets.test_widgets import screen_text

SIZE = (120, 40)


async def test_pause_then_resume_freezes_and_continues() -> None:
    app, _ = frozen_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_rollout(pilot, "yolo-detector")
        await pilot.press("p")
        await until(pilot, lambda: rollout_named(app, "yolo-detector").paused, "pause")
        await until(pilot, lambda: any("paus" in n.lower() for n in notifications(app)), "a notice")
        await until(pilot, lambda: app.store.rollouts[app.screen.key].paused, "the UI to show it")
        await pilot.press("r")
        await until(pilot, lambda: not rollout_named(app, "yolo-detector").paused, "resume")


async def test_advance_moves_one_step() -> None:
    app, _ = frozen_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        before = rollout_named(app, "facefusion").current_step
        assert before is not None
        await open_rollout(pilot, "facefusion")
        await pilot.press("a")
        await until(
            pilot,
            lambda: (rollout_named(app, "facefusion").current_step or 0) > before,
            "the next step",
        )


async def test_promote_full_asks_and_y_confirms() -> None:
    app, clock = frozen_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_rollout(pilot, "tf-serving")
        await pilot.press("A")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.press("y")
        await until(pilot, lambda: rollout_named(app, "tf-serving").set_weight == 100, "100%")
        # The canary's new pods load the model before they take all traffic.
        clock.advance(120)
        await until(
            pilot,
            lambda: rollout_named(app, "tf-serving").phase is Phase.HEALTHY,
            "the canary to be promoted",
        )
        assert rollout_named(app, "tf-serving").stable.display == "2.13.0-gpu"


async def test_promote_full_cancelled_by_any_other_key() -> None:
    app, _ = frozen_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        before = rollout_named(app, "tf-serving")
        await open_rollout(pilot, "tf-serving")
        await pilot.press("A")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, RolloutDetailScreen), "the detail view")
        await until(pilot, lambda: any("cancelled" in n for n in notifications(app)), "a notice")
        assert rollout_named(app, "tf-serving") == before


async def test_rollback_asks_and_y_aborts() -> None:
    app, _ = frozen_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_rollout(pilot, "yolo-detector")
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.press("y")
        await until(pilot, lambda: rollout_named(app, "yolo-detector").aborted, "the abort")
        after = rollout_named(app, "yolo-detector")
        assert after.phase is Phase.DEGRADED
        assert after.set_weight == 0


async def test_rollback_cancelled_by_escape() -> None:
    app, _ = frozen_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_rollout(pilot, "yolo-detector")
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, RolloutDetailScreen), "the detail view")
        assert not rollout_named(app, "yolo-detector").aborted


async def test_read_only_binds_no_action_keys_and_backend_refuses() -> None:
    app, _ = frozen_demo_app(read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        bound = set(app.screen._bindings.key_to_bindings)
        assert not bound & {"a", "A", "p", "r", "x", "R", "u"}, bound
        before = rollout_named(app, "yolo-detector")
        await open_rollout(pilot, "yolo-detector")
        assert not set(app.screen._bindings.key_to_bindings) & {"a", "A", "p", "r", "x"}
        await pilot.press("p", "x", "y", "A", "y")
        await pilot.pause(0.3)
        assert rollout_named(app, "yolo-detector") == before
        try:
            app.backend.act(before.ref, Action.PAUSE)
        except ActionUnavailable as exc:
            assert "read-only" in str(exc)
        else:
            raise AssertionError("the read-only backend accepted an action")


async def test_filter_narrows_the_list_and_escape_clears_it() -> None:
    app, _ = frozen_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.table
        total = table.row_count
        assert total >= 4
        await pilot.press("slash", *"vision")
        await until(pilot, lambda: table.row_count == 1, "one row for 'vision'")
        assert table.selected_key is not None and table.selected_key.endswith("yolo-detector")
        await pilot.press("enter", "escape")
        await until(pilot, lambda: table.row_count == total, "the whole list back")


async def test_help_lists_the_keys() -> None:
    app, _ = frozen_demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: type(app.screen).__name__ == "HelpScreen", "the help")
        from textual.widgets import Static

        text = str(app.screen.query_one(Static).render())
        for key, words in (
            ("/", "filter"),
            ("a", "Promote (next step)"),
            ("A", "Promote --full"),
            ("x", "Roll back"),
            ("N", "sort"),
            (":", "jump"),
            ("q", "quit"),
        ):
            assert any(
                line.split()[:1] == [key] and words.lower() in line.lower()
                for line in text.splitlines()
                if line.strip()
            ), f"{key} {words!r} missing from help:\n{text}"
        await pilot.press("z")
        await until(pilot, lambda: type(app.screen).__name__ == "RolloutListScreen", "back")


async def test_ctrl_c_quits_at_once() -> None:
    """An SRE's ctrl+c leaves, as in k9s; Textual's default only shows a toast."""
    app, _ = frozen_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.store.rollouts, "the list")
        await pilot.press("ctrl+c")
        await until(pilot, lambda: app._exit, "the app to exit")
    assert not any("ctrl+q" in n for n in notifications(app))


async def test_vi_keys_move_the_list_cursor() -> None:
    from widgets.rollout_table import RolloutTable

    app, _ = frozen_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(RolloutTable)
        await until(pilot, lambda: table.row_count > 3, "the rows")
        last = table.row_count - 1
        await pilot.press("j", "j")
        await until(pilot, lambda: table.cursor_row == 2, "j to move down twice")
        await pilot.press("k")
        await until(pilot, lambda: table.cursor_row == 1, "k to move up")
        await pilot.press("G")
        await until(pilot, lambda: table.cursor_row == last, "G to the last row")
        await pilot.press("g")
        await until(pilot, lambda: table.cursor_row == 0, "g to the first row")
        await pilot.press("end")
        await until(pilot, lambda: table.cursor_row == last, "End to the last row")
        await pilot.press("home")
        await until(pilot, lambda: table.cursor_row == 0, "Home to the first row")


async def test_a_message_arriving_after_the_last_screen_is_gone_is_ignored() -> None:
    """A worker's metrics or a timer can land while the app shuts down: no crash."""
    app, _ = frozen_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.store.rollouts, "the list")
    assert not app.screen_stack
    app.store.version += 1
    app.redraw_if_changed()
    app.tick_clocks()
    app.refresh_metrics()


async def test_help_gives_a_stale_clusters_whole_reason_at_80_columns() -> None:
    from console.model import ConnectionState
    from console.screens.help import HelpScreen

    reason = (
        "Connection refused: the API server at https://10.0.0.1:6443 did not answer; "
        "retrying with backoff, the data shown is the last that was read."
    )
    app, clock = frozen_demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.store.rollouts, "the list")
        app.store.apply(ConnectionState(False, reason, since=clock.now() - 18, cluster="ctx1"))
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        assert help_screen.stale == (f"ctx1: stale for 18s: {reason}",)
        from textual.widgets import Static

        shown = " ".join(str(help_screen.query_one(Static).render()).split())
        assert " ".join(reason.split()) in shown


async def test_palette_offers_only_our_themes_and_a_screenshot_that_saves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from console.commands import RolloutCommands

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    app, _ = frozen_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.store.rollouts, "the list")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Theme" not in titles and "Screenshot" in titles
        themes = [
            name
            for name, _, _ in RolloutCommands(app.screen)._commands()
            if name.startswith("Theme")
        ]
        assert themes == [
            "Theme: rollout-dark",
            "Theme: rollout-light",
            "Theme: rollout-high-contrast",
        ]
        path = app.save_screen()
        assert path.parent == tmp_path / "rollout-console" / "screenshots"
        assert path.read_text().lstrip().startswith("<svg")
        await until(
            pilot, lambda: any("Saved screenshot" in n for n in notifications(app)), "toast"
        )


async def test_undo_confirm_of_a_promoted_rollout_reads_right() -> None:
    """No "canary - at 100% (set 100%)": a finished rollout's stable takes all traffic."""
    from textual.widgets import Static

    app, _ = frozen_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_rollout(pilot, "bert-ranker")
        await pilot.press("u")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        text = " ".join(str(s.render()) for s in app.screen.query(Static))
        assert "stable v3.4.1 takes all traffic" in text
        assert "canary -" not in text and "set 100%" not in text
        await pilot.press("n")


def test_rollback_confirm_says_what_argo_does() -> None:
    from console.model import ProviderKind, Role, Rollout, RolloutRef, VersionInfo
    from console.screens.confirm import consequence_of

    argo = Rollout(
        RolloutRef("c", "ns", "r"), ProviderKind.ARGO, Phase.PROGRESSING, VersionInfo(Role.STABLE)
    )
    assert "abortScaleDownDelaySeconds (30 s by default)" in consequence_of(Action.ROLLBACK, argo)


async def test_the_list_is_drawn_from_the_store_on_return_from_the_detail_view() -> None:
    """Issue 9: after the detail view the list showed a count and a weight 22 s old.

    No workers here: the test alone changes the store, so nothing but the return
    itself can redraw the list."""
    from console.model import Upserted

    app, _ = frozen_demo_app(live=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.store.rollouts, "the list")
        await pilot.press("enter")  # the highlighted row: no filter left behind
        await until(pilot, lambda: isinstance(app.screen, RolloutDetailScreen), "the detail")
        tf = rollout_named(app, "tf-serving")
        step = tf.current_step or 0
        app.backend.act(tf.ref, Action.ADVANCE)  # another operator, while the detail is open
        app.store.apply(Upserted(rollout_named(app, "tf-serving")))
        app.redraw_if_changed()  # the detail view draws this change; the list is hidden
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, RolloutDetailScreen), "the list")
        await pilot.pause()

        def row() -> str:
            lines = screen_text(app).splitlines()
            return next((line for line in lines if "tf-serving" in line), "")

        assert f" {step + 1}/{len(tf.steps)} " in row(), row()
