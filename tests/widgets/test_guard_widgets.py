"""The guard's widgets in tiny host apps: the verdict column, the gates panel."""

from __future__ import annotations

import dataclasses

from rich.text import Text

from console.guard.verdicts import Decision, DecisionKind, GateState, Verdict
from console.model import Phase, Step, StepKind
from tests.widgets.data import NOW, STEPS, rollout, sample_rollouts, sample_verdict
from tests.widgets.test_widgets import Host, no_color, run, screen_text
from widgets.gates_panel import GatesPanel
from widgets.rollout_table import RolloutTable, pause_text


def _verdicts(states: dict[str, GateState]) -> dict[str, Verdict]:
    out = {}
    for r in sample_rollouts():
        if r.ref.name in states:
            out[r.ref.key] = Verdict(r.ref, states[r.ref.name], at=NOW)
    return out


def test_verdict_column_reads_without_colour_wide_and_narrow() -> None:
    rollouts = sample_rollouts()
    names = [r.ref.name for r in rollouts]
    # The last one (fully promoted, no canary) gets no verdict.
    states = dict(zip(names, (GateState.FAIL, GateState.PASS, GateState.STALE), strict=False))

    async def scenario(width: int) -> str:
        table = RolloutTable()
        with no_color():
            app = Host(table)
        async with app.run_test(size=(width, 24)) as pilot:
            table.show(rollouts, NOW, verdicts=_verdicts(states))
            await pilot.pause()
            return screen_text(app)

    wide = run(scenario(160))
    assert "GATES" in wide
    for name, expected in ((names[0], "✖ fail"), (names[1], "✔ pass"), (names[2], "stale")):
        line = next(line for line in wide.splitlines() if name in line)
        assert expected in line, line
    # No verdict (no guard, or no canary): a dash, not a blank that reads as "fine".
    last = next(line for line in wide.splitlines() if names[-1] in line)
    assert " - " in last, last

    narrow = run(scenario(80))
    lines = narrow.splitlines()
    assert all(len(line.rstrip()) <= 80 for line in lines)
    line = next(line for line in lines if names[0] in line)
    assert "✖" in line and "fail" not in line, line


def test_verdict_change_updates_only_that_cell() -> None:
    async def scenario() -> None:
        table = RolloutTable()
        app = Host(table)
        async with app.run_test(size=(120, 24)) as pilot:
            rollouts = sample_rollouts()
            first = rollouts[0]
            table.show(rollouts, NOW, verdicts=_verdicts({first.ref.name: GateState.PASS}))
            await pilot.pause()
            before = table.get_cell(rollouts[1].ref.key, "phase")
            table.show(rollouts, NOW, verdicts=_verdicts({first.ref.name: GateState.FAIL}))
            await pilot.pause()
            assert "✖" in table.get_cell(first.ref.key, "verdict").plain
            assert table.get_cell(rollouts[1].ref.key, "phase") is before
            assert "✖" in screen_text(app)

    run(scenario())


def test_timed_pause_and_human_pause_look_different() -> None:
    timed = rollout("a", phase=Phase.PAUSED, current_step=1)
    timed = dataclasses.replace(timed, pause_remaining_s=45)
    waiting = rollout("b", phase=Phase.PAUSED, current_step=5)  # STEPS[5] has no duration
    operator = rollout("c", phase=Phase.PAUSED, paused=True)
    guard = dataclasses.replace(
        operator, annotations=(("rollout-console.io/guard-paused-at", "2026-01-01T00:00:00Z"),)
    )
    assert STEPS[1].duration_s and STEPS[5] == Step(StepKind.PAUSE)
    assert pause_text(timed, narrow=True) == "45s"
    assert pause_text(timed) == "Paused 45s"
    assert pause_text(waiting, narrow=True) == "waiting"
    assert pause_text(waiting) == "Paused, waiting"
    assert pause_text(operator) == "Paused"
    assert pause_text(guard) == "Paused by guard"
    assert pause_text(guard, narrow=True) == "guard"


