"""The simulated cluster: determinism, steps, pauses and weights."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest

from console.demo import DemoCluster, ManualClock, ScaledClock
from console.demo.canary import EVENTS_KEPT, HISTORY_S, SAMPLE_EVERY
from console.demo.simulation import History
from console.model import Action, Phase, Role, Rollout, StepKind

T0 = 1_700_000_000.0


def make(seed: int = 7, extra: int = 0) -> tuple[DemoCluster, ManualClock]:
    clock = ManualClock(T0)
    return DemoCluster(seed, clock, extra), clock


def get(cluster: DemoCluster, name: str) -> Rollout:
    for rollout in cluster.rollouts():
        if rollout.ref.name == name:
            return rollout
    raise AssertionError(f"no rollout {name}")


def as_bytes(history: History | None) -> object:
    """NaN (no value) never equals itself: compare the raw samples instead."""
    if history is None:
        return None
    times, columns = history
    return times.tobytes(), {metric: values.tobytes() for metric, values in columns.items()}


def run_until(
    cluster: DemoCluster,
    clock: ManualClock,
    name: str,
    done: Callable[[Rollout], bool],
    limit_s: int = 3600,
) -> Rollout:
    """Advance one simulated second at a time until done(rollout) holds."""
    for _ in range(limit_s):
        rollout = get(cluster, name)
        if done(rollout):
            return rollout
        clock.advance(1)
    raise AssertionError(f"{name}: condition not met in {limit_s}s")


def test_scenarios_open_mid_story() -> None:
    cluster, _ = make()
    by_name = {r.ref.name: r for r in cluster.rollouts()}
    assert set(by_name) >= {
        "tf-serving",
        "yolo-detector",
        "facefusion",
        "bert-ranker",
        "llm-gateway",
        "whisper-asr",
    }
    namespaces = {r.ref.namespace for r in by_name.values()}
    assert namespaces >= {"ml-serving", "vision", "genai", "recsys"}
    yolo = by_name["yolo-detector"]
    assert yolo.phase is Phase.PAUSED and yolo.pause_remaining_s is not None
    assert yolo.actual_weight > 0 and yolo.canary is not None
    face = by_name["facefusion"]
    assert face.current is not None and face.current.duration_s, "a timed pause"
    llm = by_name["llm-gateway"]
    assert llm.current is not None and llm.current.text == "pause ∞"
    bert = by_name["bert-ranker"]
    assert bert.phase is Phase.HEALTHY and bert.canary is None
    assert bert.current_step == len(bert.steps)
    whisper = by_name["whisper-asr"]
    assert whisper.phase is Phase.DEGRADED and whisper.aborted and whisper.actual_weight == 0
    assert by_name["llm-gateway"].canary is not None
    assert by_name["llm-gateway"].canary.moving_image
    for rollout in by_name.values():
        assert T0 - rollout.created_at >= 60, "ages look real: minutes to days"
        versions = [rollout.stable] + ([rollout.canary] if rollout.canary else [])
        for version in versions:
            assert version.ready <= version.desired == len(version.pods)
            for pod in version.pods:
                assert re.fullmatch(rf"{rollout.ref.name}-[a-z0-9]{{9}}-[a-z0-9]{{5}}", pod)
            if rollout.ref.name == "llm-gateway" and version.role is Role.CANARY:
                continue
            assert not version.moving_image
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", version.images[0].digest)


def test_same_seed_same_story_however_often_polled() -> None:
    a, clock_a = make(seed=7)
    b, clock_b = make(seed=7)
    clock_a.advance(900)
    for _ in range(90):  # b is polled every 10 s, a only once
        clock_b.advance(10)
        b.rollouts()
    assert a.rollouts() == b.rollouts()
    for ref in a.refs():
        assert a.events(ref) == b.events(ref)
        for role in Role:
            assert as_bytes(a.history(ref, role, 0)) == as_bytes(b.history(ref, role, 0))


def test_different_seed_differs() -> None:
    a, _ = make(seed=7)
    b, _ = make(seed=8)
    assert a.rollouts() != b.rollouts()
    ref = a.refs()[0]
    assert as_bytes(a.history(ref, Role.STABLE, 0)) != as_bytes(b.history(ref, Role.STABLE, 0))


def test_extra_rollouts_do_not_change_the_named_stories() -> None:
    a, clock_a = make(extra=0)
    b, clock_b = make(extra=20)
    clock_a.advance(300)
    clock_b.advance(300)
    assert len(b.rollouts()) == len(a.rollouts()) + 20
    assert a.rollouts() == b.rollouts()[: len(a.rollouts())]


def test_timed_pause_counts_down_then_moves_on() -> None:
    cluster, clock = make()
    yolo = get(cluster, "yolo-detector")
    remaining, step = yolo.pause_remaining_s, yolo.current_step
    assert remaining is not None and remaining > 20 and step is not None
    clock.advance(10)
    assert get(cluster, "yolo-detector").pause_remaining_s == remaining - 10
    clock.advance(remaining - 10 + 1)
    after = get(cluster, "yolo-detector")
    assert after.current_step is not None and after.current_step > step
    assert after.steps[step + 1].kind is StepKind.SET_WEIGHT
    assert after.set_weight == after.steps[step + 1].weight


def test_indefinite_pause_waits_for_advance() -> None:
    cluster, clock = make()
    llm = get(cluster, "llm-gateway")
    step = llm.current_step
    clock.advance(3600)
    llm = get(cluster, "llm-gateway")
    assert llm.current_step == step and llm.phase is Phase.PAUSED and not llm.paused, (
        "a pause step is not an operator pause"
    )
    assert llm.pause_remaining_s is None and llm.actual_weight == 20
    result = cluster.act(llm.ref, Action.ADVANCE)
    assert result.before.startswith(f"step {step}/") and "weight 20%" in result.before
    llm = get(cluster, "llm-gateway")
    assert llm.set_weight == 50 and llm.actual_weight == 20, "canary pods load first"
    assert llm.canary is not None and llm.canary.ready < llm.canary.desired
    llm = run_until(cluster, clock, "llm-gateway", lambda r: r.actual_weight == 50, 120)
    assert llm.canary is not None and llm.canary.ready == llm.canary.desired


def test_weights_follow_the_steps_to_full_promotion() -> None:
    cluster, clock = make()
    seen: list[tuple[int, int]] = []
    rollout = get(cluster, "tf-serving")
    old_canary = rollout.canary
    assert old_canary is not None
    for _ in range(1200):
        rollout = get(cluster, "tf-serving")
        if rollout.canary is None:
            break
        if not seen or seen[-1] != (rollout.set_weight, rollout.actual_weight):
            seen.append((rollout.set_weight, rollout.actual_weight))
        assert rollout.actual_weight <= rollout.set_weight
        clock.advance(1)
    step_weights = {s.weight for s in rollout.steps if s.kind is StepKind.SET_WEIGHT}
    actuals = [actual for _, actual in seen]
    assert actuals == sorted(actuals), "a healthy canary only moves up"
    assert set(actuals) <= step_weights
    assert {30, 50, 100} <= set(actuals)
    assert any(s != a for s, a in seen), "actual lags set while canary pods load"
    assert rollout.phase is Phase.HEALTHY and rollout.canary is None
    assert rollout.stable.images == old_canary.images, "the canary became stable"
    assert rollout.current_step == len(rollout.steps)


def test_release_train_starts_a_new_canary_after_promotion() -> None:
    cluster, clock = make()
    run_until(cluster, clock, "tf-serving", lambda r: r.canary is None, 1200)
    rollout = run_until(cluster, clock, "tf-serving", lambda r: r.canary is not None, 1200)
    assert rollout.canary is not None and rollout.canary.display == "2.14.0-gpu"
    assert rollout.current_step == 0


def test_history_and_events_are_bounded() -> None:
    cluster, clock = make()
    clock.advance(2 * HISTORY_S)
    for ref in cluster.refs():
        history = cluster.history(ref, Role.STABLE, 0)
        assert history is not None
        times = history[0]
        assert len(times) <= HISTORY_S / SAMPLE_EVERY
        assert times[-1] - times[0] <= HISTORY_S
        assert len(cluster.events(ref)) <= EVENTS_KEPT


def test_two_hundred_rollouts_tick_cheaply() -> None:
    cluster, clock = make(extra=196)
    assert len(cluster.refs()) == 202
    ticks = 120
    clock.advance(ticks)
    started = time.perf_counter()
    cluster.sync()
    per_tick = (time.perf_counter() - started) / ticks
    print(f"200-rollout tick: {per_tick * 1000:.2f} ms")
    # A sanity guard on a loaded CI box, not a benchmark (typically ~1-2 ms).
    assert per_tick < 0.050


def test_scaled_clock_and_manual_clock() -> None:
    clock = ScaledClock(speed=100.0, start=1000.0)
    time.sleep(0.05)
    assert 1002.0 < clock.now() < 1100.0
    with pytest.raises(ValueError):
        ScaledClock(speed=0)
    manual = ManualClock(5.0)
    manual.advance(2.5)
    assert manual.now() == 7.5
    with pytest.raises(ValueError):
        manual.advance(-1)


def test_same_seed_same_series_whenever_started() -> None:
    a, clock_a = make(seed=7)
    clock_b = ManualClock(T0 + 12_345.0)
    b = DemoCluster(7, clock_b)
    clock_a.advance(300)
    clock_b.advance(300)
    for ref_a, ref_b in zip(a.refs(), b.refs(), strict=True):
        history_a, history_b = a.history(ref_a, Role.STABLE, 0), b.history(ref_b, Role.STABLE, 0)
        assert history_a is not None and history_b is not None
        assert [t - T0 for t in history_a[0]] == [t - T0 - 12_345.0 for t in history_b[0]]
        assert as_bytes((history_a[0][:0], history_a[1])) == as_bytes(
            (history_b[0][:0], history_b[1])
        )
