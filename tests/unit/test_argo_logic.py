"""Pure Argo logic on hand-written object dicts: phase, steps, weights, versions, patches.

Expected values follow argo-rollouts v1.10.1 (rolloututil.GetRolloutPhase,
info.NewRolloutInfo, replicasetutil.GetCurrentSetWeight, cmd/promote getPatches,
cmd/undo), the controller the lab runs.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from console.kube import argo
from console.kube.argo import (
    PODS,
    REPLICASETS,
    ArgoProvider,
    current_set_weight,
    parse_duration,
    promote_patches,
    rollout_phase,
    undo_patch,
    undo_target,
)
from console.model import Action, Phase, ProviderKind, StepKind

STEPS = [
    {"setWeight": 10},
    {"pause": {"duration": "30s"}},
    {"setWeight": 30},
    {"pause": {}},
    {"setWeight": 60},
    {"pause": {"duration": "1m30s"}},
]


def rollout(**status: Any) -> dict[str, Any]:
    """tf-serving at the indefinite pause (step 3), canary at 30 %, Istio routing."""
    base_status: dict[str, Any] = {
        "observedGeneration": "2",
        "phase": "Paused",
        "message": "CanaryPauseStep",
        "currentStepIndex": 3,
        "stableRS": "aaa111",
        "currentPodHash": "bbb222",
        "replicas": 5,
        "readyReplicas": 5,
        "updatedReplicas": 2,
        "availableReplicas": 5,
        "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": "2026-01-01T00:00:00Z"}],
        "controllerPause": True,
        "canary": {"weights": {"canary": {"weight": 30}, "stable": {"weight": 70}}},
    }
    base_status.update(status)
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {
            "name": "tf-serving",
            "namespace": "ml",
            "uid": "ro-uid",
            "generation": 2,
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": {
            "replicas": 4,
            "selector": {"matchLabels": {"app": "tf-serving"}},
            "template": {
                "metadata": {"labels": {"app": "tf-serving", "version": "v2"}},
                "spec": {"containers": [{"name": "s", "image": "tensorflow/serving:2.13.0-gpu"}]},
            },
            "strategy": {
                "canary": {
                    "trafficRouting": {"istio": {"virtualService": {"name": "tf-serving"}}},
                    "steps": copy.deepcopy(STEPS),
                }
            },
        },
        "status": base_status,
    }


def replicaset(
    hash_: str, revision: int, image: str, replicas: int, ready: int, *, version: str = "v1"
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"tf-serving-{hash_}",
            "namespace": "ml",
            "uid": f"rs-{hash_}",
            "labels": {"app": "tf-serving", argo.HASH_LABEL: hash_},
            "annotations": {argo.REVISION_ANNOTATION: str(revision)},
            "ownerReferences": [
                {"kind": "Rollout", "name": "tf-serving", "uid": "ro-uid", "controller": True}
            ],
        },
        "spec": {
            "replicas": replicas,
            "template": {
                "metadata": {
                    "labels": {"app": "tf-serving", "version": version, argo.HASH_LABEL: hash_}
                },
                "spec": {"containers": [{"name": "s", "image": image}]},
            },
        },
        "status": {"replicas": replicas, "readyReplicas": ready, "availableReplicas": ready},
    }


def pod(name: str, rs_hash: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "ml",
            "labels": {argo.HASH_LABEL: rs_hash},
            "ownerReferences": [
                {"kind": "ReplicaSet", "name": f"tf-serving-{rs_hash}", "uid": f"rs-{rs_hash}"}
            ],
        }
    }


STABLE_RS = replicaset("aaa111", 1, "tensorflow/serving:2.12.0@sha256:feed", 4, 4)
CANARY_RS = replicaset("bbb222", 2, "tensorflow/serving:2.13.0-gpu", 2, 1, version="v2")
PODS_ = [pod("s-1", "aaa111"), pod("s-2", "aaa111"), pod("c-1", "bbb222")]


def convert(ro: dict[str, Any], rss: list[dict[str, Any]] | None = None) -> Any:
    related = {REPLICASETS: [STABLE_RS, CANARY_RS] if rss is None else rss, PODS: PODS_}
    [out] = ArgoProvider().to_rollouts([ro], related, "lab")
    return out


# --- phase -----------------------------------------------------------------------------------


def test_phase_from_status_when_generation_observed() -> None:
    assert rollout_phase(rollout()) == ("Paused", "CanaryPauseStep")


def test_phase_waits_for_generation_to_be_observed() -> None:
    assert rollout_phase(rollout(observedGeneration="1")) == (
        "Progressing",
        "waiting for rollout spec update to be observed",
    )


def test_non_numeric_observed_generation_counts_as_observed() -> None:
    # v0.9 stored a hash there: Atoi fails and the plugin moves on.
    assert rollout_phase(rollout(observedGeneration="7f9c8d"))[0] == "Paused"


def test_controller_pause_without_pause_conditions_is_unpausing() -> None:
    assert rollout_phase(rollout(pauseConditions=None)) == (
        "Progressing",
        "waiting for rollout to unpause",
    )


def test_fallback_to_client_side_calculation_without_status_phase() -> None:
    ro = rollout(phase=None, message=None, controllerPause=False, pauseConditions=None)
    assert rollout_phase(ro) == ("Progressing", "more replicas need to be updated")
    ro["spec"]["paused"] = True
    assert rollout_phase(ro) == ("Paused", "manually paused")
    ro = rollout(phase=None, controllerPause=False, pauseConditions=None)
    ro["status"]["conditions"] = [
        {"type": "Progressing", "reason": "RolloutAborted", "message": "aborted by user"}
    ]
    assert rollout_phase(ro) == ("Degraded", "RolloutAborted: aborted by user")


def test_healthy_calculation() -> None:
    ro = rollout(
        phase=None,
        controllerPause=False,
        pauseConditions=None,
        currentPodHash="aaa111",
        updatedReplicas=4,
        availableReplicas=4,
        replicas=4,
    )
    assert rollout_phase(ro) == ("Healthy", "")


# --- steps and weights ---------------------------------------------------------------------


def test_durations() -> None:
    assert parse_duration("30s") == 30
    assert parse_duration("1m30s") == 90
    assert parse_duration("1h") == 3600
    assert parse_duration(45) == 45
    assert parse_duration("45") == 45
    assert parse_duration("soon") is None


def test_set_weight_walks_back_to_last_set_weight_step() -> None:
    assert current_set_weight(rollout(currentStepIndex=3)) == 30
    assert current_set_weight(rollout(currentStepIndex=0)) == 10
    assert current_set_weight(rollout(currentStepIndex=6)) == 100  # done: MaxTrafficWeight
    assert current_set_weight(rollout(currentStepIndex=3, abort=True)) == 0
    ro = rollout(currentStepIndex=0)
    ro["spec"]["strategy"]["canary"]["steps"][0] = {"pause": {}}
    assert current_set_weight(ro) == 0  # no setWeight at or before the step


def test_rollout_model_mid_canary() -> None:
    r = convert(rollout())
    assert r.provider is ProviderKind.ARGO
    assert r.phase is Phase.PAUSED
    assert r.message == "CanaryPauseStep"
    assert not r.paused and not r.aborted, "a pause step is not an operator pause"
    assert r.current_step == 3 and len(r.steps) == 6
    assert r.steps[1].kind is StepKind.PAUSE and r.steps[1].duration_s == 30
    assert r.steps[3].duration_s is None
    assert r.set_weight == 30
    assert r.actual_weight == 30  # status.canary.weights with traffic routing
    assert r.stable.pod_hash == "aaa111" and r.stable.workload == "tf-serving-aaa111"
    assert r.stable.images[0].tag == "2.12.0" and r.stable.images[0].digest == "sha256:feed"
    assert r.stable.desired == 4 and r.stable.ready == 4
    assert r.stable.pods == ("s-1", "s-2")
    assert r.stable.revision == "1"
    assert r.canary is not None
    assert r.canary.pod_hash == "bbb222" and r.canary.revision == "2"
    assert r.canary.images[0].tag == "2.13.0-gpu"
    assert r.canary.pods == ("c-1",)
    assert r.warnings == ()
    assert r.replicas is not None and r.replicas.ready == 5  # typed, not in `extra`
    assert "ready" not in dict(r.extra)


def test_actual_weight_without_traffic_routing_uses_canary_rs_availability() -> None:
    ro = rollout()
    del ro["spec"]["strategy"]["canary"]["trafficRouting"]
    # canary RS has 1 available of 5 available in total: (1 * 100) / 5
    assert convert(ro).actual_weight == 20


def test_actual_weight_with_routing_but_no_weights_is_set_weight() -> None:
    assert convert(rollout(canary={})).actual_weight == 30
    assert convert(rollout(availableReplicas=0)).actual_weight == 0
    assert convert(rollout(currentStepIndex=6)).actual_weight == 100


def test_aborted() -> None:
    r = convert(rollout(abort=True, phase="Degraded", message="RolloutAborted: x"))
    assert r.aborted and r.phase is Phase.DEGRADED and r.set_weight == 0


# --- malformed objects ---------------------------------------------------------------------


def test_no_status_renders_unknown_with_warning() -> None:
    ro = rollout()
    del ro["status"]
    r = convert(ro, rss=[])
    assert r.phase is Phase.UNKNOWN
    assert any("no status" in w for w in r.warnings)
    assert r.stable.images[0].tag == "2.13.0-gpu"  # what the template asks for


def test_unknown_and_empty_steps_render_with_warnings() -> None:
    ro = rollout(currentStepIndex=1)
    ro["spec"]["strategy"]["canary"]["steps"] = [
        {"setWeight": 10},
        {},
        {"teleport": {"to": "prod"}},
        {"setWeight": "lots"},
    ]
    r = convert(ro)
    assert [s.kind for s in r.steps] == [StepKind.SET_WEIGHT] + [StepKind.UNKNOWN] * 3
    assert len(r.warnings) == 3
    assert "teleport" in r.warnings[1]


def test_garbage_never_raises() -> None:
    provider = ArgoProvider()
    weird: list[Any] = [
        {"metadata": {"name": "x", "namespace": "n"}, "spec": "nope", "status": []},
        {
            "metadata": {"name": "y", "namespace": "n"},
            "spec": {"strategy": {"canary": {"steps": "many"}}},
            "status": {"currentStepIndex": "two"},
        },
        {
            "metadata": {"name": "z", "namespace": "n"},
            "status": {"currentStepIndex": 99},
            "spec": {"strategy": {"canary": {"steps": [{"setWeight": 5}]}}},
        },
    ]
    out = provider.to_rollouts(weird, {}, "lab")
    assert len(out) == 3
    assert all(r.warnings for r in out)


# --- promote patches (cmd/promote getPatches) ------------------------------------------------


def test_promote_at_pause_step_clears_pause_conditions_only() -> None:
    spec, status, _ = promote_patches(rollout(), full=False)
    assert spec is None
    assert status == {"status": {"pauseConditions": None}}


def test_promote_manually_paused_unpauses_spec_too() -> None:
    ro = rollout()
    ro["spec"]["paused"] = True
    spec, status, _ = promote_patches(ro, full=False)
    assert spec == {"spec": {"paused": False}}
    assert status == {"status": {"pauseConditions": None}}


def test_promote_during_analysis_moves_to_next_step() -> None:
    ro = rollout(pauseConditions=None, controllerPause=False, currentStepIndex=2)
    spec, status, unified = promote_patches(ro, full=False)
    assert spec is None
    assert status == {"status": {"pauseConditions": None, "currentStepIndex": 3}}
    assert unified == {
        "spec": {"paused": False},
        "status": {"pauseConditions": None, "currentStepIndex": 3},
    }


def test_promote_at_end_keeps_index() -> None:
    ro = rollout(pauseConditions=None, controllerPause=False, currentStepIndex=6)
    _, status, _ = promote_patches(ro, full=False)
    assert status == {"status": {"pauseConditions": None, "currentStepIndex": 6}}


def test_promote_inconclusive_analysis_clears_controller_pause_and_steps() -> None:
    ro = rollout(
        pauseConditions=[{"reason": "InconclusiveAnalysisRun"}],
        controllerPause=True,
        currentStepIndex=2,
    )
    ro["status"]["canary"]["currentStepAnalysisRunStatus"] = {"status": "Inconclusive"}
    _, status, _ = promote_patches(ro, full=False)
    assert status == {
        "status": {"pauseConditions": None, "controllerPause": False, "currentStepIndex": 3}
    }


def test_promote_full() -> None:
    ro = rollout()
    ro["spec"]["paused"] = True
    spec, status, _ = promote_patches(ro, full=True)
    assert spec == {"spec": {"paused": False}}
    assert status == {"status": {"promoteFull": True}}
    ro = rollout(currentPodHash="aaa111")
    spec, status, _ = promote_patches(ro, full=True)
    assert spec is None and status is None


# --- undo ---------------------------------------------------------------------------------


def test_undo_picks_previous_revision_and_strips_hash_label() -> None:
    old = replicaset("ccc333", 0, "tensorflow/serving:2.11.0", 0, 0)
    del old["metadata"]["annotations"]
    target = undo_target(rollout(), [CANARY_RS, old, STABLE_RS])
    assert target is STABLE_RS
    ops = undo_patch(rollout(), STABLE_RS)
    assert ops == [
        {
            "op": "replace",
            "path": "/spec/template",
            "value": {
                "metadata": {"labels": {"app": "tf-serving", "version": "v1"}},
                "spec": {
                    "containers": [{"name": "s", "image": "tensorflow/serving:2.12.0@sha256:feed"}]
                },
            },
        }
    ]
    assert STABLE_RS["spec"]["template"]["metadata"]["labels"][argo.HASH_LABEL] == "aaa111"


def test_undo_skips_when_template_matches() -> None:
    assert undo_patch(rollout(), CANARY_RS) is None


def test_required_verbs() -> None:
    p = ArgoProvider()
    assert [v.text for v in p.required_verbs(Action.ADVANCE)] == [
        "patch rollouts",
        "patch rollouts/status",
    ]
    assert [v.text for v in p.required_verbs(Action.ROLLBACK)] == ["patch rollouts/status"]
    assert [v.text for v in p.required_verbs(Action.PAUSE)] == ["patch rollouts"]


@pytest.mark.parametrize(
    ("action", "calls"),
    [
        (Action.PAUSE, [("merge", "", {"spec": {"paused": True}})]),
        (Action.ROLLBACK, [("merge", "status", {"status": {"abort": True}})]),
        (Action.RETRY, [("merge", "status", {"status": {"abort": False}})]),
        (Action.ADVANCE, [("merge", "status", {"status": {"pauseConditions": None}})]),
        (Action.PROMOTE_FULL, [("merge", "status", {"status": {"promoteFull": True}})]),
    ],
)
def test_act_sends_the_plugin_patches(action: Action, calls: list[Any]) -> None:
    api = FakeApi(rollout())
    p = ArgoProvider()
    r = convert(rollout())
    result = p.act(api, r, rollout(), action)
    assert api.calls == calls
    assert result.before.startswith("step 3/6, weight 30%")


def test_act_resume_only_when_manually_paused() -> None:
    api = FakeApi(rollout())
    result = ArgoProvider().act(api, convert(rollout()), rollout(), Action.RESUME)
    assert api.calls == [] and "advance" in result.message
    ro = rollout()
    ro["spec"]["paused"] = True
    ArgoProvider().act(api, convert(ro), ro, Action.RESUME)
    assert api.calls == [("merge", "", {"spec": {"paused": False}})]


def test_status_patch_falls_back_to_main_resource_on_404() -> None:
    api = FakeApi(rollout(), status_404=True)
    ArgoProvider().act(api, convert(rollout()), rollout(), Action.ROLLBACK)
    assert api.calls == [
        ("merge", "status", {"status": {"abort": True}}),
        ("merge", "", {"status": {"abort": True}}),
    ]


class _NotFound(Exception):
    status = 404


class FakeApi:
    cluster = "lab"
    user = "tester"

    def __init__(self, obj: dict[str, Any], status_404: bool = False) -> None:
        self.obj = obj
        self.status_404 = status_404
        self.calls: list[Any] = []

    def get(self, rt: Any, namespace: str, name: str) -> dict[str, Any]:
        return self.obj

    def list(self, rt: Any, namespace: str | None, label_selector: str = "") -> list[Any]:
        return [STABLE_RS, CANARY_RS]

    def merge_patch(
        self, rt: Any, namespace: str, name: str, body: Any, subresource: str = ""
    ) -> dict[str, Any]:
        self.calls.append(("merge", subresource, body))
        if self.status_404 and subresource == "status":
            raise _NotFound()
        return self.obj

    def json_patch(
        self, rt: Any, namespace: str, name: str, ops: Any, subresource: str = ""
    ) -> dict[str, Any]:
        self.calls.append(("json", subresource, ops))
        return self.obj
