"""Argo writes that cannot go backwards or compound, against the real controller.

Before: ten concurrent advances on a progressing Rollout took currentStepIndex
backwards; an advance on a Rollout the controller never reconciled wrote
currentStepIndex=1; an advance at step 99 of 2 was accepted.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from console.model import Action, ActionError, ActionUnavailable, RolloutRef, Seen
from tests.faults.conftest import Fault
from tests.kube.helpers import backend, deploy_canary, unique_ns, wait_rollout
from tests.lab import sample
from tests.lab.kube import KubeLab

pytestmark = pytest.mark.lab

#: Eight indefinite pauses: the controller holds each one until an advance clears it.
MANY_PAUSES: list[dict[str, Any]] = [
    step for w in (10, 20, 30, 40, 50, 60, 70, 80) for step in ({"setWeight": w}, {"pause": {}})
]


@pytest.fixture(autouse=True)
def _audit_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


@pytest.mark.fault(
    "10 concurrent advances, Argo Rollout with the controller",
    "exactly one step (index 1 -> 3), the rest refused",
)
def test_ten_concurrent_advances_take_exactly_one_step(kube_lab: KubeLab, fault: Fault) -> None:
    ns = unique_ns("ko-race")
    deploy_canary(kube_lab, ns, steps=MANY_PAUSES, start=False)
    sample.start_canary(kube_lab, ns)
    wait_rollout(
        kube_lab,
        ns,
        lambda ro: (
            ro["status"].get("currentStepIndex") == 1 and bool(ro["status"].get("pauseConditions"))
        ),
        "the canary held at its first pause",
    )
    ref = RolloutRef("lab", ns, sample.NAME)
    b = backend(kube_lab, ns)
    shown = next(r for r in b.list() if r.ref == ref)
    assert shown.current_step == 1
    seen = Seen.of(shown)  # ten people looking at the same screen
    outcomes: list[str] = []
    start = threading.Barrier(10)

    def click() -> None:
        start.wait()
        try:
            b.act(ref, Action.ADVANCE, seen=seen)
            outcomes.append("ok")
        except ActionError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=click) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(outcomes) == 10
    refusals = [o for o in outcomes if o != "ok"]
    fault.observed(f"{outcomes.count('ok')} ok, {len(refusals)} refused")
    # One click takes the step; the other nine saw a step that is gone. (Before the
    # precondition all ten wrote currentStepIndex=2 and said ok; at a held pause the
    # end state looked right, but a late write could take a moved rollout back.)
    assert outcomes.count("ok") == 1, outcomes
    assert all("press again" in o or "Conflict" in o for o in refusals), refusals
    # The controller takes the one step (setWeight 20 at index 2) and holds at the
    # next pause; never back, never two steps.
    wait_rollout(
        kube_lab,
        ns,
        lambda ro: (
            ro["status"].get("currentStepIndex") == 3 and bool(ro["status"].get("pauseConditions"))
        ),
        "held at the pause after the one step",
    )
    assert sample.canary_weight(kube_lab, ns) == 20


def _unreconciled(kube_lab: KubeLab, ns: str) -> None:
    """The sample Rollout, labelled for a controller instance that does not exist:
    Argo's controller (no --instanceid) never reconciles it."""
    objs = sample.manifests(ns)
    for obj in objs:
        if obj["kind"] == "Rollout":
            obj["metadata"].setdefault("labels", {})[
                "argo-rollouts.argoproj.io/controller-instance-id"
            ] = "nobody"
            obj["spec"]["strategy"]["canary"]["steps"] = copy.deepcopy(MANY_PAUSES[:2])
    kube_lab.apply_yaml(yaml.safe_dump_all(objs, sort_keys=False))


@pytest.mark.fault(
    "advance on a never-reconciled Rollout",
    "refused, no currentStepIndex written",
)
def test_advance_of_a_never_reconciled_rollout_is_refused(kube_lab: KubeLab, fault: Fault) -> None:
    ns = unique_ns("ko-unrec")
    _unreconciled(kube_lab, ns)
    b = backend(kube_lab, ns)
    with pytest.raises(ActionUnavailable, match="never reconciled"):
        b.act(RolloutRef("lab", ns, sample.NAME), Action.ADVANCE)
    status = sample.get_rollout(kube_lab, ns).get("status") or {}
    fault.observed(f"refused; currentStepIndex {status.get('currentStepIndex')}")
    assert "currentStepIndex" not in status


@pytest.mark.fault(
    "advance at step 99 of 2",
    "refused naming the field",
)
def test_advance_at_a_step_out_of_range_is_refused(kube_lab: KubeLab, fault: Fault) -> None:
    ns = unique_ns("ko-range")
    _unreconciled(kube_lab, ns)
    generation = sample.get_rollout(kube_lab, ns)["metadata"]["generation"]
    kube_lab.kubectl(
        "patch",
        "rollout",
        sample.NAME,
        "-n",
        ns,
        "--subresource=status",
        "--type=merge",
        "-p",
        f'{{"status":{{"observedGeneration":"{generation}","currentStepIndex":99}}}}',
    )
    b = backend(kube_lab, ns)
    with pytest.raises(ActionUnavailable, match="currentStepIndex 99, outside its 2 steps"):
        b.act(RolloutRef("lab", ns, sample.NAME), Action.ADVANCE)
    assert sample.get_rollout(kube_lab, ns)["status"]["currentStepIndex"] == 99
    fault.observed("refused; currentStepIndex stays 99")


@pytest.mark.fault(
    "second advance from a step already left",
    "refused: 'already at step 3/16 ... press again'",
)
def test_an_advance_from_a_step_already_left_is_refused(kube_lab: KubeLab, fault: Fault) -> None:
    """Two operators saw step 1; the first advance lands; the second must not take
    another step but say where the rollout is now."""
    ns = unique_ns("ko-stale")
    deploy_canary(kube_lab, ns, steps=MANY_PAUSES, start=False)
    sample.start_canary(kube_lab, ns)

    def held_at(i: int) -> Callable[[dict[str, Any]], bool]:
        return lambda ro: (
            ro["status"].get("currentStepIndex") == i and bool(ro["status"].get("pauseConditions"))
        )

    wait_rollout(kube_lab, ns, held_at(1), "the canary held at its first pause")
    ref = RolloutRef("lab", ns, sample.NAME)
    b = backend(kube_lab, ns)
    seen = Seen.of(next(r for r in b.list() if r.ref == ref))
    b.act(ref, Action.ADVANCE, seen=seen)
    wait_rollout(kube_lab, ns, held_at(3), "the next pause")
    with pytest.raises(ActionError, match=r"already at step 3/16, not step 1/16 .* press again"):
        b.act(ref, Action.ADVANCE, seen=seen)
    assert sample.get_rollout(kube_lab, ns)["status"]["currentStepIndex"] == 3
    fault.observed("refused; currentStepIndex stays 3")
