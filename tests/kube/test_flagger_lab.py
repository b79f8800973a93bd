"""Flagger Canaries against the lab's real kube-apiserver with Flagger's own CRD.

No Flagger controller runs in the lab: the tests prove what the console writes
(spec.suspend, spec.skipAnalysis and its reset) and that the CRD's schema
accepts it. Flagger's status is written by the test through the status
subresource, standing in for the controller.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from console.guard.gates import StaticResolver
from console.guard.loop import Guard
from console.kube import flagger, mesh
from console.kube.events import reason_for
from console.metrics.none import NoMetrics
from console.model import Action, ActionUnavailable, Phase, Upserted
from tests.kube.helpers import deployment, stays
from tests.kube.test_mesh_lab import backend_for, comparable, find, wait_ready
from tests.lab.kube import KubeLab

pytestmark = pytest.mark.lab


def canary_doc(ns: str, name: str = "podinfo") -> dict[str, Any]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "provider": "istio",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "service": {"port": 9898},
            "analysis": {"interval": "1m", "threshold": 5, "stepWeight": 10, "maxWeight": 50},
        },
    }


def set_status(lab: KubeLab, ns: str, status: dict[str, Any], name: str = "podinfo") -> None:
    # Stands in for the Flagger controller: status is only writable through /status.
    lab.kubectl(
        "patch",
        "canary",
        name,
        "-n",
        ns,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
    )


@pytest.fixture
def flagger_ns(kube_lab: KubeLab) -> Iterator[str]:
    ns = f"flagger-{uuid.uuid4().hex[:6]}"
    kube_lab.apply_yaml(
        yaml.safe_dump_all(
            [
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
                deployment(
                    ns, "podinfo", {"app": "podinfo"}, "ghcr.io/stefanprodan/podinfo:6.6.0", 1
                ),
                deployment(
                    ns,
                    "podinfo-primary",
                    {"app": "podinfo-primary"},
                    "ghcr.io/stefanprodan/podinfo:6.5.0",
                    2,
                ),
                canary_doc(ns),
            ]
        )
    )
    wait_ready(kube_lab, ns, "podinfo", "podinfo-primary")
    set_status(
        kube_lab,
        ns,
        {"phase": "Progressing", "canaryWeight": 20, "iterations": 2, "failedChecks": 0},
    )
    yield ns
    kube_lab.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_canary_is_listed_with_phase_weight_and_versions(
    kube_lab: KubeLab, flagger_ns: str
) -> None:
    r = find(backend_for(kube_lab.kubeconfig, flagger_ns), "flagger", "podinfo")
    assert r.phase is Phase.PROGRESSING and "Flagger: Progressing" in r.message
    assert r.set_weight == 20 and r.step_label == "2/5"
    assert r.stable.workload == "podinfo-primary" and r.stable.ready == 2
    assert r.canary is not None and r.canary.images[0].tag == "6.6.0"
    assert dict(r.extra)["iterations"] == "2"
    assert r.why_unavailable(Action.ROLLBACK) == flagger.NO_ROLLBACK


def test_pause_and_resume_set_spec_suspend(kube_lab: KubeLab, flagger_ns: str) -> None:
    before = kube_lab.get_json("canary", "podinfo", "-n", flagger_ns)
    backend = backend_for(kube_lab.kubeconfig, flagger_ns)
    ref = find(backend, "flagger", "podinfo").ref
    backend.act(ref, Action.PAUSE)
    paused = kube_lab.get_json("canary", "podinfo", "-n", flagger_ns)
    assert paused["spec"]["suspend"] is True
    expected = comparable(before)
    expected["spec"]["suspend"] = True
    assert comparable(paused) == expected
    r = find(backend, "flagger", "podinfo")
    assert r.phase is Phase.PAUSED and r.paused
    backend.act(ref, Action.RESUME)
    assert kube_lab.get_json("canary", "podinfo", "-n", flagger_ns)["spec"]["suspend"] is False


def test_the_crd_validates_suspend(kube_lab: KubeLab, flagger_ns: str) -> None:
    with pytest.raises(RuntimeError, match="suspend"):
        kube_lab.kubectl(
            "patch",
            "canary",
            "podinfo",
            "-n",
            flagger_ns,
            "--type=merge",
            "-p",
            '{"spec":{"suspend":"yes"}}',
        )


def test_promote_sets_skip_analysis_and_follow_up_resets_it(
    kube_lab: KubeLab, flagger_ns: str
) -> None:
    backend = backend_for(kube_lab.kubeconfig, flagger_ns)
    ref = find(backend, "flagger", "podinfo").ref
    backend.act(ref, Action.PROMOTE_FULL)
    promoted = kube_lab.get_json("canary", "podinfo", "-n", flagger_ns)
    assert promoted["spec"]["skipAnalysis"] is True
    assert flagger.SKIP_ANALYSIS_ANNOTATION in promoted["metadata"]["annotations"]

    (cluster,) = backend.clusters.values()
    provider = flagger.FlaggerProvider()
    r = find(backend, "flagger", "podinfo")
    # Still running: nothing owed yet.
    assert provider.follow_up(cluster.client, r, promoted) is None
    # "Flagger" finishes the promotion.
    set_status(kube_lab, flagger_ns, {"phase": "Succeeded", "canaryWeight": 0})
    done = cluster.client.get(flagger.CANARIES, flagger_ns, "podinfo")
    result = provider.follow_up(cluster.client, r, done)
    assert result is not None and "reset" in result.message
    after = kube_lab.get_json("canary", "podinfo", "-n", flagger_ns)
    assert after["spec"]["skipAnalysis"] is False
    assert flagger.SKIP_ANALYSIS_ANNOTATION not in after["metadata"].get("annotations", {})


def test_watching_never_writes_and_the_guards_leader_resets_skip_analysis(
    kube_lab: KubeLab, flagger_ns: str
) -> None:
    backend = backend_for(kube_lab.kubeconfig, flagger_ns)
    ref = find(backend, "flagger", "podinfo").ref
    backend.act(ref, Action.PROMOTE_FULL)
    stop = threading.Event()
    events = backend.watch(stop)
    seen: list[object] = []

    def consume() -> None:
        for event in events:
            seen.append(event)

    def skip_analysis() -> object:
        return kube_lab.get_json("canary", "podinfo", "-n", flagger_ns)["spec"].get("skipAnalysis")

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    try:
        kube_lab.wait_for(lambda: seen, timeout=20, what="the watch's first snapshot")
        # "Flagger" finishes the promotion. The console watches it end, and writes nothing.
        set_status(kube_lab, flagger_ns, {"phase": "Succeeded", "canaryWeight": 0})
        kube_lab.wait_for(
            lambda: any(
                isinstance(e, Upserted)
                and e.rollout.ref == ref
                and "Flagger: Succeeded" in e.rollout.message
                for e in seen
            ),
            timeout=20,
            what="the watch to see Succeeded",
        )
        assert stays(lambda: skip_analysis() is True, 3), "a watching console wrote"
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
    after = kube_lab.get_json("canary", "podinfo", "-n", flagger_ns)
    assert flagger.SKIP_ANALYSIS_ANNOTATION not in after["metadata"].get("annotations", {})
    # One Event for the operator's promote, one for the leader's reset.
    reasons = kube_lab.kubectl(
        "get", "events", "-n", flagger_ns, "-o", "jsonpath={.items[*].reason}"
    ).split()
    assert reasons.count(reason_for(Action.PROMOTE_FULL)) == 2, reasons


def test_rollback_and_advance_are_refused_with_the_reason(
    kube_lab: KubeLab, flagger_ns: str
) -> None:
    backend = backend_for(kube_lab.kubeconfig, flagger_ns)
    ref = find(backend, "flagger", "podinfo").ref
    with pytest.raises(ActionUnavailable, match="no manual rollback"):
        backend.act(ref, Action.ROLLBACK)
    with pytest.raises(ActionUnavailable, match="advances the canary itself"):
        backend.act(ref, Action.ADVANCE)


def test_canary_shadowed_by_its_own_virtualservice_can_still_be_paused(
    kube_lab: KubeLab, flagger_ns: str
) -> None:
    canary = kube_lab.get_json("canary", "podinfo", "-n", flagger_ns)
    vs = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {
            "name": "podinfo",
            "namespace": flagger_ns,
            "ownerReferences": [
                {
                    "apiVersion": "flagger.app/v1beta1",
                    "kind": "Canary",
                    "name": "podinfo",
                    "uid": canary["metadata"]["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": {
            "hosts": ["podinfo"],
            "http": [
                {
                    "route": [
                        {"destination": {"host": "podinfo-primary"}, "weight": 80},
                        {"destination": {"host": "podinfo-canary"}, "weight": 20},
                    ]
                }
            ],
        },
    }
    kube_lab.apply_yaml(yaml.safe_dump(vs))
    backend = backend_for(kube_lab.kubeconfig, flagger_ns)
    assert [r.provider for r in backend.list() if r.ref.name == "podinfo"] == ["flagger"]
    backend.act(find(backend, "flagger", "podinfo").ref, Action.PAUSE)
    assert kube_lab.get_json("canary", "podinfo", "-n", flagger_ns)["spec"]["suspend"] is True
    assert mesh.PAUSED_ANNOTATION not in (
        kube_lab.get_json("virtualservice", "podinfo", "-n", flagger_ns)["metadata"].get(
            "annotations"
        )
        or {}
    )
