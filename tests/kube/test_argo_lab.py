"""Argo Rollouts through the console's Kubernetes backend, against the lab's real
kube-apiserver and the real Argo Rollouts controller (v1.10.1).

For each action: the object afterwards carries exactly the fields the
`kubectl argo rollouts` command writes, and the controller then reacts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from console import audit
from console.kube.argo import HASH_LABEL, ROLLOUTS
from console.kube.errors import ApiError
from console.model import Action, ActionError, ActionUnavailable, Phase, ProviderKind, RolloutRef
from tests.kube.helpers import (
    ARGO_READER,
    backend,
    deploy_canary,
    stays,
    unique_ns,
    wait_rollout,
)
from tests.lab import sample
from tests.lab.kube import KubeLab

pytestmark = pytest.mark.lab


@pytest.fixture(autouse=True)
def _audit_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    return state


def _recording(b: Any) -> list[tuple[str, str, str | None, Any]]:
    """Wrap each cluster's client: every request's method, path, Content-Type, body."""
    calls: list[tuple[str, str, str | None, Any]] = []
    for c in b.clusters.values():
        real = c.client.send

        def send(
            method: str,
            path: str,
            query: Any = (),
            body: Any = None,
            content_type: str | None = None,
            timeout: float | None = None,
            _real: Any = real,
        ) -> Any:
            calls.append((method, path, content_type, body))
            return _real(method, path, query, body, content_type, timeout)

        c.client.send = send
    return calls


def _patches(calls: list[tuple[str, str, str | None, Any]]) -> list[tuple[str, str | None, Any]]:
    return [
        (path.rsplit("/", 1)[-1], ctype, body) for m, path, ctype, body in calls if m == "PATCH"
    ]


def _ref(ns: str) -> RolloutRef:
    return RolloutRef("lab", ns, sample.NAME)


def _events(lab: KubeLab, ns: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = lab.get_json("events", "-n", ns)["items"]
    return [
        e
        for e in items
        if e.get("source", {}).get("component") == "rollout-console"
        or e.get("reportingComponent") == "rollout-console"
    ]


# --- reading -------------------------------------------------------------------------------


def test_list_matches_the_plugin_view(kube_lab: KubeLab) -> None:
    ns = unique_ns("ko-list")
    ro = deploy_canary(kube_lab, ns)
    b = backend(kube_lab, ns)
    assert b.description == "kube: lab"
    [r] = b.list()
    status = ro["status"]
    assert r.ref == _ref(ns)
    assert r.provider is ProviderKind.ARGO
    assert r.phase is Phase.PAUSED and r.message == "CanaryPauseStep"
    assert not r.paused and not r.aborted, "a pause step is not an operator pause"
    assert r.current_step == 1 and len(r.steps) == 6
    assert (r.set_weight, r.actual_weight) == (20, 20)
    assert r.stable.pod_hash == status["stableRS"]
    assert r.canary is not None and r.canary.pod_hash == status["currentPodHash"]
    assert [i.reference for i in r.stable.images] == [sample.STABLE_IMAGE]
    assert [i.reference for i in r.canary.images] == [sample.CANARY_IMAGE]
    for version in (r.stable, r.canary):
        pods = kube_lab.get_json("pods", "-n", ns, "-l", f"{HASH_LABEL}={version.pod_hash}")
        names = sorted(
            p["metadata"]["name"]
            for p in pods["items"]
            if not p["metadata"].get("deletionTimestamp")
        )
        assert list(version.pods) == names
        rs = kube_lab.get_json("rs", version.workload, "-n", ns)
        assert version.desired == rs["spec"]["replicas"]
        assert version.ready == rs["status"].get("readyReplicas", 0)
    assert r.stable.desired == 4 and r.canary.desired == 1  # 20 % of 4 replicas, rounded up
    assert r.warnings == ()
    assert r.unavailable == ()  # the lab admin may do everything


def test_malformed_rollout_renders_with_warning(kube_lab: KubeLab) -> None:
    ns = unique_ns("ko-bad")
    objs = sample.manifests(ns)
    for obj in objs:
        if obj["kind"] == "Rollout":
            # An empty step passes the CRD schema; the controller calls the spec invalid.
            obj["spec"]["strategy"]["canary"]["steps"] = [{"setWeight": 10}, {}, {"pause": {}}]
            obj["spec"]["template"]["spec"]["containers"][0].pop("resources", None)
    kube_lab.apply_yaml(yaml.safe_dump_all(objs, sort_keys=False))
    wait_rollout(
        kube_lab,
        ns,
        lambda ro: ro["status"].get("phase") == "Degraded",
        "InvalidSpec seen by the controller",
    )
    [r] = backend(kube_lab, ns).list()
    assert any("step 1 has no known type" in w for w in r.warnings), r.warnings
    assert r.phase is Phase.DEGRADED and "InvalidSpec" in r.message
    assert r.steps[1].kind.value == "unknown"


# --- actions -------------------------------------------------------------------------------


def test_advance_promotes_to_next_step(kube_lab: KubeLab, _audit_in_tmp: Path) -> None:
    ns = unique_ns("ko-adv")
    deploy_canary(kube_lab, ns)
    b = backend(kube_lab, ns)
    calls = _recording(b)
    result = b.act(_ref(ns), Action.ADVANCE)
    # cmd/promote at a pause step: one status-subresource merge patch clearing
    # pauseConditions, conditional on the status the console read (issue 9: an advance
    # must not also clear the next pause if the controller moved on meanwhile).
    [(subresource, ctype, body)] = _patches(calls)
    assert (subresource, ctype) == ("status", "application/merge-patch+json")
    assert body["status"] == {"pauseConditions": None}
    assert set(body) == {"status", "metadata"} and set(body["metadata"]) == {"resourceVersion"}
    assert result.before.startswith("step 1/6, weight 20%")
    # The controller moves on: setWeight 40 (step 2) then holds at the pause of step 3.
    ro = wait_rollout(
        kube_lab,
        ns,
        lambda ro: (
            ro["status"].get("currentStepIndex") == 3 and bool(ro["status"].get("pauseConditions"))
        ),
        "at step 3",
    )
    assert sample.canary_weight(kube_lab, ns) == 40
    assert ro["spec"].get("paused") in (None, False)
    # Event and audit line.
    [event] = [e for e in _events(kube_lab, ns) if e["reason"] == "RolloutConsoleAdvance"]
    assert event["involvedObject"]["kind"] == "Rollout"
    assert "step 1/6, weight 20%" in event["message"] and "->" in event["message"]
    lines = audit.read(_audit_in_tmp / "rollout-console" / "audit.jsonl")
    assert lines[-1]["action"] == "advance" and lines[-1]["result"] == "ok"
    assert lines[-1]["namespace"] == ns and lines[-1]["cluster"] == "lab"
    assert lines[-1]["before"].startswith("step 1/6")


def test_pause_freezes_and_resume_continues(kube_lab: KubeLab) -> None:
    ns = unique_ns("ko-pause")
    steps = [{"setWeight": 20}, {"pause": {"duration": "4s"}}, {"setWeight": 40}, {"pause": {}}]
    deploy_canary(kube_lab, ns, steps=steps, start=False)
    b = backend(kube_lab, ns)
    calls = _recording(b)
    sample.start_canary(kube_lab, ns)
    wait_rollout(
        kube_lab,
        ns,
        lambda ro: ro["status"].get("currentStepIndex") == 1,
        "in the timed pause of step 1",
    )
    b.act(_ref(ns), Action.PAUSE)
    assert _patches(calls) == [
        (sample.NAME, "application/merge-patch+json", {"spec": {"paused": True}})
    ]
    ro = sample.get_rollout(kube_lab, ns)
    assert ro["spec"]["paused"] is True
    # Frozen: well past the 4 s pause, the rollout stays at step 1 with weight 20.
    assert stays(
        lambda: sample.get_rollout(kube_lab, ns)["status"].get("currentStepIndex") == 1, seconds=8
    )
    assert sample.canary_weight(kube_lab, ns) == 20
    ro = wait_rollout(kube_lab, ns, lambda ro: ro["status"].get("phase") == "Paused", "Paused")
    [r] = b.list()
    assert r.phase is Phase.PAUSED and r.paused

    calls.clear()
    b.act(_ref(ns), Action.RESUME)
    assert _patches(calls) == [
        (sample.NAME, "application/merge-patch+json", {"spec": {"paused": False}})
    ]
    wait_rollout(
        kube_lab, ns, lambda ro: ro["status"].get("currentStepIndex") == 3, "resumed to step 3"
    )
    assert sample.canary_weight(kube_lab, ns) == 40


def test_rollback_aborts_to_weight_zero_and_retry_restarts(kube_lab: KubeLab) -> None:
    ns = unique_ns("ko-abort")
    deploy_canary(kube_lab, ns)
    b = backend(kube_lab, ns)
    calls = _recording(b)
    b.act(_ref(ns), Action.ROLLBACK)
    assert _patches(calls) == [
        ("status", "application/merge-patch+json", {"status": {"abort": True}})
    ]
    ro = wait_rollout(
        kube_lab,
        ns,
        lambda ro: (
            ro["status"].get("phase") == "Degraded" and sample.canary_weight(kube_lab, ns) == 0
        ),
        "aborted, weight 0",
    )
    assert ro["status"]["abort"] is True
    [r] = b.list()
    assert r.aborted and r.phase is Phase.DEGRADED and r.set_weight == 0
    assert "RolloutAborted" in r.message

    calls.clear()
    b.act(_ref(ns), Action.RETRY)
    assert _patches(calls) == [
        ("status", "application/merge-patch+json", {"status": {"abort": False}})
    ]
    wait_rollout(
        kube_lab,
        ns,
        lambda ro: (
            not ro["status"].get("abort")
            and ro["status"].get("currentStepIndex") == 1
            and sample.canary_weight(kube_lab, ns) == 20
        ),
        "retried back to step 1",
    )


def test_promote_full(kube_lab: KubeLab) -> None:
    ns = unique_ns("ko-full")
    ro = deploy_canary(kube_lab, ns)
    canary_hash = ro["status"]["currentPodHash"]
    b = backend(kube_lab, ns)
    calls = _recording(b)
    b.act(_ref(ns), Action.PROMOTE_FULL)
    assert _patches(calls) == [
        ("status", "application/merge-patch+json", {"status": {"promoteFull": True}})
    ]
    ro = wait_rollout(
        kube_lab,
        ns,
        lambda ro: (
            ro["status"].get("phase") == "Healthy" and ro["status"].get("stableRS") == canary_hash
        ),
        "fully promoted",
    )
    [r] = b.list()
    assert r.phase is Phase.HEALTHY and r.canary is None
    assert [i.reference for i in r.stable.images] == [sample.CANARY_IMAGE]


def test_undo_restores_previous_template(kube_lab: KubeLab) -> None:
    ns = unique_ns("ko-undo")
    ro = deploy_canary(kube_lab, ns)
    stable_hash = ro["status"]["stableRS"]
    b = backend(kube_lab, ns)
    calls = _recording(b)
    b.act(_ref(ns), Action.UNDO)
    [(where, ctype, ops)] = _patches(calls)
    assert (where, ctype) == (sample.NAME, "application/json-patch+json")
    assert [op["op"] for op in ops] == ["replace"] and ops[0]["path"] == "/spec/template"
    stable_rs = next(
        rs
        for rs in kube_lab.get_json("rs", "-n", ns)["items"]
        if rs["metadata"]["labels"].get(HASH_LABEL) == stable_hash
    )
    expected_labels = dict(stable_rs["spec"]["template"]["metadata"]["labels"])
    del expected_labels[HASH_LABEL]
    ro = sample.get_rollout(kube_lab, ns)
    assert ro["spec"]["template"]["metadata"]["labels"] == expected_labels
    assert ro["spec"]["template"]["spec"]["containers"][0]["image"] == sample.STABLE_IMAGE
    # The controller sees the stable template again and goes back to Healthy on it.
    wait_rollout(
        kube_lab,
        ns,
        lambda ro: (
            ro["status"].get("phase") == "Healthy"
            and ro["status"].get("currentPodHash") == stable_hash
        ),
        "undone",
    )


# --- safety --------------------------------------------------------------------------------


def test_limited_rbac_sees_actions_unavailable_and_gets_clear_error(kube_lab: KubeLab) -> None:
    ns = unique_ns("ko-rbac")
    deploy_canary(kube_lab, ns)
    kubeconfig = kube_lab.create_service_account_kubeconfig(ns, "viewer", ARGO_READER)
    b = backend(kube_lab, ns, kubeconfig=str(kubeconfig))
    [r] = b.list()
    reasons = r.unavailable_reasons
    user = f"system:serviceaccount:{ns}:viewer"
    assert set(reasons) == set(Action)
    assert reasons[Action.ROLLBACK] == f"RBAC: user {user} cannot patch rollouts/status in ns {ns}"
    assert reasons[Action.PAUSE] == f"RBAC: user {user} cannot patch rollouts in ns {ns}"
    with pytest.raises(ActionUnavailable) as refused:
        b.act(_ref(ns), Action.ROLLBACK)
    assert "cannot patch rollouts/status" in str(refused.value)
    # Even with the console's own check skipped, the server's 403 is one clear sentence.
    raw = backend(kube_lab, ns, kubeconfig=str(kubeconfig), check_access=False)
    with pytest.raises(ActionError) as forbidden:
        raw.act(_ref(ns), Action.ROLLBACK)
    text = str(forbidden.value)
    assert text.startswith("Forbidden:") and "\n" not in text
    assert sample.get_rollout(kube_lab, ns)["status"].get("abort") is not True


def test_not_found_is_one_sentence(kube_lab: KubeLab) -> None:
    b = backend(kube_lab, "default")
    with pytest.raises(ActionError) as err:
        b.act(RolloutRef("lab", "default", "no-such-rollout"), Action.PAUSE)
    assert str(err.value).startswith("Not found:")


def test_custom_resources_refuse_strategic_merge(kube_lab: KubeLab) -> None:
    """The server side of "merge patch only": a strategic-merge patch on a CR is a 415."""
    ns = unique_ns("ko-smp")
    deploy_canary(kube_lab, ns, start=False)
    b = backend(kube_lab, ns)
    client = b.clusters["lab"].client
    with pytest.raises(ApiError) as err:
        client.request(
            "PATCH",
            ROLLOUTS.path(ns, sample.NAME),
            body={"spec": {"paused": True}},
            content_type="application/strategic-merge-patch+json",
        )
    assert err.value.status == 415
    # The same body as a merge patch is accepted.
    out = client.merge_patch(ROLLOUTS, ns, sample.NAME, {"spec": {"paused": True}})
    assert out["spec"]["paused"] is True
    assert json.loads(json.dumps(out))["kind"] == "Rollout"
