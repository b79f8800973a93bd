"""What the providers give the guard: annotations, Argo AnalysisRuns, Flagger's own rollback."""

from __future__ import annotations

import copy
from typing import Any

from console.kube import argo, flagger
from console.kube.provider import console_annotations

UID = "uid-ro-1"


def _rollout(**status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {
            "name": "det",
            "namespace": "vision",
            "uid": UID,
            "generation": 2,
            "annotations": {
                "rollout-console.io/guard-paused-at": "2026-11-30T12:00:00Z",
                "rollout-console.io/evil": "a\x1b[31mred\nline",
                "other.io/ignored": "x",
            },
        },
        "spec": {
            "replicas": 4,
            "strategy": {"canary": {"steps": [{"setWeight": 20}, {"analysis": {}}]}},
            "template": {"metadata": {"labels": {"version": "v2"}}},
        },
        "status": {
            "observedGeneration": "2",
            "phase": "Progressing",
            "stableRS": "aaa",
            "currentPodHash": "bbb",
            "currentStepIndex": 1,
            **status,
        },
    }


def _run(name: str, pod_hash: str, *, phase: str = "Running", dry: tuple[str, ...] = ()) -> Any:
    return {
        "metadata": {
            "name": name,
            "namespace": "vision",
            "labels": {"rollouts-pod-template-hash": pod_hash},
            "ownerReferences": [{"kind": "Rollout", "name": "det", "uid": UID}],
        },
        "spec": {
            "metrics": [
                {"name": "error-rate", "successCondition": "result[0] < 0.01"},
                {"name": "latency", "failureCondition": "result[0] > 0.5"},
                {"name": "drift", "successCondition": "result[0] < 1"},
            ],
            "dryRun": [{"metricName": m} for m in dry],
        },
        "status": {
            "phase": phase,
            "message": "",
            "metricResults": [
                {
                    "name": "error-rate",
                    "phase": "Running",
                    "successful": 2,
                    "failed": 1,
                    "measurements": [{"value": "[0.002]"}, {"value": "[0.03]"}],
                },
                {"name": "latency", "phase": "Successful", "successful": 3},
                {"name": "drift", "phase": "Failed", "failed": 2, "error": 1, "dryRun": True},
            ],
        },
    }


def test_console_annotations_are_only_ours_and_sanitised() -> None:
    got = dict(console_annotations(_rollout()))
    assert set(got) == {"rollout-console.io/guard-paused-at", "rollout-console.io/evil"}
    assert (
        "\x1b" not in got["rollout-console.io/evil"] and "\n" not in got["rollout-console.io/evil"]
    )


def test_analysis_runs_of_the_current_canary_and_what_can_abort() -> None:
    ro = _rollout(canary={"currentStepAnalysisRunStatus": {"name": "det-step"}})
    runs = [
        _run("det-step", "bbb", dry=("drift",)),
        _run("det-old", "aaa", phase="Successful"),  # the previous canary's: not shown
    ]
    [r] = argo.ArgoProvider().to_rollouts(
        [ro], {argo.REPLICASETS: [], argo.PODS: [], argo.ANALYSISRUNS: runs}, "c"
    )
    [info] = r.analysis
    assert (info.name, info.kind, info.phase) == ("det-step", "step", "Running")
    by_name = {m.name: m for m in info.metrics}
    err = by_name["error-rate"]
    assert (err.successful, err.failed, err.last_value) == (2, 1, "[0.03]")
    assert err.condition == "success: result[0] < 0.01"
    assert err.counts == "✔ 2,✖ 1"
    assert by_name["drift"].dry_run and by_name["drift"].counts == "✖ 2,⚠ 1"
    assert r.auto_rollback == "controller auto-abort armed: error-rate, latency"
    assert r.annotation("rollout-console.io/guard-paused-at") == "2026-11-30T12:00:00Z"


def test_no_abort_armed_when_every_metric_is_dry_run_or_the_run_ended() -> None:
    ro = _rollout(canary={"currentBackgroundAnalysisRunStatus": {"name": "bg"}})
    dry = argo.canary_analysis(ro, [_run("bg", "bbb", dry=("*",))])
    assert [a.kind for a in dry] == ["background"]
    assert argo.auto_abort_text(dry) == ""
    done = argo.canary_analysis(ro, [_run("bg", "bbb", phase="Successful")])
    assert argo.auto_abort_text(done) == ""
    regex = argo.canary_analysis(ro, [_run("bg", "bbb", dry=("error-.*", "latency"))])
    assert argo.auto_abort_text(regex) == ""  # drift is dry by its own result flag


def _canary(phase: str, failed: int, threshold: int | None, suspend: bool = False) -> Any:
    obj: dict[str, Any] = {
        "metadata": {
            "name": "pod",
            "namespace": "test",
            "annotations": {"rollout-console.io/guard": "progress"},
        },
        "spec": {
            "targetRef": {"kind": "Deployment", "name": "pod"},
            "suspend": suspend,
            "analysis": {"stepWeight": 10, "maxWeight": 50},
        },
        "status": {"phase": phase, "failedChecks": failed, "canaryWeight": 10},
    }
    if threshold is not None:
        obj["spec"]["analysis"]["threshold"] = threshold
    return obj


def test_flagger_says_when_it_will_roll_back_by_itself() -> None:
    r = flagger.to_rollout(_canary("Progressing", 2, 5), [], [], "c")
    assert r.auto_rollback == "Flagger rolls back at 5 failed checks (2 so far)"
    assert r.annotation("rollout-console.io/guard") == "progress"
    assert flagger.to_rollout(_canary("Succeeded", 0, 5), [], [], "c").auto_rollback == ""
    assert flagger.to_rollout(_canary("Progressing", 1, 5, True), [], [], "c").auto_rollback == ""
    assert flagger.to_rollout(_canary("Progressing", 1, None), [], [], "c").auto_rollback == ""


def test_mesh_and_argo_objects_are_not_mutated() -> None:
    ro = _rollout()
    before = copy.deepcopy(ro)
    argo.ArgoProvider().to_rollouts([ro], {}, "c")
    assert ro == before
