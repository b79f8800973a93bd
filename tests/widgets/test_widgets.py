"""Pilot tests of the widgets in tiny host apps: no backend, no I/O."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.widget import Widget

from console.model import Metric, MetricsState, Phase, Series, StepKind
from tests.ui.drive import until
from tests.widgets.data import NOW, STEPS, rollout, sample_metrics, sample_rollouts, wave
from themes import DEFAULT_THEME, THEMES, register_themes
from widgets.metric_summary import MetricSummary, ratio_cell
from widgets.rollout_table import RolloutTable, weight_bar
from widgets.step_timeline import StepTimeline
from widgets.traffic_bar import CANARY_GLYPH, STABLE_GLYPH, TrafficBar
from widgets.version_chart import VersionChartPair


class Host(App[None]):
    """Mounts one widget and nothing else."""

    def __init__(self, widget: Widget, theme: str = DEFAULT_THEME) -> None:
        super().__init__()
        register_themes(self)
        self.theme = theme
        self.widget = widget

    def compose(self) -> ComposeResult:
        yield self.widget


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def screen_text(app: App[Any]) -> str:
    """What the terminal shows, as plain text (no colour information at all)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


@contextmanager
def no_color() -> Iterator[None]:
    old = os.environ.get("NO_COLOR")
    os.environ["NO_COLOR"] = "1"
    try:
        yield
    finally:
        if old is None:
            del os.environ["NO_COLOR"]
        else:
            os.environ["NO_COLOR"] = old


# --- themes ----------------------------------------------------------------------


def test_themes_define_the_variables_widgets_use() -> None:
    assert [theme.name for theme in THEMES] == [
        "rollout-dark",
        "rollout-light",
        "rollout-high-contrast",
    ]
    for theme in THEMES:
        assert {"stable", "canary", "attention"} <= set(theme.variables)
        assert theme.variables["stable"].lower() != theme.variables["canary"].lower()


# --- RolloutTable ----------------------------------------------------------------


def test_table_keeps_cursor_on_same_key_when_rows_reorder() -> None:
    async def scenario() -> None:
        table = RolloutTable()
        app = Host(table)
        async with app.run_test(size=(120, 24)) as pilot:
            rollouts = sample_rollouts()
            table.show(rollouts, NOW)
            table.move_cursor(row=2)
            await pilot.pause()
            selected = table.selected_key
            assert selected == rollouts[2].ref.key
            table.show(list(reversed(rollouts)), NOW)
            await pilot.pause()
            assert table.selected_key == selected
            assert table.cursor_row == 1
            # Removing the selected rollout must not crash; some row stays selected.
            table.show([r for r in rollouts if r.ref.key != selected], NOW)
            await pilot.pause()
            assert table.selected_key is not None

    run(scenario())


def test_table_updates_cells_in_place_when_keys_unchanged() -> None:
    async def scenario() -> None:
        table = RolloutTable()
        app = Host(table)
        async with app.run_test(size=(120, 24)) as pilot:
            rollouts = sample_rollouts()
            table.show(rollouts, NOW)
            await pilot.pause()
            table.move_cursor(row=3)
            cleared: list[bool] = []
            original_clear = table.clear

            def spy(columns: bool = False) -> Any:
                cleared.append(columns)
                return original_clear(columns)

            table.clear = spy  # type: ignore[method-assign]
            changed = [*rollouts]
            changed[0] = dataclasses.replace(rollouts[0], phase=Phase.PAUSED, paused=True)
            table.show(changed, NOW + 10)
            await pilot.pause()
            assert cleared == []
            assert table.cursor_row == 3
            phase = table.get_cell(rollouts[0].ref.key, "phase")
            assert "Paused" in phase.plain
            # What is drawn follows the update (cell renderings are cached by identity).
            first_row = screen_text(app).splitlines()[1]
            assert "Paused" in first_row and "Progressing" not in first_row

    run(scenario())


