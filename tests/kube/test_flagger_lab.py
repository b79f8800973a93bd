"""Flagger Canaries driven by the real Flagger controller in the lab.

Flagger, built from its Go module by tests/lab/install, runs for this module
only, scoped to one namespace, with the Istio provider and the lab's
Prometheus (``KubeLab.start_flagger``). For each Canary it makes the primary
Deployment, the Services, DestinationRules and the VirtualService, and walks
the canary weight one step per analysis interval (10 s: Flagger's floor). The
tests check that the console shows what Flagger reports, that Flagger obeys
what the console writes (spec.suspend holds the canary where it is, resume
lets it go on, skipAnalysis promotes), and that only the guard's leader resets
skipAnalysis afterwards. Nothing here writes Flagger's status.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from console.guard.gates import StaticResolver
from console.guard.loop import Guard
from console.kube import flagger, mesh
from console.kube.events import reason_for
from console.kube.provider import ResourceType
from console.metrics.none import NoMetrics
from console.model import Action, ActionUnavailable, Upserted
from tests.kube.helpers import deployment, stays
from tests.kube.test_mesh_lab import backend_for, comparable, find
from tests.lab.kube import KubeLab, LabStartError
from tests.lab.prom import PrometheusLab

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
IMAGE = "ghcr.io/stefanprodan/podinfo"
# One Canary per test that needs its own; Flagger initialises them side by side.
SHOWN, SHADOWED, DRIVEN = "podinfo", "shadowed", "driven"
STEP, MAX_WEIGHT, THRESHOLD = 10, 50, 2
INTERVAL_S = 10  # Flagger runs an analysis interval below 10 s as 10 s
SUSPENDED = "skipping canary run as object is suspended"  # Flagger's log and Event text


def canary_doc(ns: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "provider": "istio",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "service": {"port": 9898},
            "analysis": {
                "interval": f"{INTERVAL_S}s",
                "threshold": THRESHOLD,
                "stepWeight": STEP,
                "maxWeight": MAX_WEIGHT,
                # Asked of the lab's Prometheus (-metrics-server) every interval: were it
                # not answering, failedChecks would grow and Flagger would roll back.
                "metrics": [
                    {
                        "name": "lab-prometheus-answers",
                        "query": "vector(1)",
                        "thresholdRange": {"min": 1},
                    }
                ],
            },
        },
    }


@dataclass(frozen=True)
class FlaggerEnv:
    ns: str
    log: Path  # Flagger's own log (JSON lines)


@pytest.fixture(scope="module")
def flagger_env(kube_lab: KubeLab, prom_lab: PrometheusLab) -> Iterator[FlaggerEnv]:
    ns = f"flagger-{uuid.uuid4().hex[:6]}"
    kube_lab.kubectl("create", "namespace", ns)
    try:
        child = kube_lab.start_flagger(prom_lab.url, namespace=ns)
    except LabStartError as exc:
        kube_lab.kubectl("delete", "namespace", ns, "--wait=false", check=False)
        pytest.fail(str(exc), pytrace=False)
    try:
        docs: list[dict[str, Any]] = []
        for name in (SHOWN, SHADOWED, DRIVEN):
            docs += [deployment(ns, name, {"app": name}, f"{IMAGE}:6.5.0", 2), canary_doc(ns, name)]
        kube_lab.apply_yaml(yaml.safe_dump_all(docs))
        for name in (SHOWN, SHADOWED, DRIVEN):
            wait_phase(kube_lab, ns, name, "Initialized", timeout=90)
        yield FlaggerEnv(ns, child.log_path)
    finally:
        kube_lab.stop_piece(child)
        kube_lab.kubectl("delete", "namespace", ns, "--wait=false", check=False)


# --- reading what Flagger did ---------------------------------------------------------


def canary(lab: KubeLab, ns: str, name: str) -> dict[str, Any]:
    obj: dict[str, Any] = lab.get_json("canary", name, "-n", ns)
    return obj


def status(lab: KubeLab, ns: str, name: str) -> dict[str, Any]:
    st: dict[str, Any] = canary(lab, ns, name).get("status") or {}
    return st


def wait_phase(lab: KubeLab, ns: str, name: str, phase: str, timeout: float) -> None:
    lab.wait_for(
        lambda: status(lab, ns, name).get("phase") == phase,
        timeout=timeout,
        what=f"Flagger to bring Canary {ns}/{name} to {phase}",
    )


def vs_route(lab: KubeLab, ns: str, name: str) -> dict[str, int]:
    """Host -> weight of the VirtualService Flagger keeps for the Canary."""
    vs = lab.get_json("virtualservice", name, "-n", ns)
    [http] = vs["spec"]["http"]
    return {d["destination"]["host"]: d.get("weight", 0) for d in http["route"]}


def split(name: str, weight: int) -> dict[str, int]:
    return {f"{name}-primary": 100 - weight, f"{name}-canary": weight}


def suspended_ticks(env: FlaggerEnv, name: str) -> int:
    """How many analysis ticks Flagger skipped for this Canary because it was suspended."""
    who = f"{name}.{env.ns}"
    count = 0
    for line in env.log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # klog's plain lines
        if isinstance(entry, dict) and entry.get("msg") == SUSPENDED and entry.get("canary") == who:
            count += 1
    return count


def console_get(lab: KubeLab, ns: str, tmp: Path) -> list[dict[str, Any]]:
    """`python -m console get -n NS -o json`, as a runbook would run it."""
    env = dict(os.environ, XDG_STATE_HOME=str(tmp / "state"), PYTHONPATH=str(REPO))
    env.pop("KUBECONFIG", None)
    argv = [sys.executable, "-m", "console", "get", "-n", ns, "-o", "json"]
    done = subprocess.run(
        [*argv, "--kubeconfig", str(lab.kubeconfig)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    items: list[dict[str, Any]] = json.loads(done.stdout)["items"]
    return items


def item_for(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    [item] = [i for i in items if i["name"] == name]
    return item


@dataclass(frozen=True)
class Sent:
    body: dict[str, Any]
    answer: dict[str, Any]  # the Canary as the server returned it


def record_canary_patches(monkeypatch: pytest.MonkeyPatch, client: Any) -> list[Sent]:
    """Every merge patch the console's real client sends to a Canary, with the answer."""
    sent: list[Sent] = []
    real = client.merge_patch

    def merge_patch(
        rt: ResourceType, namespace: str, name: str, body: Mapping[str, Any], subresource: str = ""
    ) -> dict[str, Any]:
        answer: dict[str, Any] = real(rt, namespace, name, body, subresource)
        if rt == flagger.CANARIES:
            sent.append(Sent(copy.deepcopy(dict(body)), answer))
        return answer

    monkeypatch.setattr(client, "merge_patch", merge_patch)
    return sent


