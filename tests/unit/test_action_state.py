"""Which keys a rollout can take by its state (console/action_state.py)."""

from __future__ import annotations

from dataclasses import replace

from console.action_state import state_reason, why_not
from console.model import (
    Action,
    Phase,
    ProviderKind,
    Role,
    Rollout,
    RolloutRef,
    Step,
    StepKind,
    VersionInfo,
)

STEPS = (Step(StepKind.SET_WEIGHT, 20), Step(StepKind.PAUSE), Step(StepKind.SET_WEIGHT, 50))
CANARY = Rollout(
    ref=RolloutRef("c", "ns", "app"),
    provider=ProviderKind.ARGO,
    phase=Phase.PROGRESSING,
    stable=VersionInfo(Role.STABLE, label="v1"),
    canary=VersionInfo(Role.CANARY, label="v2"),
    steps=STEPS,
    current_step=1,
    set_weight=20,
)


def can(rollout: Rollout) -> set[Action]:
    return {a for a in Action if state_reason(rollout, a) is None}


def test_a_progressing_canary_takes_every_key_but_resume_and_retry() -> None:
    assert can(CANARY) == {
        Action.ADVANCE,
        Action.PROMOTE_FULL,
        Action.PAUSE,
        Action.ROLLBACK,
        Action.UNDO,
    }


def test_resume_only_when_paused_and_pause_not_twice() -> None:
    paused = replace(CANARY, paused=True, phase=Phase.PAUSED)
    assert Action.RESUME in can(paused)
    assert state_reason(paused, Action.PAUSE) == "already paused"


def test_retry_only_when_aborted_and_nothing_moves_forward_before() -> None:
    aborted = replace(CANARY, aborted=True, phase=Phase.DEGRADED, set_weight=0)
    assert can(aborted) == {Action.RETRY, Action.UNDO}
    assert state_reason(aborted, Action.ROLLBACK) == "already aborted"


def test_a_fully_promoted_rollout_has_nothing_to_advance_pause_or_roll_back() -> None:
    healthy = replace(CANARY, canary=None, phase=Phase.HEALTHY, current_step=3, set_weight=100)
    assert can(healthy) == {Action.UNDO}
    assert state_reason(healthy, Action.ADVANCE) == "fully promoted, no canary"


def test_flagger_may_suspend_an_idle_canary() -> None:
    idle = replace(CANARY, provider=ProviderKind.FLAGGER, canary=None, phase=Phase.HEALTHY)
    assert state_reason(idle, Action.PAUSE) is None


def test_all_steps_done_means_promoting_unless_held() -> None:
    done = replace(CANARY, current_step=3)
    assert state_reason(done, Action.ADVANCE) == "all steps done, promoting"
    assert state_reason(replace(done, paused=True), Action.PROMOTE_FULL) is None


def test_the_backends_reason_comes_first() -> None:
    rbac = replace(CANARY, unavailable=((Action.PAUSE, "forbidden: patch rollouts"),))
    assert why_not(rbac, Action.PAUSE) == "forbidden: patch rollouts"
    assert why_not(CANARY, Action.PAUSE) is None
