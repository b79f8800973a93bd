"""Actions against the lab, as a runbook runs them (`python -m console ACTION`).

Before:
- an advance on a Rollout whose status.observedGeneration lags its generation
  wrote a step the controller had not computed;
- pausing an already paused rollout exited 1 (a mesh canary) or wrote again
  (Argo), while resuming a running Argo Rollout exited 0: runbooks could not
  tell "nothing to do" from a failure;
- a runbook could not say which step or weight it meant to advance from.

Only the command line and kubectl are used, so the rows run against the old
code too.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.faults.conftest import Fault
from tests.kube.helpers import deploy_canary, unique_ns, wait_rollout
from tests.kube.test_mesh_lab import APP, istio_ns, vs_weights
from tests.lab import sample
from tests.lab.kube import KubeLab

pytestmark = pytest.mark.lab

__all__ = ["istio_ns"]  # the fixture: a VirtualService canary at 10 %

REPO = Path(__file__).resolve().parents[2]

#: Eight indefinite pauses: the controller holds each one until an advance clears it.
MANY_PAUSES: list[dict[str, Any]] = [
    step for w in (10, 20, 30, 40, 50, 60, 70, 80) for step in ({"setWeight": w}, {"pause": {}})
]


def held_at_first_pause(lab: KubeLab, ns: str) -> None:
    deploy_canary(lab, ns, steps=MANY_PAUSES, start=False)
    sample.start_canary(lab, ns)
    wait_rollout(
        lab,
        ns,
        lambda ro: (
            ro["status"].get("currentStepIndex") == 1 and bool(ro["status"].get("pauseConditions"))
        ),
        "the canary held at its first pause",
    )


def run(lab: KubeLab, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, XDG_STATE_HOME=str(tmp / "state"), PYTHONPATH=str(REPO), NO_COLOR="1")
    env.pop("KUBECONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "console", *args, "--kubeconfig", str(lab.kubeconfig)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=REPO,
    )


def said(done: subprocess.CompletedProcess[str]) -> str:
    text = (done.stdout.strip() or done.stderr.strip()).splitlines()
    return f"exit {done.returncode} {text[0] if text else ''!r}"[:240]


@pytest.mark.fault(
    "advance on a Rollout whose status.observedGeneration lags metadata.generation",
    "exit 1, one sentence naming the Rollout and the field; no step written",
)
def test_advance_of_a_lagging_rollout_is_refused(
    kube_lab: KubeLab, tmp_path: Path, fault: Fault
) -> None:
    ns = unique_ns("ko-lag")
    # Labelled for a controller instance that does not exist, so the real controller
    # leaves the status as this test writes it: reconciled once, at generation 1.
    objs = sample.manifests(ns)
    for obj in objs:
        if obj["kind"] == "Rollout":
            obj["metadata"].setdefault("labels", {})[
                "argo-rollouts.argoproj.io/controller-instance-id"
            ] = "nobody"
            obj["spec"]["strategy"]["canary"]["steps"] = copy.deepcopy(MANY_PAUSES[:4])
    kube_lab.apply_yaml(yaml.safe_dump_all(objs, sort_keys=False))
    generation = sample.get_rollout(kube_lab, ns)["metadata"]["generation"]
    kube_lab.kubectl(
        "patch", "rollout", sample.NAME, "-n", ns, "--subresource=status", "--type=merge",
        "-p", f'{{"status":{{"observedGeneration":"{generation}","currentStepIndex":0}}}}',
    )  # fmt: skip
    # A spec change the controller has not seen: generation moves on, observed lags.
    kube_lab.kubectl(
        "patch", "rollout", sample.NAME, "-n", ns, "--type=merge",
        "-p", '{"spec":{"minReadySeconds":1}}',
    )  # fmt: skip
    ro = sample.get_rollout(kube_lab, ns)
    assert ro["metadata"]["generation"] > generation
    done = run(kube_lab, tmp_path, "advance", f"{ns}/{sample.NAME}")
    index = sample.get_rollout(kube_lab, ns)["status"].get("currentStepIndex")
    fault.observed(f"{said(done)}; currentStepIndex {index}")
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert f"{ns}/{sample.NAME}" in lines[0] and "status.observedGeneration" in lines[0]
    assert index == 0


def pause_twice_and_resume_running(
    lab: KubeLab, tmp: Path, target: str, version: Callable[[], str], fault: Fault
) -> None:
    """Resume while running, pause, pause again: exit 0 each time, and the repeats
    say so and write nothing."""
    running = version()
    resume_running = run(lab, tmp, "resume", target)
    assert version() == running
    first = run(lab, tmp, "pause", target)
    assert first.returncode == 0, first.stderr
    paused_at = version()
    again = run(lab, tmp, "pause", target)
    fault.observed(f"resume of running: {said(resume_running)}; pause again: {said(again)}")
    assert again.returncode == 0, again.stderr
    assert "already paused" in again.stdout
    assert version() == paused_at
    assert resume_running.returncode == 0, resume_running.stderr
    assert "not paused" in resume_running.stdout


@pytest.mark.fault(
    "pause a paused Argo Rollout; resume a running one",
    "exit 0 both times, saying already paused / not paused; nothing written",
)
def test_repeated_pause_and_resume_of_an_argo_rollout_exit_0(
    kube_lab: KubeLab, tmp_path: Path, fault: Fault
) -> None:
    ns = unique_ns("ko-pause")
    deploy_canary(kube_lab, ns, start=False)

    def version() -> str:
        return str(sample.get_rollout(kube_lab, ns)["metadata"]["resourceVersion"])

    pause_twice_and_resume_running(kube_lab, tmp_path, f"{ns}/{sample.NAME}", version, fault)


@pytest.mark.fault(
    "pause a paused mesh (Istio) canary; resume a running one",
    "exit 0 both times, saying already paused / not paused; nothing written",
)
def test_repeated_pause_and_resume_of_a_mesh_canary_exit_0(
    kube_lab: KubeLab, istio_ns: str, tmp_path: Path, fault: Fault
) -> None:
    def version() -> str:
        vs = kube_lab.get_json("virtualservice", APP, "-n", istio_ns)
        return str(vs["metadata"]["resourceVersion"])

    pause_twice_and_resume_running(kube_lab, tmp_path, f"{istio_ns}/{APP}", version, fault)


@pytest.mark.fault(
    "headless advance --expect-step N on an Argo Rollout that is elsewhere",
    "exit 1, refused naming the step; the step stays; the right N advances",
)
def test_advance_expecting_another_step_is_refused(
    kube_lab: KubeLab, tmp_path: Path, fault: Fault
) -> None:
    ns = unique_ns("ko-expect")
    held_at_first_pause(kube_lab, ns)
    target = f"{ns}/{sample.NAME}"
    wrong = run(kube_lab, tmp_path, "advance", target, "--expect-step", "0")
    index = sample.get_rollout(kube_lab, ns)["status"].get("currentStepIndex")
    fault.observed(f"--expect-step 0 at step 1: {said(wrong)}; currentStepIndex {index}")
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    assert "not step 0/" in wrong.stderr and "already at step 1/" in wrong.stderr
    assert index == 1
    right = run(kube_lab, tmp_path, "advance", target, "--expect-step", "1")
    assert right.returncode == 0, right.stderr
    wait_rollout(
        kube_lab,
        ns,
        lambda ro: (
            ro["status"].get("currentStepIndex") == 3 and bool(ro["status"].get("pauseConditions"))
        ),
        "the next pause",
    )


@pytest.mark.fault(
    "headless advance --expect-weight W on a mesh canary at another weight",
    "exit 1, refused; the weight stays; the right W advances one step",
)
def test_advance_expecting_another_weight_is_refused(
    kube_lab: KubeLab, istio_ns: str, tmp_path: Path, fault: Fault
) -> None:
    target = f"{istio_ns}/{APP}"

    def weights() -> list[int]:
        return vs_weights(kube_lab.get_json("virtualservice", APP, "-n", istio_ns))

    wrong = run(kube_lab, tmp_path, "advance", target, "--expect-weight", "5")
    fault.observed(f"--expect-weight 5 at 10 %: {said(wrong)}; weights {weights()}")
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    assert "press again" in wrong.stderr
    assert weights() == [90, 10]
    right = run(kube_lab, tmp_path, "advance", target, "--expect-weight", "10")
    assert right.returncode == 0, right.stderr
    assert weights() == [80, 20]