def test_table_flags_moving_images_and_shows_phase_as_text() -> None:
    async def scenario() -> None:
        table = RolloutTable()
        with no_color():
            app = Host(table)
        async with app.run_test(size=(160, 24)) as pilot:
            table.show(sample_rollouts(), NOW, show_cluster=True)
            await pilot.pause()
            text = screen_text(app)
            assert "⚠latest" in text
            assert "Degraded (aborted)" in text
            assert "Healthy" in text and "Paused" in text and "Progressing" in text
            assert "40/30%" in text  # set and actual both visible when they differ
            assert "CLUSTER" in text
            assert "⚠ facefusion" in text  # warnings marker
            assert "2.12.0 → 2.13.0-gpu" in text

    run(scenario())


def test_table_compacts_at_80_columns() -> None:
    async def scenario() -> None:
        table = RolloutTable()
        app = Host(table)
        async with app.run_test(size=(80, 24)) as pilot:
            table.show(sample_rollouts(), NOW)
            await pilot.pause()
            text = screen_text(app)
            assert "✖ Aborted" in text  # still words, just shorter
            assert "2.12.0→2.13.0-gpu" in text, text
            assert "⚠latest" in text
            table.move_cursor(row=2)
            selected = table.selected_key
            await pilot.resize_terminal(160, 24)
            await pilot.pause()
            assert "Degraded (aborted)" in screen_text(app)
            assert table.selected_key == selected  # the relayout keeps the cursor
            app.theme = "rollout-high-contrast"
            await pilot.pause()
            await pilot.pause()
            assert table.selected_key == selected  # so does a theme switch

    run(scenario())


def test_weight_bar_text() -> None:
    assert weight_bar(30, 25).startswith("█▊")
    assert weight_bar(30, 25).endswith("30/25%")
    assert weight_bar(100, 100).endswith("100%")
    assert weight_bar(0, 0).startswith("······")


def test_table_200_rows_refresh_only_touches_changed_rows() -> None:
    async def scenario() -> None:
        table = RolloutTable()
        app = Host(table)
        async with app.run_test(size=(120, 40)) as pilot:
            rollouts = [rollout(f"model-{i:03}", age_s=10_000 + i) for i in range(200)]
            table.show(rollouts, NOW)
            await pilot.pause()
            before = {key: dict(row) for key, row in ((k.value, r) for k, r in table._data.items())}
            repainted: list[int] = []
            original = table.refresh_row

            def spy(row_index: int) -> Any:
                repainted.append(row_index)
                return original(row_index)

            table.refresh_row = spy  # type: ignore[method-assign]
            rollouts[5] = dataclasses.replace(rollouts[5], actual_weight=10)
            table.show(rollouts, NOW)
            key5 = rollouts[5].ref.key
            assert repainted == [table.get_row_index(key5)], "only the changed row is repainted"
            changed = {
                (k.value, c.value)
                for k, row in table._data.items()
                for c, cell in row.items()
                if cell is not before[k.value][c]
            }
            assert changed == {(key5, "weight")}
            assert "10%" in table.get_cell(key5, "weight").plain
            await pilot.pause()
            assert "10%" in "".join(
                seg.text for seg in table.render_line(table.get_row_index(key5) + 1)
            )

    run(scenario())