def without_status(obj: Mapping[str, Any]) -> dict[str, Any]:
    out = comparable(obj)
    out.pop("status", None)
    return out


# --- tests ------------------------------------------------------------------------------


def test_initialised_canary_is_shown_as_flagger_made_it(
    kube_lab: KubeLab, flagger_env: FlaggerEnv, tmp_path: Path
) -> None:
    ns = flagger_env.ns
    st = status(kube_lab, ns, SHOWN)
    assert st["phase"] == "Initialized" and st["canaryWeight"] == 0
    [promoted] = [c for c in st["conditions"] if c["type"] == "Promoted"]
    # Flagger made the primary (a copy of the target) and scaled the target to zero.
    primary = kube_lab.get_json("deployment", f"{SHOWN}-primary", "-n", ns)
    assert primary["metadata"]["ownerReferences"][0]["kind"] == "Canary"
    assert kube_lab.get_json("deployment", SHOWN, "-n", ns)["spec"]["replicas"] == 0
    vs = kube_lab.get_json("virtualservice", SHOWN, "-n", ns)
    assert vs["metadata"]["ownerReferences"][0]["kind"] == "Canary"
    assert vs_route(kube_lab, ns, SHOWN) == split(SHOWN, 0)

    items = console_get(kube_lab, ns, tmp_path)
    # Flagger's own VirtualService is not listed as a second (Istio) rollout.
    assert [i["provider"] for i in items if i["name"] == SHOWN] == ["flagger"]
    item = item_for(items, SHOWN)
    assert item["phase"] == "Healthy" and item["paused"] is False
    assert item["message"] == f"Flagger: Initialized - {promoted['message']}"
    assert item["extra"]["flagger phase"] == "Initialized"
    assert item["setWeight"] == 0 and item["actualWeight"] == 0
    assert item["step"]["current"] == 0 and item["step"]["total"] == MAX_WEIGHT // STEP
    assert item["stable"]["workload"] == f"{SHOWN}-primary"
    assert item["stable"]["desired"] == 2 and item["stable"]["ready"] == 2
    assert item["stable"]["images"][0]["tag"] == "6.5.0"
    assert item["canary"]["workload"] == SHOWN and item["canary"]["desired"] == 0
    assert item["warnings"] == []
    reasons = {u["action"]: u["reason"] for u in item["unavailable"]}
    assert reasons[Action.ROLLBACK.value] == flagger.NO_ROLLBACK