def test_gates_panel_shows_every_figure_wide() -> None:
    async def scenario() -> str:
        panel = GatesPanel()
        with no_color():
            app = Host(panel)
        async with app.run_test(size=(160, 24)) as pilot:
            panel.show(sample_verdict(), now=NOW + 4)
            await pilot.pause()
            return screen_text(app)

    text = run(scenario())
    lines = text.splitlines()
    assert "gates default  ✖ FAIL  evaluated 4s ago" in text
    header = next(line for line in lines if "C canary" in line)
    for title in ("gate", "S stable", "bound", "n", "effect", "p", "breaches", "state"):
        assert title in header
    p99 = next(line for line in lines if line.strip().startswith("p99-latency"))
    for part in ("95 ms", "40 ms", "< 50 ms", "60", "3/5 pauses now", "✖ FAIL"):
        assert part in p99, (part, p99)
    errors = next(line for line in lines if line.strip().startswith("error-rate"))
    assert "2/5 pauses in ≤ 1" in errors and "1.5 %" in errors
    gpu = next(line for line in lines if line.strip().startswith("gpu-memory"))
    assert "<= 1.15x stable" in gpu and "critical" in gpu and "✔ PASS" in gpu
    compared = next(line for line in lines if line.strip().startswith("p50-vs-stable"))
    assert "1.17\u00d7" in compared and "p=0.034" in compared and "? INCONCLUSIVE" in compared
    drift = next(line for line in lines if line.strip().startswith("drift"))
    assert "2/3" in drift and "∅ NO DATA" in drift
    assert "2 of 3 points needed" in text  # the reason of a gate that did not pass


def test_gates_panel_narrow_fits_80_columns_and_keeps_the_figures() -> None:
    async def scenario() -> str:
        panel = GatesPanel()
        with no_color():
            app = Host(panel)
        async with app.run_test(size=(80, 30)) as pilot:
            panel.show(sample_verdict(), now=NOW)
            await pilot.pause()
            return screen_text(app)

    text = run(scenario())
    assert all(len(line.rstrip()) <= 80 for line in text.splitlines())
    for part in ("✖ FAIL", "p99-latency", "C 95 ms", "S 40 ms", "< 50 ms", "3/5 pauses now"):
        assert part in text, part
    assert "effect 1.17\u00d7" in text and "p=0.034" in text and "n 2/3" in text


def test_gates_panel_decision_text_is_not_markup_and_states_without_verdict() -> None:
    async def scenario() -> tuple[str, str, str]:
        panel = GatesPanel()
        app = Host(panel)
        async with app.run_test(size=(120, 20)) as pilot:
            panel.show(None, now=NOW, enabled=False)
            await pilot.pause()
            off = screen_text(app)
            panel.show(None, now=NOW)
            await pilot.pause()
            waiting = screen_text(app)
            verdict = sample_verdict()
            decision = Decision(
                verdict.ref,
                DecisionKind.PAUSED,
                NOW - 5,
                "paused: error-rate [bold]1.5 %[/bold] not < 0.1 %",
                verdict.breached,
            )
            panel.show(verdict, now=NOW, decision=decision, extra=[Text("analysis: none")])
            await pilot.pause()
            return off, waiting, screen_text(app)

    off, waiting, shown = run(scenario())
    assert "no guard runs" in off
    assert "no verdict yet" in waiting
    assert "guard paused it at" in shown and "(5s ago)" in shown
    assert "[bold]1.5 %[/bold]" in shown  # untrusted text drawn as is
    assert "analysis: none" in shown


def test_analysis_block_uses_the_plugin_symbols_and_says_auto_abort() -> None:
    from console.model import AnalysisInfo, AnalysisMetric
    from console.screens.rollout_detail import analysis_lines

    run_ = AnalysisInfo(
        "yolo-detector-7c9-3",
        "Running",
        "step",
        metrics=(
            AnalysisMetric("error-rate", "Failed", 2, 1, 0, 1, "0.031", "result[0] < 0.01"),
            AnalysisMetric("latency", "Running", 3, last_value="0.105", dry_run=True),
        ),
    )
    r = dataclasses.replace(
        rollout("yolo"), analysis=(run_,), auto_rollback="controller auto-abort armed: error-rate"
    )
    text = "\n".join(line.plain for line in analysis_lines(r))
    assert "AnalysisRun yolo-detector-7c9-3  Running  (step)" in text
    assert "error-rate" in text and "✔ 2,✖ 1,⚠ 1" in text and "last 0.031" in text
    assert "result[0] < 0.01" in text and "dry-run" in text
    assert "controller auto-abort armed: error-rate" in text