def test_table_narrowed_to_a_few_rows_and_back_keeps_order_and_cursor() -> None:
    """A filter that leaves 10 of 1,000 rows removes 990 at once (DataTable's
    remove_row re-indexed every row per row: seconds a key) and the table is the
    same as one built with those rows."""

    async def scenario() -> None:
        table = RolloutTable()
        app = Host(table)
        async with app.run_test(size=(120, 40)) as pilot:
            rollouts = [rollout(f"model-{i:04}", age_s=10_000 + i) for i in range(1000)]
            table.show(rollouts, NOW)
            await pilot.pause()
            few = [r for r in rollouts if r.ref.name.startswith("model-042")]
            table.move_cursor(row=table.get_row_index(few[3].ref.key))
            table.show(few, NOW)
            await pilot.pause()
            assert table.row_count == 10
            assert [table.coordinate_to_cell_key((i, 0))[0].value for i in range(10)] == [
                r.ref.key for r in few
            ]
            assert table.selected_key == few[3].ref.key, "the cursor stays on its rollout"
            assert "model-0423" in screen_text(app)
            # Row locations are dense again: index i is the i-th row, both ways.
            assert sorted(table._row_locations.get(k) or 0 for k in table._data) == list(range(10))
            # Widened again (escape): every row back, in order, on screen.
            table.show(rollouts, NOW)
            await pilot.pause()
            assert table.row_count == 1000
            assert table.get_row_index(rollouts[999].ref.key) == 999
            assert table.selected_key == few[3].ref.key
            assert few[3].ref.name in screen_text(app), "scrolled to the cursor's row"

    run(scenario())


def test_table_render_caches_stay_within_their_caps_under_churn() -> None:
    from widgets import rollout_table as rt

    async def scenario() -> None:
        table = RolloutTable()
        app = Host(table)
        async with app.run_test(size=(160, 60)) as pilot:
            rollouts = [rollout(f"model-{i:03}", age_s=100 + i) for i in range(120)]
            for turn in range(40):
                rollouts = [
                    dataclasses.replace(r, set_weight=(turn + i) % 100, actual_weight=turn % 100)
                    for i, r in enumerate(rollouts)
                ]
                table.show(rollouts, NOW + turn)
                await pilot.pause()
            # 40 screens of 59 changed rows x 9 cells were drawn: past every cap.
            assert len(table._cell_lines) <= rt.CELLS_KEPT
            assert len(table._row_lines) <= rt.LINES_KEPT
            assert len(table._cell_render_cache) <= rt.DATATABLE_CELLS_KEPT
            assert len(table._row_render_cache) <= rt.DATATABLE_ROWS_KEPT
            assert len(table._line_cache) <= rt.DATATABLE_ROWS_KEPT
            assert len(table._cell_render_cache) == rt.DATATABLE_CELLS_KEPT, "the cap was reached"
            assert "model-000" in screen_text(app)

    run(scenario())


# --- TrafficBar ------------------------------------------------------------------


def test_traffic_bar_shows_both_percentages_and_set_weight() -> None:
    async def scenario() -> None:
        bar = TrafficBar()
        app = Host(bar)
        async with app.run_test(size=(80, 24)) as pilot:
            bar.show(set_weight=40, actual_weight=30, stable_label="2.12.0", canary_label="2.13.0")
            await pilot.pause()
            text = screen_text(app)
            assert "stable 2.12.0 70%" in text
            assert "canary 2.13.0 30%" in text
            assert "set 40%" in text
            bar.show(set_weight=30, actual_weight=30, stable_label="2.12.0", canary_label=None)
            await pilot.pause()
            assert "no canary" in screen_text(app)

    run(scenario())


def test_traffic_bar_of_a_promoted_rollout_is_all_stable() -> None:
    """A finished rollout keeps setWeight 100 but has no canary: draw it as stable's."""

    async def scenario() -> None:
        bar = TrafficBar()
        app = Host(bar)
        async with app.run_test(size=(40, 24)) as pilot:
            bar.show(set_weight=100, actual_weight=100, stable_label="v3.4.1", canary_label=None)
            await pilot.pause()
            lines = screen_text(app).splitlines()
            assert "stable v3.4.1 100%" in lines[0] and "no canary" in lines[0]
            assert "set 100%" not in lines[0]
            assert lines[1].strip() == STABLE_GLYPH * 40
            assert CANARY_GLYPH not in lines[1]

    run(scenario())


# --- StepTimeline ----------------------------------------------------------------


