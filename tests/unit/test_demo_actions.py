"""Operator actions on the simulated cluster: what they do, and clear refusals."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from console.demo import DemoCluster, ManualClock
from console.model import (
    Action,
    ActionError,
    ActionUnavailable,
    Phase,
    Rollout,
    RolloutRef,
)

T0 = 1_700_000_000.0


@pytest.fixture
def demo() -> tuple[DemoCluster, ManualClock]:
    clock = ManualClock(T0)
    return DemoCluster(7, clock), clock


def get(cluster: DemoCluster, name: str) -> Rollout:
    return next(r for r in cluster.rollouts() if r.ref.name == name)


def ref(cluster: DemoCluster, name: str) -> RolloutRef:
    return get(cluster, name).ref


def run_until(
    cluster: DemoCluster,
    clock: ManualClock,
    name: str,
    done: Callable[[Rollout], bool],
    limit_s: int = 600,
) -> Rollout:
    for _ in range(limit_s):
        rollout = get(cluster, name)
        if done(rollout):
            return rollout
        clock.advance(1)
    raise AssertionError(f"{name}: condition not met in {limit_s}s")


def test_pause_freezes_weight_and_countdown(demo: tuple[DemoCluster, ManualClock]) -> None:
    cluster, clock = demo
    before = get(cluster, "yolo-detector")
    result = cluster.act(before.ref, Action.PAUSE)
    assert result.action is Action.PAUSE and "weight 20%" in result.message
    assert result.after.endswith("paused")
    clock.advance(1800)
    frozen = get(cluster, "yolo-detector")
    assert frozen.phase is Phase.PAUSED and frozen.paused
    assert frozen.message == "Paused by an operator"
    assert frozen.pause_remaining_s == before.pause_remaining_s
    assert (frozen.current_step, frozen.set_weight, frozen.actual_weight) == (
        before.current_step,
        before.set_weight,
        before.actual_weight,
    )
    cluster.act(frozen.ref, Action.RESUME)
    clock.advance(10)
    resumed = get(cluster, "yolo-detector")
    assert before.pause_remaining_s is not None
    assert resumed.pause_remaining_s == before.pause_remaining_s - 10
    assert resumed.actual_weight == before.actual_weight


def test_pause_mid_shift_freezes_actual_weight_and_resume_continues(
    demo: tuple[DemoCluster, ManualClock],
) -> None:
    cluster, clock = demo
    yolo = ref(cluster, "yolo-detector")
    cluster.act(yolo, Action.ADVANCE)  # skip the pause: setWeight 40
    shifting = get(cluster, "yolo-detector")
    assert (shifting.set_weight, shifting.actual_weight) == (40, 20)
    cluster.act(yolo, Action.PAUSE)
    clock.advance(600)
    frozen = get(cluster, "yolo-detector")
    assert (frozen.set_weight, frozen.actual_weight) == (40, 20)
    cluster.act(yolo, Action.RESUME)
    assert get(cluster, "yolo-detector").actual_weight == 20, "resume starts from frozen weight"
    clock.advance(2)  # the pods loaded meanwhile: traffic follows at once
    assert get(cluster, "yolo-detector").actual_weight == 40


def test_advance_skips_a_timed_pause(demo: tuple[DemoCluster, ManualClock]) -> None:
    cluster, _ = demo
    before = get(cluster, "yolo-detector")
    assert before.current_step is not None
    result = cluster.act(before.ref, Action.ADVANCE)
    after = get(cluster, "yolo-detector")
    assert after.current_step == before.current_step + 1
    assert after.set_weight == 40
    assert result.before != result.after
    assert result.message.startswith("Advanced yolo-detector")


def test_rollback_aborts_to_stable_and_retry_restarts(
    demo: tuple[DemoCluster, ManualClock],
) -> None:
    cluster, clock = demo
    yolo = ref(cluster, "yolo-detector")
    result = cluster.act(yolo, Action.ROLLBACK)
    assert "weight 0%" in result.after and "aborted" in result.after
    clock.advance(600)
    aborted = get(cluster, "yolo-detector")
    assert aborted.phase is Phase.DEGRADED and aborted.aborted
    assert aborted.set_weight == aborted.actual_weight == 0
    assert aborted.message == "Rollout aborted update to revision 3"
    assert aborted.status_text == "Degraded (aborted)"
    assert aborted.canary is not None and aborted.canary.ready > 0, "canary kept for debugging"
    with pytest.raises(ActionError, match="already aborted"):
        cluster.act(yolo, Action.ROLLBACK)
    with pytest.raises(ActionError, match="retry it before advancing"):
        cluster.act(yolo, Action.ADVANCE)
    cluster.act(yolo, Action.RETRY)
    retried = get(cluster, "yolo-detector")
    assert not retried.aborted and retried.current_step == 0 and retried.set_weight == 10
    assert retried.phase is Phase.PROGRESSING


def test_promote_full_then_undo(demo: tuple[DemoCluster, ManualClock]) -> None:
    cluster, clock = demo
    yolo = ref(cluster, "yolo-detector")
    cluster.act(yolo, Action.PROMOTE_FULL)
    promoting = get(cluster, "yolo-detector")
    assert promoting.set_weight == 100 and promoting.current_step == len(promoting.steps)
    done = run_until(cluster, clock, "yolo-detector", lambda r: r.phase is Phase.HEALTHY)
    assert done.canary is None and done.stable.display == "v9.0.0"
    with pytest.raises(ActionError, match="fully promoted"):
        cluster.act(yolo, Action.ADVANCE)
    with pytest.raises(ActionError, match="no canary to roll back"):
        cluster.act(yolo, Action.ROLLBACK)
    result = cluster.act(yolo, Action.UNDO)
    assert "v8.2.0" in result.message
    undoing = get(cluster, "yolo-detector")
    assert undoing.canary is not None and undoing.canary.display == "v8.2.0"
    assert undoing.current_step == 0 and undoing.canary.revision == "4"


def test_undo_mid_canary_goes_straight_back(demo: tuple[DemoCluster, ManualClock]) -> None:
    cluster, _ = demo
    cluster.act(ref(cluster, "facefusion"), Action.UNDO)
    face = get(cluster, "facefusion")
    assert face.phase is Phase.HEALTHY and face.canary is None
    assert face.stable.display == "v3.1.0"


@pytest.mark.parametrize(
    ("name", "action", "words"),
    [
        ("bert-ranker", Action.ADVANCE, "fully promoted"),
        ("bert-ranker", Action.PAUSE, "fully promoted"),
        ("bert-ranker", Action.RETRY, "not aborted"),
        ("whisper-asr", Action.PAUSE, "aborted"),
    ],
)
def test_inapplicable_actions_say_why_in_one_sentence(
    demo: tuple[DemoCluster, ManualClock], name: str, action: Action, words: str
) -> None:
    cluster, _ = demo
    before = get(cluster, name)
    with pytest.raises(ActionError) as caught:
        cluster.act(before.ref, action)
    text = str(caught.value)
    assert words in text and text.startswith(name) and text.endswith(".")
    assert text.count(". ") == 0, "one sentence"
    assert caught.value.action is action and caught.value.ref == before.ref
    assert get(cluster, name) == before, "a refused action changes nothing"


@pytest.mark.parametrize(
    ("name", "action", "words"),
    [
        ("yolo-detector", Action.RESUME, "is not paused."),
        ("llm-gateway", Action.RESUME, "advance it to continue."),
    ],
)
def test_resuming_what_runs_is_harmless_and_says_so(
    demo: tuple[DemoCluster, ManualClock], name: str, action: Action, words: str
) -> None:
    """Repeated pause or resume is idempotent (runbooks retry): no error, no change."""
    cluster, _ = demo
    before = get(cluster, name)
    result = cluster.act(before.ref, action)
    assert words in result.message and result.message.startswith(name)
    assert result.before == result.after
    assert get(cluster, name) == before


def test_pause_twice_is_harmless_and_undo_without_history_is_refused(
    demo: tuple[DemoCluster, ManualClock],
) -> None:
    cluster, _ = demo
    yolo = ref(cluster, "yolo-detector")
    cluster.act(yolo, Action.PAUSE)
    paused = get(cluster, "yolo-detector")
    assert "already paused" in cluster.act(yolo, Action.PAUSE).message
    assert get(cluster, "yolo-detector") == paused
    cluster.act(yolo, Action.UNDO)  # back to v8.2.0, nothing before it is known
    with pytest.raises(ActionUnavailable, match="no previous revision"):
        cluster.act(yolo, Action.UNDO)


def test_unknown_rollout_is_an_action_error(demo: tuple[DemoCluster, ManualClock]) -> None:
    cluster, _ = demo
    with pytest.raises(ActionError, match="not a rollout of the demo cluster"):
        cluster.act(RolloutRef("demo", "nope", "ghost"), Action.PAUSE)


def test_actions_are_in_the_event_log(demo: tuple[DemoCluster, ManualClock]) -> None:
    cluster, clock = demo
    yolo = ref(cluster, "yolo-detector")
    clock.advance(5)
    cluster.act(yolo, Action.PAUSE)
    when, text = cluster.events(yolo)[-1]
    assert when == T0 + 5
    assert text.startswith("operator: pause") and "weight 20%" in text


def test_an_advance_from_a_step_the_rollout_has_left_is_refused(
    demo: tuple[DemoCluster, ManualClock],
) -> None:
    from console.model import Seen

    cluster, _ = demo
    shown = get(cluster, "yolo-detector")
    seen = Seen.of(shown)
    cluster.act(shown.ref, Action.ADVANCE, seen=seen)  # the first click
    moved = get(cluster, "yolo-detector")
    assert moved.current_step == (shown.current_step or 0) + 1
    with pytest.raises(ActionError, match=r"already at step .* press again"):
        cluster.act(shown.ref, Action.ADVANCE, seen=seen)  # a second click, same view
    assert get(cluster, "yolo-detector") == moved
    cluster.act(shown.ref, Action.ADVANCE, seen=Seen.of(moved))  # pressed again: goes on
    assert get(cluster, "yolo-detector").current_step == (moved.current_step or 0) + 1
