"""The guard inside the TUI, on the demo with a hand-driven clock (no mocks).

The app's guard worker evaluates every `guard_every_s` real seconds, but only when
the demo clock has moved: the tests move it and poll with deadlines.
"""

from __future__ import annotations

from console.demo_app import frozen_demo_app
from console.guard.verdicts import DecisionKind, GateState
from console.screens.rollout_detail import RolloutDetailScreen
from tests.ui.drive import notifications, open_rollout, rollout_named, until
from widgets.gates_panel import GatesPanel

SIZE = (120, 40)
#: Real seconds between the app's guard evaluations in these tests.
EVERY_S = 0.2


def _key(app: object, name: str) -> str:
    return rollout_named(app, name).ref.key  # type: ignore[arg-type]


async def test_the_guard_pauses_yolo_with_a_toast_that_gives_the_evidence() -> None:
    # No warm-up evaluations: the app's own worker must find and pause the regression.
    app, clock = frozen_demo_app(guard=False, warmup_s=60)
    from console.demo.gates import demo_guard

    app.guard = demo_guard(app.backend, app.metrics_source, clock.now, dry_run=False)  # type: ignore[arg-type]
    app.guard_every_s = EVERY_S
    async with app.run_test(size=SIZE) as pilot:
        yolo = _key(app, "yolo-detector")

        def tick() -> bool:
            # Lockstep: the clock moves one guard interval once the worker has
            # evaluated the current time, however slow the machine.
            status = app.store.guard.get("")
            if status is not None and status.last_evaluation == clock.now():
                clock.advance(5)
            return rollout_named(app, "yolo-detector").paused

        await until(pilot, tick, "the guard to pause yolo-detector", timeout=30)
        await until(
            pilot,
            lambda: any("yolo-detector: paused by the guard" in n for n in notifications(app)),
            "the toast",
            timeout=15,
        )
        toast = next(n for n in notifications(app) if "yolo-detector: paused by the guard" in n)
        # The evidence: each failing gate's canary and stable values, threshold and n.
        assert "p99-vs-stable: canary " in toast and " ms vs stable " in toast
        assert "threshold <= 2x stable" in toast and "n=" in toast
        assert "error-rate: canary " in toast
        after = rollout_named(app, "yolo-detector")
        assert after.paused and not after.aborted, "a pause, never a rollback"
        assert app.store.verdicts[yolo].state is GateState.FAIL
        assert [d.kind for d in app.store.decisions_for(yolo)] == [DecisionKind.PAUSED]
        # The list says it: the verdict column and who paused it.
        table = app.screen.table  # type: ignore[attr-defined]
        await until(pilot, lambda: "✖" in table.get_cell(yolo, "verdict").plain, "✖ on the row")
        await until(pilot, lambda: "guard" in table.get_cell(yolo, "phase").plain, "by guard")
        # Failing rows come first: the aborted whisper-asr and the failing yolo-detector.
        first_two = {table.coordinate_to_cell_key((i, 0)).row_key.value for i in (0, 1)}
        assert first_two == {yolo, _key(app, "whisper-asr")}


async def test_verdict_column_and_gates_panel_in_the_app() -> None:
    app, _ = frozen_demo_app(guard=True)
    async with app.run_test(size=(160, 48)) as pilot:
        table = app.screen.table  # type: ignore[attr-defined]
        cells = {
            name: table.get_cell(_key(app, name), "verdict").plain
            for name in ("yolo-detector", "tf-serving", "facefusion", "llm-gateway", "whisper-asr")
        }
        assert cells["yolo-detector"] == "✖ fail"
        assert cells["whisper-asr"] == "∅ no data", "an aborted canary serves nothing"
        assert cells["llm-gateway"] == "✔ pass"
        assert table.get_cell(_key(app, "bert-ranker"), "verdict").plain == "-", "no canary"
        await open_rollout(pilot, "yolo-detector")
        panel = app.screen.query_one(GatesPanel)
        await until(pilot, lambda: "gates vision" in panel.text, "the gates panel")
        text = panel.text
        for part in ("p99-vs-stable", "p99-compared", "error-rate", "gpu-memory", "✖ FAIL"):
            assert part in text, part
        assert "pauses now" in text and "p=" in text and "guard paused it at" in text
        assert isinstance(app.screen, RolloutDetailScreen)


async def test_read_only_guard_shows_verdicts_and_never_acts() -> None:
    app, clock = frozen_demo_app(read_only=True, guard=True, guard_every_s=5)
    app.guard_every_s = EVERY_S
    async with app.run_test(size=SIZE) as pilot:
        yolo = _key(app, "yolo-detector")
        assert app.guard is not None and app.guard.dry_run
        # The warm-up evaluations already said what it would do.
        kinds = {d.kind for d in app.store.decisions_for(yolo)}
        assert kinds == {DecisionKind.WOULD_PAUSE}
        before = app.backend.list()

        evaluated = app.store.guard[""].last_evaluation

        def tick() -> bool:
            if app.store.guard[""].last_evaluation == clock.now():
                clock.advance(5)
            return app.store.guard[""].last_evaluation != evaluated

        await until(pilot, tick, "another evaluation", timeout=30)
        assert app.store.verdicts[yolo].state is GateState.FAIL
        now = {r.ref.key: r for r in app.backend.list()}
        for r in before:
            assert not now[r.ref.key].paused or r.paused, f"{r.ref.short} paused in read-only"
            assert now[r.ref.key].annotations == r.annotations, "read-only writes nothing"
        assert "dry-run" in str(app.screen.query_one("#status").render())