def test_step_timeline_countdown_wait_pause_and_abort() -> None:
    async def scenario() -> None:
        timeline = StepTimeline()
        app = Host(timeline)
        async with app.run_test(size=(80, 24)) as pilot:
            assert STEPS[1].kind is StepKind.PAUSE
            timeline.show(STEPS, 1, pause_remaining_s=12.4, paused=False, aborted=False)
            await pilot.pause()
            text = screen_text(app)
            assert "pause 30s — 12s left" in text
            assert "▶ pause 30s" in text and "✔ setWeight 10%" in text
            timeline.show(STEPS, 5, pause_remaining_s=None, paused=True, aborted=False)
            await pilot.pause()
            assert "waiting for advance" in screen_text(app)
            timeline.show(STEPS, 2, pause_remaining_s=None, paused=True, aborted=False)
            await pilot.pause()
            assert "paused by operator" in screen_text(app)
            timeline.show(STEPS, 2, pause_remaining_s=None, paused=False, aborted=True)
            await pilot.pause()
            assert "✖ aborted" in screen_text(app)

    run(scenario())


def test_step_timeline_lists_steps_on_a_tall_screen() -> None:
    async def scenario() -> None:
        timeline = StepTimeline()
        app = Host(timeline)
        async with app.run_test(size=(160, 48)) as pilot:
            timeline.show(STEPS, 3, pause_remaining_s=20, paused=False, aborted=False)
            await pilot.pause()
            lines = screen_text(app).splitlines()
            assert "3/7 done ▶ pause 1m — 20s left" in lines[0]
            assert lines[1].strip() == "1 ✔ setWeight 10%"
            assert lines[4].strip() == "4 ▶ pause 1m"
            assert timeline.size.height == len(STEPS) + 1

    run(scenario())


def test_step_timeline_keeps_current_step_visible_at_80_columns() -> None:
    async def scenario() -> None:
        timeline = StepTimeline()
        app = Host(timeline)
        async with app.run_test(size=(40, 10)) as pilot:
            timeline.show(STEPS, 6, pause_remaining_s=None, paused=False, aborted=False)
            await pilot.pause()
            assert "▶ setWeight 100%" in screen_text(app)

    run(scenario())


# --- VersionChartPair ------------------------------------------------------------


def _latency(chart: VersionChartPair, factor: float = 1.0, n: int = 60) -> None:
    metrics = sample_metrics(n)
    canary = metrics.canary
    assert canary is not None
    chart.show(
        [metrics.stable.get(Metric.LATENCY_P50), metrics.stable.get(Metric.LATENCY_P99)],
        [
            canary.get(Metric.LATENCY_P50),
            Series(tuple((t, v * factor) for t, v in canary.get(Metric.LATENCY_P99).points)),
        ],
        labels=("p50", "p99"),
        stable_version="2.12.0",
        canary_version="2.13.0-gpu",
    )


async def _settled(pilot: Any, chart: VersionChartPair) -> None:
    await until(pilot, lambda: not chart.pending, "the chart's build")
    await pilot.pause()


def test_chart_builds_only_when_data_size_or_theme_changes() -> None:
    async def scenario() -> None:
        chart = VersionChartPair("latency", "ms")
        app = Host(chart)
        async with app.run_test(size=(80, 16)) as pilot:
            _latency(chart)
            await _settled(pilot, chart)
            builds = chart.build_count
            assert builds >= 1
            _latency(chart)  # equal data, new objects
            chart.refresh()  # even a forced repaint reuses the cached lines
            await pilot.pause()
            assert chart.build_count == builds and not chart.pending
            _latency(chart, factor=1.5)
            # New data at a known size: built on a worker, the old lines stay meanwhile.
            assert chart.pending
            await _settled(pilot, chart)
            assert chart.build_count == builds + 1
            text = screen_text(app)
            assert "S stable 2.12.0 ⠒⠒p99 ⠂⠂p50" in text
            assert "C canary 2.13.0-gpu ▀▀p99 ▘▘p50" in text
            assert "now" in text and "-5m" in text
            await pilot.resize_terminal(60, 16)
            await _settled(pilot, chart)
            assert chart.build_count == builds + 2  # one build for the new size
            assert all(len(line) == 60 for line in screen_text(app).splitlines())

    run(scenario())