def test_rollback_and_advance_are_refused_with_the_reason(
    kube_lab: KubeLab, flagger_env: FlaggerEnv
) -> None:
    backend = backend_for(kube_lab.kubeconfig, flagger_env.ns)
    ref = find(backend, "flagger", SHOWN).ref
    with pytest.raises(ActionUnavailable, match="no manual rollback"):
        backend.act(ref, Action.ROLLBACK)
    with pytest.raises(ActionUnavailable, match="advances the canary itself"):
        backend.act(ref, Action.ADVANCE)


def test_the_crd_validates_suspend(kube_lab: KubeLab, flagger_env: FlaggerEnv) -> None:
    with pytest.raises(RuntimeError, match="suspend"):
        kube_lab.kubectl(
            "patch",
            "canary",
            SHOWN,
            "-n",
            flagger_env.ns,
            "--type=merge",
            "-p",
            '{"spec":{"suspend":"yes"}}',
        )


def test_canary_shadowed_by_its_own_virtualservice_can_still_be_paused(
    kube_lab: KubeLab, flagger_env: FlaggerEnv
) -> None:
    ns = flagger_env.ns
    # The VirtualService is Flagger's, owned by the Canary: the console drives the Canary.
    vs = kube_lab.get_json("virtualservice", SHADOWED, "-n", ns)
    [owner] = vs["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"]) == ("Canary", SHADOWED)
    backend = backend_for(kube_lab.kubeconfig, ns)
    assert [r.provider for r in backend.list() if r.ref.name == SHADOWED] == ["flagger"]
    backend.act(find(backend, "flagger", SHADOWED).ref, Action.PAUSE)
    assert canary(kube_lab, ns, SHADOWED)["spec"]["suspend"] is True
    assert mesh.PAUSED_ANNOTATION not in (
        kube_lab.get_json("virtualservice", SHADOWED, "-n", ns)["metadata"].get("annotations") or {}
    )


