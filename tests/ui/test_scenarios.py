"""Each presenter scenario reaches its point in the app, within the simulated time it
promises (console/demo/stories.py), on a hand-driven clock: no mocks, no wall time.

The clock moves one guard interval (5 simulated seconds) each time the app's own guard
worker has evaluated the current time, as `--scenario` runs it at any --speed.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from console.app import RolloutConsoleApp
from console.demo import ManualClock
from console.demo.gates import demo_guard
from console.demo.stories import GUARD_EVERY_S, POINT_S, stories, story
from console.demo_app import T0, frozen_demo_app
from console.guard.verdicts import DecisionKind
from console.model import Rollout
from tests.ui.drive import rollout_named, until

SIZE = (140, 40)
#: Real seconds between the app's guard evaluations in these tests.
EVERY_S = 0.2


def _row(app: RolloutConsoleApp, name: str, column: str) -> str:
    key = rollout_named(app, name).ref.key
    table = app.screen.table  # type: ignore[attr-defined]
    return str(table.get_cell(key, column).plain)


async def _run_to_point(
    scenario: str,
    name: str,
    reached: Callable[[Rollout], bool],
    shown: Callable[[RolloutConsoleApp], bool],
    check: Callable[[RolloutConsoleApp], None],
) -> float:
    """Simulated seconds from the start until the rollout has `reached` the point;
    then, the clock held, the list must show it and `check` looks closer."""
    app, clock = frozen_demo_app(warmup_s=0, scenario=scenario)
    assert isinstance(clock, ManualClock)
    app.guard = demo_guard(app.backend, app.metrics_source, clock.now, dry_run=False)  # type: ignore[arg-type]
    app.guard_every_s = EVERY_S
    promised = story(scenario).point_s
    async with app.run_test(size=SIZE) as pilot:
        assert [r.ref.name for r in app.backend.list()] == [name], "the story, alone"

        def tick() -> bool:
            if reached(rollout_named(app, name)):
                return True
            status = app.store.guard.get("")
            evaluated = status is not None and status.last_evaluation == clock.now()
            # Lockstep with the app's guard; past the promise the test fails, not waits.
            if evaluated and clock.now() - T0 < promised + GUARD_EVERY_S:
                clock.advance(GUARD_EVERY_S)
            return False

        await until(pilot, tick, f"{scenario}: {story(scenario).point}", timeout=60)
        took = clock.now() - T0
        await until(pilot, lambda: shown(app), f"{scenario}: the list to show it", timeout=15)
        check(app)
        await pilot.pause()
    return took


def _paused(rollout: Rollout) -> bool:
    return rollout.paused


async def test_bad_canary_is_paused_by_the_guard() -> None:
    def check(app: RolloutConsoleApp) -> None:
        yolo = rollout_named(app, "yolo-detector")
        assert yolo.paused and not yolo.aborted, "a pause, never a rollback"
        assert [d.kind for d in app.store.decisions_for(yolo.ref.key)] == [DecisionKind.PAUSED]

    def shown(app: RolloutConsoleApp) -> bool:
        return "guard" in _row(app, "yolo-detector", "phase")

    took = await _run_to_point("bad-canary", "yolo-detector", _paused, shown, check)
    assert took <= story("bad-canary").point_s


async def test_gpu_leak_fires_the_gpu_gate() -> None:
    def check(app: RolloutConsoleApp) -> None:
        ff = rollout_named(app, "facefusion")
        (decision,) = app.store.decisions_for(ff.ref.key)
        assert decision.kind is DecisionKind.PAUSED
        # The GPU gate, and only it: latency and errors look fine.
        assert [gate.gate.name for gate in decision.evidence] == ["gpu-memory"]
        assert "gpu-memory: canary " in decision.text and " GiB vs stable " in decision.text

    def shown(app: RolloutConsoleApp) -> bool:
        return "guard" in _row(app, "facefusion", "phase")

    took = await _run_to_point("gpu-leak", "facefusion", _paused, shown, check)
    assert took <= story("gpu-leak").point_s


async def test_healthy_is_promoted_to_100() -> None:
    def promoted(rollout: Rollout) -> bool:
        return rollout.canary is None and rollout.set_weight == 100

    def shown(app: RolloutConsoleApp) -> bool:
        return "100%" in _row(app, "tf-serving", "weight") and "→" not in _row(
            app, "tf-serving", "versions"
        )

    def check(app: RolloutConsoleApp) -> None:
        tf = rollout_named(app, "tf-serving")
        assert tf.set_weight == 100 and tf.stable.images[0].tag == "2.13.0-gpu"
        assert not app.store.decisions_for(tf.ref.key), "nothing for the guard to do"

    took = await _run_to_point("healthy", "tf-serving", promoted, shown, check)
    assert took <= story("healthy").point_s


async def test_latest_tag_is_flagged() -> None:
    def flagged(rollout: Rollout) -> bool:
        return rollout.canary is not None and rollout.canary.images[0].moving

    def shown(app: RolloutConsoleApp) -> bool:
        return "⚠latest" in _row(app, "llm-gateway", "versions")

    def check(app: RolloutConsoleApp) -> None:
        canary = rollout_named(app, "llm-gateway").canary
        assert canary is not None and canary.images[0].moving

    took = await _run_to_point("latest-tag", "llm-gateway", flagged, shown, check)
    assert took > 0, "the story starts with a pinned stable alone: the flag comes with it"
    assert took <= story("latest-tag").point_s


@pytest.mark.parametrize("seed", range(1, 13))
def test_every_scenario_reaches_its_point_in_time_for_any_seed(seed: int) -> None:
    """Without the UI: the same guard on the same story, for more seeds than the app runs."""
    from console.demo import make_demo

    for presented in stories():
        assert presented.point_s <= POINT_S
        clock = ManualClock(T0)
        backend, metrics = make_demo(seed=seed, clock=clock, scenario=presented.name)
        guard = demo_guard(backend, metrics, clock.now, dry_run=False)
        while True:
            guard.evaluate(backend.list())
            (rollout,) = backend.list()
            canary = rollout.canary
            if presented.name in ("bad-canary", "gpu-leak"):
                done = rollout.paused
            elif presented.name == "healthy":
                done = canary is None and rollout.set_weight == 100
            else:
                done = canary is not None and canary.images[0].moving
            if done:
                break
            assert clock.now() - T0 < presented.point_s, f"{presented.name}, seed {seed}"
            clock.advance(GUARD_EVERY_S)