def test_chart_legend_is_shortened_never_cut_mid_word() -> None:
    async def scenario() -> None:
        chart = VersionChartPair("GPU memory", "GiB")
        app = Host(chart)
        async with app.run_test(size=(52, 10)) as pilot:
            _latency(chart)
            await _settled(pilot, chart)
            header = screen_text(app).splitlines()[0]
            assert header.startswith("GPU memory GiB S 2.12.0 ")
            assert "C 2.13.0-gpu" in header
            assert "…" not in header and "stable" not in header

    run(scenario())


def test_chart_shares_y_limits_and_marks_sides_by_glyph() -> None:
    async def scenario() -> None:
        chart = VersionChartPair("p99 latency", "ms")
        app = Host(chart)
        async with app.run_test(size=(80, 12)) as pilot:
            chart.show([wave(60, 40, 5)], [wave(60, 120, 30)], stable_version="a")
            await _settled(pilot, chart)
            lo, hi = chart.ylim
            assert lo <= 0 + 40 - 5 and hi >= 120 + 30
            lines = screen_text(app).splitlines()
            top = lines[1]
            left, right = top[:39], top[41:]
            # The same top tick label on both sides: one shared scale.
            assert left.split("┤")[0].strip() == right.split("┤")[0].strip() != ""
            body = "\n".join(lines[1:])
            assert any(0x2800 < ord(c) <= 0x28FF for c in body)  # stable: braille
            assert any(c in "▀▄▌▐▖▗▘▝▙▛▜▟▚▞█" for c in body)  # canary: blocks

    run(scenario())


def test_chart_notes_and_stale() -> None:
    async def scenario() -> None:
        chart = VersionChartPair("error", "%")
        app = Host(chart)
        async with app.run_test(size=(80, 10)) as pilot:
            chart.show([], None, note="metrics unavailable: connection refused")
            await _settled(pilot, chart)
            assert "metrics unavailable: connection refused" in screen_text(app)
            chart.show([], [])
            await _settled(pilot, chart)
            assert "no data" in screen_text(app)
            chart.show([wave(30, 1, 0.5)], [wave(30, 2, 0.5)], stale_s=42.7)
            await _settled(pilot, chart)
            text = screen_text(app)
            assert "stale 42s" in text and "┤" in text  # stale keeps the data

    run(scenario())


def test_chart_flat_line_does_not_explode() -> None:
    async def scenario() -> None:
        chart = VersionChartPair("error", "%")
        app = Host(chart)
        async with app.run_test(size=(80, 10)) as pilot:
            flat = Series(tuple((NOW + i, 0.0) for i in range(30)))
            chart.show([flat], [flat])
            await _settled(pilot, chart)
            lo, hi = chart.ylim
            assert lo == 0.0 and hi >= 1.0

    run(scenario())


# --- MetricSummary ---------------------------------------------------------------


