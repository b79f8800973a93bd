"""Defect 5: every column of the list fits at 80 and 100 columns, AGE is never
lost, and a column widened by wide content shrinks back when it is gone."""

from __future__ import annotations

from rich.text import Text

from tests.widgets.data import NOW, rollout, sample_rollouts
from tests.widgets.test_widgets import Host, run, screen_text
from widgets.column_fit import fit_cell, fit_versions, fit_widths
from widgets.rollout_table import RolloutTable

ORDER = ("namespace", "name", "phase", "verdict", "step", "weight", "versions", "age")
WIDE = {
    "namespace": 10,
    "name": 13,
    "phase": 13,
    "verdict": 1,
    "step": 5,
    "weight": 7,
    "versions": 21,
    "age": 5,
}


def test_fit_widths_shrinks_by_priority_and_never_age_step_weight() -> None:
    fit = fit_widths(WIDE, ORDER, 80)
    assert sum(fit.values()) + 2 * len(ORDER) <= 80
    assert (fit["age"], fit["step"], fit["weight"], fit["verdict"]) == (5, 5, 7, 1)
    # Room enough: nothing is cut.
    assert fit_widths(WIDE, ORDER, 200) == WIDE


def test_fit_versions_keeps_both_sides() -> None:
    cell = Text("2.13.0-gpu→2.14.0-gpu")
    assert fit_versions(cell, 30, "→") is cell  # fits: the very object
    cut = fit_versions(cell, 15, "→").plain
    assert len(cut) == 15 and "→" in cut
    left, right = cut.split("→")
    assert left.startswith("2.13") and right.startswith("2.14"), cut
    assert fit_cell(Text("Progressing"), 6).plain == "Progr…"


def wide_rows() -> list:  # type: ignore[type-arg]
    return [
        *sample_rollouts(),
        rollout(
            "tf-serving-gpu",
            namespace="ml-serving",
            stable_image="tensorflow/serving:2.13.0-gpu",
            canary_image="tensorflow/serving:2.14.0-gpu",
            set_weight=100,
            actual_weight=50,
            current_step=11,
            age_s=3 * 86400 + 7 * 3600,
        ),
    ]


def test_list_fits_at_80_and_100_and_shrinks_back() -> None:
    async def scenario() -> None:
        table = RolloutTable()
        app = Host(table)
        async with app.run_test(size=(80, 24)) as pilot:
            for width in (80, 100):
                await pilot.resize_terminal(width, 24)
                table.show(wide_rows(), NOW)
                await pilot.pause()
                lines = screen_text(app).splitlines()
                header = lines[0]
                assert header.rstrip().endswith("AGE"), header
                rows = [line for line in lines[1:] if line.strip()]
                assert len(rows) == len(wide_rows())
                for line in rows:
                    assert len(line.rstrip()) <= width
                    # Every row ends with its age ("1h", "3d7h"), under the AGE header.
                    assert line.rstrip()[-1] in "smhd", line
                assert "100/50%" in screen_text(app)
                assert "◐ Progress" in screen_text(app)
                wide_weight = table.columns[next(k for k in table.columns if k.value == "weight")]
                assert wide_weight.width == 7
            # The wide row goes: WEIGHT and VERSIONS shrink back.
            table.show(sample_rollouts(), NOW)
            await pilot.pause()
            weight = table.columns[next(k for k in table.columns if k.value == "weight")]
            assert weight.width == len("40/30%")
            assert "2.13.0-gpu→2.14.0-gpu" not in screen_text(app)

    run(scenario())
