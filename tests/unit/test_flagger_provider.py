"""Flagger Canary provider (console.kube.flagger): phases, weights, actions, skipAnalysis reset."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from console.kube import flagger, mesh
from console.model import Action, ActionUnavailable, Phase, ProviderKind
from tests.unit.test_mesh_istio import NS, Conflict, FakeApi, deployment_obj

PROVIDER = flagger.FlaggerProvider()


def canary_obj(
    name: str = "podinfo",
    phase: str | None = "Progressing",
    weight: int = 20,
    analysis: Mapping[str, Any] | None = None,
    spec: Mapping[str, Any] | None = None,
    annotations: Mapping[str, str] | None = None,
    rv: str = "5",
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {
            "name": name,
            "namespace": NS,
            "resourceVersion": rv,
            "annotations": dict(annotations or {}),
        },
        "spec": {
            "provider": "istio",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "service": {"port": 9898},
            "analysis": dict(
                analysis or {"interval": "1m", "threshold": 5, "stepWeight": 10, "maxWeight": 50}
            ),
            **dict(spec or {}),
        },
    }
    if phase is not None:
        obj["status"] = {
            "phase": phase,
            "canaryWeight": weight,
            "iterations": 2,
            "failedChecks": 1,
            "conditions": [
                {
                    "type": "Promoted",
                    "status": "Unknown",
                    "reason": "Progressing",
                    "message": "New revision detected, progressing canary analysis.",
                }
            ],
        }
    return obj


def deployments() -> list[dict[str, Any]]:
    return [
        deployment_obj(
            "podinfo-primary", "v1", "ghcr.io/stefanprodan/podinfo:6.5.0", app="podinfo-primary"
        ),
        deployment_obj(
            "podinfo",
            "v2",
            "ghcr.io/stefanprodan/podinfo:6.6.0",
            app="podinfo",
            replicas=2,
            ready=1,
        ),
    ]


def one(obj: dict[str, Any]) -> Any:
    (r,) = PROVIDER.to_rollouts([obj], {mesh.DEPLOYMENTS: deployments(), mesh.PODS: []}, "lab")
    return r


def test_progressing_canary_shows_weight_iterations_and_versions() -> None:
    r = one(canary_obj())
    assert r.provider is ProviderKind.FLAGGER
    assert r.phase is Phase.PROGRESSING
    assert r.message.startswith("Flagger: Progressing - New revision detected")
    assert (r.set_weight, r.actual_weight) == (20, 20)
    assert [s.weight for s in r.steps] == [10, 20, 30, 40, 50]
    assert r.step_label == "2/5"
    assert r.stable.workload == "podinfo-primary" and r.stable.images[0].tag == "6.5.0"
    assert r.canary.workload == "podinfo" and (r.canary.desired, r.canary.ready) == (2, 1)
    extra = dict(r.extra)
    assert extra["iterations"] == "2"
    assert extra["failed checks"] == "1/5"
    assert extra["flagger phase"] == "Progressing"


@pytest.mark.parametrize(
    ("flagger_phase", "phase"),
    [
        ("Initializing", Phase.PROGRESSING),
        ("Initialized", Phase.HEALTHY),
        ("Waiting", Phase.PAUSED),
        ("Progressing", Phase.PROGRESSING),
        ("WaitingPromotion", Phase.PAUSED),
        ("Promoting", Phase.PROGRESSING),
        ("Finalising", Phase.PROGRESSING),
        ("Succeeded", Phase.HEALTHY),
        ("Failed", Phase.DEGRADED),
        ("Terminating", Phase.UNKNOWN),
        ("Terminated", Phase.UNKNOWN),
    ],
)
def test_every_flagger_phase_maps_and_keeps_flaggers_word(flagger_phase: str, phase: Phase) -> None:
    r = one(canary_obj(phase=flagger_phase))
    assert r.phase is phase
    assert f"Flagger: {flagger_phase}" in r.message
    assert r.aborted is (flagger_phase == "Failed")


def test_no_status_and_unknown_phase_are_warnings() -> None:
    r = one(canary_obj(phase=None))
    assert r.phase is Phase.UNKNOWN and r.warnings
    r = one(canary_obj(phase="Exploding"))
    assert r.phase is Phase.UNKNOWN and any("Exploding" in w for w in r.warnings)


def test_step_weights_and_iteration_based_analysis() -> None:
    r = one(
        canary_obj(
            analysis={"interval": "1m", "threshold": 2, "stepWeights": [1, 5, 25, 80]}, weight=5
        )
    )
    assert [s.weight for s in r.steps] == [1, 5, 25, 80]
    assert r.step_label == "2/4"
    ab = one(canary_obj(analysis={"interval": "1m", "threshold": 2, "iterations": 10}, weight=0))
    assert ab.steps == () and dict(ab.extra)["iterations"] == "2/10"
    default_max = one(canary_obj(analysis={"interval": "1m", "threshold": 2, "stepWeight": 30}))
    assert [s.weight for s in default_max.steps] == [30, 60, 90, 100]


def test_suspended_canary_is_paused_and_offers_resume() -> None:
    r = one(canary_obj(spec={"suspend": True}))
    assert r.phase is Phase.PAUSED and r.paused
    assert "suspended" in r.message
    assert r.why_unavailable(Action.RESUME) is None
    assert r.why_unavailable(Action.PAUSE)
    assert "resume" in (r.why_unavailable(Action.PROMOTE_FULL) or "")


def test_unavailable_actions_say_why() -> None:
    r = one(canary_obj())
    assert r.why_unavailable(Action.ROLLBACK) == (
        "Flagger has no manual rollback; it rolls back when analysis fails "
        "(or set spec.suspend and revert the target)"
    )
    assert "advances the canary itself" in (r.why_unavailable(Action.ADVANCE) or "")
    assert r.why_unavailable(Action.RETRY) and r.why_unavailable(Action.UNDO)
    assert r.why_unavailable(Action.PROMOTE_FULL) is None
    assert r.why_unavailable(Action.PAUSE) is None
    done = one(canary_obj(phase="Succeeded", weight=0))
    assert "no canary run" in (done.why_unavailable(Action.PROMOTE_FULL) or "")
    assert done.step_label == "5/5"


def test_pause_and_resume_merge_patch_spec_suspend() -> None:
    obj = canary_obj()
    api = FakeApi(obj)
    PROVIDER.act(api, one(obj), obj, Action.PAUSE)
    assert api.patches == [{"spec": {"suspend": True}}]
    assert api.obj["spec"]["suspend"] is True
    PROVIDER.act(api, one(api.obj), api.obj, Action.RESUME)
    assert api.patches[-1] == {"spec": {"suspend": False}}


def test_promote_sets_skip_analysis_with_the_console_marker() -> None:
    obj = canary_obj()
    api = FakeApi(obj)
    result = PROVIDER.act(api, one(obj), obj, Action.PROMOTE_FULL)
    (patch,) = api.patches
    assert patch["spec"] == {"skipAnalysis": True}
    assert patch["metadata"]["resourceVersion"] == "5"
    assert flagger.SKIP_ANALYSIS_ANNOTATION in patch["metadata"]["annotations"]
    assert "skipAnalysis=true" in result.after


def test_promote_refused_outside_a_run_or_when_already_skipping() -> None:
    for obj in (canary_obj(phase="Succeeded"), canary_obj(spec={"skipAnalysis": True})):
        with pytest.raises(ActionUnavailable):
            PROVIDER.act(FakeApi(obj), one(obj), obj, Action.PROMOTE_FULL)


def test_promote_retries_when_flaggers_status_write_wins_the_race() -> None:
    # Flagger writes status every analysis tick: the resourceVersion read moves on.
    obj = canary_obj()
    obj["status"]["lastAppliedSpec"] = "rev-2"
    api = FakeApi(obj, conflicts=1)
    result = PROVIDER.act(api, one(obj), obj, Action.PROMOTE_FULL)
    first, second = api.patches
    assert first["metadata"]["resourceVersion"] == "5"
    assert second["metadata"]["resourceVersion"] == "6" and second["spec"] == {"skipAnalysis": True}
    assert api.obj["spec"]["skipAnalysis"] is True and "skipAnalysis=true" in result.after


def test_promote_after_a_conflict_refuses_a_new_run_and_gives_up_in_the_end() -> None:
    obj = canary_obj()
    obj["status"]["lastAppliedSpec"] = "rev-2"
    moved = FakeApi(obj, conflicts=1)
    moved.obj["status"]["lastAppliedSpec"] = "rev-3"  # the target changed meanwhile
    with pytest.raises(ActionUnavailable, match="new run"):
        PROVIDER.act(moved, one(obj), obj, Action.PROMOTE_FULL)
    assert len(moved.patches) == 1 and "skipAnalysis" not in moved.obj["spec"]
    busy = FakeApi(obj, conflicts=flagger.PROMOTE_ATTEMPTS)
    with pytest.raises(Conflict):
        PROVIDER.act(busy, one(obj), obj, Action.PROMOTE_FULL)
    assert len(busy.patches) == flagger.PROMOTE_ATTEMPTS


@pytest.mark.parametrize("action", [Action.ADVANCE, Action.ROLLBACK, Action.RETRY, Action.UNDO])
def test_other_actions_raise_unavailable(action: Action) -> None:
    obj = canary_obj()
    with pytest.raises(ActionUnavailable, match="unavailable"):
        PROVIDER.act(FakeApi(obj), one(obj), obj, action)


def test_follow_up_resets_skip_analysis_only_after_the_consoles_promotion_ends() -> None:
    marker = {flagger.SKIP_ANALYSIS_ANNOTATION: "2026-11-23T10:00:00Z"}
    running = canary_obj(spec={"skipAnalysis": True}, annotations=marker)
    assert flagger.follow_up_patch(running) is None
    for end in ("Succeeded", "Failed"):
        done = canary_obj(phase=end, spec={"skipAnalysis": True}, annotations=marker)
        assert flagger.follow_up_patch(done) == {
            "metadata": {
                "resourceVersion": "5",
                "annotations": {flagger.SKIP_ANALYSIS_ANNOTATION: None},
            },
            "spec": {"skipAnalysis": False},
        }
    # skipAnalysis someone keeps in git on purpose: no marker, never touched.
    gitops = canary_obj(phase="Succeeded", spec={"skipAnalysis": True})
    assert flagger.follow_up_patch(gitops) is None
    # Reset by hand already: only the marker is cleaned up.
    by_hand = canary_obj(phase="Progressing", annotations=marker)
    assert flagger.follow_up_patch(by_hand) == {
        "metadata": {
            "resourceVersion": "5",
            "annotations": {flagger.SKIP_ANALYSIS_ANNOTATION: None},
        }
    }


def test_follow_up_applies_and_tolerates_a_conflict() -> None:
    marker = {flagger.SKIP_ANALYSIS_ANNOTATION: "t"}
    done = canary_obj(phase="Succeeded", spec={"skipAnalysis": True}, annotations=marker)
    api = FakeApi(done)
    result = PROVIDER.follow_up(api, one(done), done)
    assert result is not None and "reset" in result.message
    assert api.obj["spec"]["skipAnalysis"] is False
    assert flagger.SKIP_ANALYSIS_ANNOTATION not in api.obj["metadata"]["annotations"]
    assert PROVIDER.follow_up(api, one(api.obj), api.obj) is None  # nothing owed any more
    conflicted = FakeApi(done, conflicts=1)
    assert PROVIDER.follow_up(conflicted, one(done), done) is None


def test_daemonset_target_and_missing_deployments() -> None:
    ds = canary_obj(spec={"targetRef": {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "x"}})
    r = one(ds)
    assert any("DaemonSet" in w for w in r.warnings)
    missing = canary_obj(name="ghost")
    r = one(missing)
    assert any("ghost-primary not found" in w for w in r.warnings)


def test_garbage_never_raises() -> None:
    obj = canary_obj()
    obj["spec"] = "nonsense"
    obj["status"] = ["x"]
    (r,) = PROVIDER.to_rollouts([obj], {}, "lab")
    assert r.phase is Phase.UNKNOWN


def test_an_owed_reset_is_a_visible_warning() -> None:
    marker = {flagger.SKIP_ANALYSIS_ANNOTATION: "t"}
    done = canary_obj(phase="Succeeded", spec={"skipAnalysis": True}, annotations=marker)
    assert any("next release would skip analysis" in w for w in one(done).warnings)
    running = canary_obj(spec={"skipAnalysis": True}, annotations=marker)
    assert one(running).warnings == ()