def test_summary_values_ratio_and_states() -> None:
    async def scenario() -> None:
        summary = MetricSummary(refresh_s=5)
        app = Host(summary)
        async with app.run_test(size=(80, 24)) as pilot:
            summary.show(sample_metrics(), now=NOW + 1)
            await pilot.pause()
            text = screen_text(app)
            for label in ("p50 ms", "p99 ms", "error %", "req/s", "GPU util %", "mem/GPU GiB"):
                assert label in text
            # Per GPU: stable on 4 GPUs and a canary on 1 side by side, not sums.
            gpus = next(line for line in text.splitlines() if line.startswith("GPUs"))
            assert gpus.split()[1:3] == ["4", "1"], gpus
            assert "max/GPU GiB" in text
            assert "▲" in text and "stale" not in text
            summary.show(sample_metrics(), now=NOW + 42)
            await pilot.pause()
            assert "stale 42s" in screen_text(app)
            unavailable = dataclasses.replace(
                sample_metrics(), state=MetricsState.UNAVAILABLE, reason="connection refused"
            )
            summary.show(unavailable, now=NOW)
            await pilot.pause()
            text = screen_text(app)
            assert "metrics unavailable: connection refused" in text
            assert "p99 ms" in text  # the last numbers stay visible under the warning
            empty = dataclasses.replace(
                sample_metrics(0), state=MetricsState.UNAVAILABLE, reason="timeout"
            )
            summary.show(empty, now=NOW)
            await pilot.pause()
            text = screen_text(app)
            assert "metrics unavailable: timeout" in text and "p99 ms" not in text
            summary.show(None, now=NOW)
            await pilot.pause()
            assert "no data" in screen_text(app)

    run(scenario())


@pytest.mark.parametrize(
    ("stable", "canary", "metric", "flagged"),
    [
        (40.0, 96.0, Metric.LATENCY_P99, True),
        (40.0, 46.0, Metric.LATENCY_P99, False),  # +15% latency: within noise
        (6.0, 7.0, Metric.GPU_MEMORY, True),  # +16.7% GPU memory: over the 15% rule
        (6.0, 6.6, Metric.GPU_MEMORY, False),
        (90.0, 30.0, Metric.REQUEST_RATE, False),  # traffic follows weights
        (0.0, 0.5, Metric.ERROR_PCT, True),
        (0.01, 0.03, Metric.ERROR_PCT, False),  # below the 0.1% floor
    ],
)
def test_ratio_flags(stable: float, canary: float, metric: Metric, flagged: bool) -> None:
    from widgets.metric_summary import ROWS

    row = next(row for row in ROWS if row.metric is metric)
    text, worse = ratio_cell(stable, canary, row)
    assert worse is flagged
    assert text.startswith("▲") is flagged


# --- all widgets, all themes, 80x24, NO_COLOR --------------------------------------


@pytest.mark.parametrize("theme", [theme.name for theme in THEMES])
def test_every_widget_renders_in_every_theme_and_switches(theme: str) -> None:
    async def scenario() -> None:
        chart = VersionChartPair("latency", "ms")
        app = Host(chart, theme=theme)
        async with app.run_test(size=(80, 24)) as pilot:
            _latency(chart)
            await pilot.pause()
            await _settled(pilot, chart)
            before = chart.build_count
            app.theme = "rollout-light" if theme != "rollout-light" else "rollout-dark"
            await until(pilot, lambda: chart.build_count > before, "a rebuild")
            await _settled(pilot, chart)
            assert chart.build_count == before + 1  # new colours, one rebuild
            # ... drawn on the new theme's background, not the old one's.
            background = chart.rich_style.bgcolor
            line = chart.render_line(3)
            assert line.cell_length == 80
            assert all(segment.style and segment.style.bgcolor == background for segment in line)

    run(scenario())


def test_rollout_table_tick_moves_age_without_new_data() -> None:
    """AGE moves on its own; before, it moved only when something else changed."""
    from console.demo import ManualClock, make_demo
    from widgets.rollout_table import RolloutTable

    async def scenario() -> None:
        clock = ManualClock(1_767_225_600.0)
        backend, _ = make_demo(clock=clock)
        rollouts = backend.list()
        table = RolloutTable()
        app = Host(table)
        async with app.run_test(size=(160, 24)) as pilot:
            newest = max(rollouts, key=lambda r: r.created_at)
            table.show(rollouts, newest.created_at + 30)
            await pilot.pause()
            before = screen_text(app)
            table.tick(newest.created_at + 3 * 3600)
            await pilot.pause()
            after = screen_text(app)
            assert before != after
            assert "3h" in next(line for line in after.splitlines() if newest.ref.name in line)

    run(scenario())