def test_flagger_obeys_suspend_resume_and_skip_analysis_and_only_the_leader_resets_it(
    kube_lab: KubeLab, flagger_env: FlaggerEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ns, name = flagger_env.ns, DRIVEN
    # A new revision of the target: Flagger starts a run and walks the weight up.
    kube_lab.kubectl("set", "image", f"deployment/{name}", "-n", ns, f"serving={IMAGE}:6.6.0")
    kube_lab.wait_for(
        lambda: (
            (st := status(kube_lab, ns, name)).get("phase") == "Progressing"
            and (st.get("canaryWeight") or 0) >= STEP
        ),
        timeout=6 * INTERVAL_S,
        what="Flagger to start the canary run and take its first step",
    )
    backend = backend_for(kube_lab.kubeconfig, ns)
    (cluster,) = backend.clusters.values()
    sent = record_canary_patches(monkeypatch, cluster.client)
    ref = find(backend, "flagger", name).ref

    # --- suspend: the console sends spec.suspend and nothing else ----------------------
    before = canary(kube_lab, ns, name)
    backend.act(ref, Action.PAUSE)
    assert [s.body for s in sent] == [{"spec": {"suspend": True}}]
    expected = without_status(before)
    expected["spec"]["suspend"] = True
    assert without_status(canary(kube_lab, ns, name)) == expected

    # ... and Flagger holds: from its first skipped tick on (a tick already under way
    # when the patch landed may still have stepped), the weight stays put.
    skipped = suspended_ticks(flagger_env, name)
    kube_lab.wait_for(
        lambda: suspended_ticks(flagger_env, name) > skipped,
        timeout=3 * INTERVAL_S,
        what="Flagger to skip a tick of the suspended canary",
    )
    held = status(kube_lab, ns, name)["canaryWeight"]
    assert STEP <= held < MAX_WEIGHT
    first = suspended_ticks(flagger_env, name)

    def holds_two_more_ticks() -> bool:
        st = status(kube_lab, ns, name)
        moved = (st["phase"], st["canaryWeight"], vs_route(kube_lab, ns, name))
        assert moved == ("Progressing", held, split(name, held)), "a suspended canary moved"
        return suspended_ticks(flagger_env, name) >= first + 2

    kube_lab.wait_for(holds_two_more_ticks, timeout=4 * INTERVAL_S, what="two more skipped ticks")

    # The console shows what Flagger reports while it holds.
    st = status(kube_lab, ns, name)
    item = item_for(console_get(kube_lab, ns, tmp_path), name)
    assert item["phase"] == "Paused" and item["paused"] is True
    assert item["message"].startswith("suspended (spec.suspend); Flagger: Progressing")
    assert item["setWeight"] == held == item["actualWeight"] == st["canaryWeight"]
    assert item["step"]["current"] == held // STEP
    assert item["extra"]["failed checks"] == f"{st['failedChecks']}/{THRESHOLD}" == f"0/{THRESHOLD}"
    assert item["stable"]["images"][0]["tag"] == "6.5.0"
    assert item["canary"]["images"][0]["tag"] == "6.6.0" and item["canary"]["desired"] == 2

    # --- resume: Flagger takes the next step -------------------------------------------
    backend.act(ref, Action.RESUME)
    assert sent[-1].body == {"spec": {"suspend": False}}
    kube_lab.wait_for(
        lambda: status(kube_lab, ns, name)["canaryWeight"] > held,
        timeout=3 * INTERVAL_S,
        what="Flagger to advance the resumed canary",
    )

    # --- promote: skipAnalysis, and Flagger promotes on its next tick -----------------
    stop = threading.Event()
    events = backend.watch(stop)
    seen: list[object] = []

    def consume() -> None:
        for event in events:
            seen.append(event)

    def skip_analysis() -> object:
        return canary(kube_lab, ns, name)["spec"].get("skipAnalysis")

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    try:
        kube_lab.wait_for(lambda: seen, timeout=20, what="the watch's first snapshot")
        result = backend.act(ref, Action.PROMOTE_FULL)
        assert "skipAnalysis=true" in result.after
        promote = sent[-1]
        assert promote.body["spec"] == {"skipAnalysis": True}
        assert promote.body["metadata"]["resourceVersion"]
        assert set(promote.body["metadata"]["annotations"]) == {flagger.SKIP_ANALYSIS_ANNOTATION}
        # The run was still going when the patch landed: nothing owed yet.
        assert promote.answer["status"]["phase"] == "Progressing"
        provider = flagger.FlaggerProvider()
        assert (
            provider.follow_up(cluster.client, find(backend, "flagger", name), promote.answer)
            is None
        )

        kube_lab.wait_for(
            lambda: any(
                isinstance(e, Upserted)
                and e.rollout.ref == ref
                and e.rollout.message.startswith("Flagger: Succeeded")
                for e in seen
            ),
            timeout=3 * INTERVAL_S,
            what="the watch to see Flagger's Succeeded",
        )
        # Flagger promoted: the primary runs the new image, all traffic goes to it.
        primary = kube_lab.get_json("deployment", f"{name}-primary", "-n", ns)
        assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == f"{IMAGE}:6.6.0"
        assert status(kube_lab, ns, name)["canaryWeight"] == 0
        assert vs_route(kube_lab, ns, name) == split(name, 0)
        # The console watched the run end, and wrote nothing.
        assert stays(lambda: skip_analysis() is True, 3), "a watching console wrote"
        assert [s.body["spec"] for s in sent] == [
            {"suspend": True},
            {"suspend": False},
            {"skipAnalysis": True},
        ]
        r = find(backend, "flagger", name)
        assert r.stable.images[0].tag == "6.6.0"
        assert any("skipAnalysis is still true" in w for w in r.warnings)

        # A follower guard does not write either; the leader does, once.
        Guard(
            backend,
            NoMetrics("no Prometheus in this test"),
            StaticResolver(),
            is_leader=lambda: False,
        ).evaluate(backend.list())
        assert skip_analysis() is True
        leader = Guard(backend, NoMetrics("no Prometheus in this test"), StaticResolver())
        kube_lab.wait_for(
            lambda: leader.evaluate(backend.list()) and skip_analysis() is False,
            timeout=20,
            what="the leader to reset skipAnalysis",
        )
    finally:
        stop.set()
        thread.join(timeout=10)
    reset = sent[-1].body
    assert reset["spec"] == {"skipAnalysis": False}
    assert reset["metadata"]["annotations"] == {flagger.SKIP_ANALYSIS_ANNOTATION: None}
    after = canary(kube_lab, ns, name)
    assert flagger.SKIP_ANALYSIS_ANNOTATION not in after["metadata"].get("annotations", {})
    assert after["status"]["phase"] == "Succeeded", "Flagger started anything after the reset"
    # One Event for the operator's promote, one for the leader's reset.
    reasons = kube_lab.kubectl(
        "get",
        "events",
        "-n",
        ns,
        "--field-selector",
        f"involvedObject.name={name}",
        "-o",
        "jsonpath={.items[*].reason}",
    ).split()
    assert reasons.count(reason_for(Action.PROMOTE_FULL)) == 2, reasons
