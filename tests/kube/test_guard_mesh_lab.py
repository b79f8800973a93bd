"""The guard on mesh-weighted canaries (Istio VirtualService, no controller) in the lab.

The load generator follows the live VirtualService weights, so each weight the
guard writes really moves the traffic the gates then judge.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from console.guard.gates import EVIDENCE, GUARD_ANNOTATION, PAUSED_AT
from console.guard.loop import Guard
from console.guard.verdicts import DecisionKind
from console.kube import mesh
from console.model import Action, ConsoleError, Rollout
from tests.kube import guard_helpers as G
from tests.kube.helpers import backend, deployment, service, unique_ns
from tests.lab.kube import KubeLab
from tests.lab.prom import PrometheusLab
from tests.lab.traffic import Behaviour, ServerSpec, TrafficLab
from tests.lab.traffic.exposition import Workload

pytestmark = pytest.mark.lab

APP = "detector"
ROUTE = "split"
PLAN = "10,20,30,50,100"


def _docs(ns: str, canary_weight: int, opt_in: bool) -> list[dict[str, Any]]:
    annotations = {mesh.STABLE_SUBSET_ANNOTATION: "v1", mesh.STEPS_ANNOTATION: PLAN}
    if opt_in:
        annotations[GUARD_ANNOTATION] = "progress"
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        deployment(ns, f"{APP}-v1", {"app": APP, "version": "v1"}, "det:v1.0.0", 2),
        deployment(ns, f"{APP}-v2", {"app": APP, "version": "v2"}, "det:v2.0.0", 1),
        service(ns, APP, {"app": APP}),
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "DestinationRule",
            "metadata": {"name": APP, "namespace": ns},
            "spec": {
                "host": APP,
                "subsets": [
                    {"name": "v1", "labels": {"version": "v1"}},
                    {"name": "v2", "labels": {"version": "v2"}},
                ],
            },
        },
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "metadata": {"name": APP, "namespace": ns, "annotations": annotations},
            "spec": {
                "hosts": [APP],
                "http": [
                    {
                        "name": ROUTE,
                        "route": [
                            {
                                "destination": {"host": APP, "subset": "v1"},
                                "weight": 100 - canary_weight,
                            },
                            {"destination": {"host": APP, "subset": "v2"}, "weight": canary_weight},
                        ],
                    }
                ],
            },
        },
    ]


def _setup(lab: KubeLab, prefix: str, *, canary_weight: int, opt_in: bool) -> tuple[str, Rollout]:
    ns = unique_ns(prefix)
    lab.apply_yaml(yaml.safe_dump_all(_docs(ns, canary_weight, opt_in)))
    b = backend(lab, ns)

    def ready() -> Rollout | None:
        try:
            rs = [r for r in b.list() if r.ref.name == APP]
        except ConsoleError:  # 429 while a fresh lab's CRD storage initialises
            return None
        r = rs[0] if rs else None
        ok = r is not None and r.canary is not None and r.canary.ready and r.stable.ready == 2
        return r if ok else None

    rollout = lab.wait_for(ready, timeout=90, what=f"mesh canary {ns}/{APP} with ready pods")
    return ns, rollout


def _serve(
    lab: KubeLab,
    prom: PrometheusLab,
    workdir: Path,
    r: Rollout,
    canary: Behaviour,
) -> TrafficLab:
    assert r.canary is not None
    ns = r.ref.namespace

    def wl(version: str, pods: tuple[str, ...]) -> Workload:
        return Workload(ns, f"{APP}-{version}", version, APP, pods=pods)

    traffic = TrafficLab(workdir, prom, job=f"guard-{ns}")
    try:
        traffic.start_servers(
            [
                ServerSpec(wl("v1", r.stable.pods), Behaviour(latency_base_ms=15)),
                ServerSpec(wl("v2", r.canary.pods), canary, seed=5),
            ]
        )
        traffic.start_loadgen(
            virtualservice=f"{ns}/{APP}",
            kubeconfig=lab.kubeconfig,
            route=ROUTE,
            rps=40,
            duration=600,
        )
    except BaseException:
        traffic.stop()
        raise
    return traffic


def _vs(lab: KubeLab, ns: str) -> dict[str, Any]:
    out: dict[str, Any] = lab.get_json("virtualservice.networking.istio.io", APP, "-n", ns)
    return out


def _canary_weight(lab: KubeLab, ns: str) -> int:
    return int(_vs(lab, ns)["spec"]["http"][0]["route"][1]["weight"])


def test_guard_advances_a_healthy_opted_in_canary_step_by_step_and_never_a_paused_one(
    kube_lab: KubeLab, prom_lab: PrometheusLab, tmp_path: Path
) -> None:
    ns, r = _setup(kube_lab, "guard-mesh-ok", canary_weight=10, opt_in=True)
    traffic = _serve(kube_lab, prom_lab, tmp_path / "traffic", r, Behaviour(latency_base_ms=14))
    metrics = G.fast_source(prom_lab.url)
    b = backend(kube_lab, ns)
    guard = Guard(b, metrics, G.fast_resolver())
    weights: list[int] = []
    try:
        run = G.loop(
            guard,
            b,
            until=lambda run: len(run.decisions(r.ref, DecisionKind.ADVANCED)) >= 2,
            timeout=150,
            what="two guard-driven steps",
            each=lambda _: weights.append(_canary_weight(kube_lab, ns)),
        )
        advanced = run.decisions(r.ref, DecisionKind.ADVANCED)
        assert [d.text.split(": every gate passed")[0] for d in advanced] == [r.ref.short] * 2
        assert "at 10%; next step 20%" in advanced[0].text
        assert "at 20%; next step 30%" in advanced[1].text
        # Step by step, in the plan's order, never skipping or going back.
        seen = list(dict.fromkeys(weights))
        assert seen[:3] == [10, 20, 30] or seen[:2] == [10, 20], weights
        assert _canary_weight(kube_lab, ns) == 30
        # Each step only after every gate passed for the hold time.
        assert advanced[1].at - advanced[0].at >= G.HOLD_S
        assert not run.decisions(r.ref, DecisionKind.PAUSED)

        # A human pauses: the guard leaves the weights alone, however healthy.
        b.act(r.ref, Action.PAUSE)
        frozen = G.loop(guard, b, until=G.evaluations(6), timeout=60)
        assert not frozen.decisions(r.ref)
        assert _canary_weight(kube_lab, ns) == 30
        assert _vs(kube_lab, ns)["metadata"]["annotations"][mesh.PAUSED_ANNOTATION] == "true"
    finally:
        traffic.stop()
        metrics.close()


def test_guard_pauses_a_bad_mesh_canary_and_freezes_its_weight(
    kube_lab: KubeLab, prom_lab: PrometheusLab, tmp_path: Path
) -> None:
    # Not opted in to progression: the guard still pauses it on a breach.
    ns, r = _setup(kube_lab, "guard-mesh-bad", canary_weight=20, opt_in=False)
    bad = Behaviour(latency_base_ms=150, latency_jitter_ms=60, error_ratio=0.10)
    traffic = _serve(kube_lab, prom_lab, tmp_path / "traffic", r, bad)
    metrics = G.fast_source(prom_lab.url)
    b = backend(kube_lab, ns)
    guard = Guard(b, metrics, G.fast_resolver())
    try:
        run = G.loop(
            guard,
            b,
            until=lambda run: bool(run.decisions(r.ref)),
            timeout=120,
            what="the guard's pause",
        )
        [d] = run.decisions(r.ref)
        assert d.kind is DecisionKind.PAUSED, d.text
        vs = _vs(kube_lab, ns)
        annotations = vs["metadata"]["annotations"]
        assert annotations[mesh.PAUSED_ANNOTATION] == "true"
        assert annotations[PAUSED_AT].endswith("Z") and "p99-latency" in annotations[EVIDENCE]
        assert _canary_weight(kube_lab, ns) == 20, "the weight is frozen, not rolled back"
        after = G.loop(guard, b, until=G.evaluations(4), timeout=30)
        assert not after.decisions(r.ref) and _canary_weight(kube_lab, ns) == 20
        events = kube_lab.get_json(
            "events", "-n", ns, "--field-selector", "reason=RolloutConsolePause"
        )["items"]
        assert len(events) == 1 and "guard: p99-latency" in events[0]["message"]
    finally:
        traffic.stop()
        metrics.close()
