"""The guard on the lab: real kube-apiserver, real Argo controller, real Prometheus.

The traffic lab serves a bad canary (v2: ~150 ms, 10 % errors) beside a healthy
stable (v1: ~15 ms); the guard loop runs in this process against the real
backend and Prometheus source, every INTERVAL_S, with lab-sized gate windows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from console.guard.gates import ACK_AT, ACK_BY, EVIDENCE, PAUSED_AT
from console.guard.loop import Guard
from console.guard.verdicts import DecisionKind, GateState
from console.metrics import make_prometheus_source
from console.model import Action, Metric, RolloutRef
from tests.kube import guard_helpers as G
from tests.kube.helpers import backend, deploy_canary, unique_ns
from tests.lab import sample
from tests.lab.kube import KubeLab
from tests.lab.prom import PrometheusLab

pytestmark = pytest.mark.lab


def _ref(ns: str) -> RolloutRef:
    return RolloutRef("lab", ns, sample.NAME)


def _events(lab: KubeLab, ns: str, reason: str) -> list[dict[str, Any]]:
    data = lab.get_json("events", "-n", ns, "--field-selector", f"reason={reason}")
    items: list[dict[str, Any]] = data["items"]
    return items


def test_guard_pauses_the_argo_canary_in_time_and_never_aborts(
    kube_lab: KubeLab, prom_lab: PrometheusLab, tmp_path: Path
) -> None:
    ns = unique_ns("guard-argo")
    deploy_canary(kube_lab, ns)  # held at an indefinite pause step, canary at 20 %
    b = backend(kube_lab, ns)
    probe = G.listed(b, sample.NAME)
    assert probe.canary is not None
    metrics = G.fast_source(prom_lab.url)
    # One gate: "the same gates" after the human's resume is then always that one.
    guard = Guard(b, metrics, G.p99_resolver())
    aborted: list[bool] = []

    def watch_abort(_: object) -> None:
        aborted.append(sample.get_rollout(kube_lab, ns).get("status", {}).get("abort") is True)

    traffic = sample.serve_bad_canary(
        kube_lab,
        prom_lab,
        ns,
        probe.stable.pods,
        probe.canary.pods,
        tmp_path / "traffic",
        job=f"guard-{ns}",
        duration=600,
    )
    try:
        run = G.loop(
            guard,
            b,
            until=lambda run: bool(run.decisions(_ref(ns), DecisionKind.PAUSED)),
            timeout=120,
            what="the guard's pause",
            each=watch_abort,
        )
        [paused] = run.decisions(_ref(ns), DecisionKind.PAUSED)
        # Breach onset: the first canary sample that breaks the p99 gate (the bad
        # canary is bad from its first request).
        m = metrics.fetch([probe], 120.0, 1.0)[probe.ref.key]
        canary = m.canary
        assert canary is not None
        onset = next(t for t, v in canary.get(Metric.LATENCY_P99).points if v >= 50)
        budget = G.K * G.INTERVAL_S + G.SCRAPE_S
        # Exactly on the K-th failing evaluation (3 of 5, no earlier, no later)...
        p99 = [
            next(g.state for g in r.verdicts[probe.ref.key].results if g.gate.name == "p99-latency")
            for r in run.reports
        ]
        first_fail = p99.index(GateState.FAIL)
        assert p99[first_fail : first_fail + G.K] == [GateState.FAIL] * G.K, p99
        assert len(p99) - 1 == first_fail + G.K - 1, p99
        # ... which is within K x interval + one scrape of the onset; the slack is for
        # evaluations that take longer than usual on a loaded 2-core machine.
        assert paused.at - onset <= budget + 4.0, (paused.at - onset, budget)

        ro = sample.get_rollout(kube_lab, ns)
        assert ro["spec"].get("paused") is True
        assert ro["status"].get("abort") is not True and not any(aborted)
        annotations = ro["metadata"]["annotations"]
        evidence = json.loads(annotations[EVIDENCE])
        assert evidence["p99-latency"] > 50  # the gates that breached: p99 first
        assert annotations[PAUSED_AT].endswith("Z")
        # The Event carries the evidence: values, threshold, n and the PromQL.
        [event] = _events(kube_lab, ns, "RolloutConsolePause")
        message = event["message"]
        assert "guard: p99-latency: canary " in message and "threshold < 50" in message
        assert "n=" in message and "histogram_quantile(0.99, sum by (" in message
        assert "istio_request_duration_milliseconds_bucket" in message
        # The controller sees the operator pause.
        G.loop(
            guard,
            b,
            until=lambda _: sample.get_rollout(kube_lab, ns)["status"].get("phase") == "Paused",
            timeout=30,
            what="the controller to report Paused",
        )

        # A human resumes: acknowledged, with who; no second pause on the same gates.
        b.act(_ref(ns), Action.RESUME)
        run = G.loop(
            guard,
            b,
            until=lambda run: bool(run.decisions(_ref(ns), DecisionKind.ACKNOWLEDGED)),
            timeout=30,
            what="the acknowledgement",
        )
        [ack] = run.decisions(_ref(ns), DecisionKind.ACKNOWLEDGED)
        user = b.clusters["lab"].config.user
        assert ack.text.startswith(f"{ns}/{sample.NAME}: {user} resumed it after")
        annotations = sample.get_rollout(kube_lab, ns)["metadata"]["annotations"]
        assert annotations.get(ACK_BY) == user, (annotations, run.decisions(_ref(ns)))
        assert annotations[ACK_AT].endswith("Z")
        quiet = G.loop(guard, b, until=G.evaluations(G.N + 2), timeout=60, each=watch_abort)
        assert quiet.states(_ref(ns))[-1] == GateState.FAIL.value
        assert not quiet.decisions(_ref(ns)), "same gates, no worse: no second pause"
        assert sample.get_rollout(kube_lab, ns)["spec"].get("paused") is not True

        # The metric got worse than the evidence (here: the evidence said half of it).
        halved = {k: v / 2 for k, v in evidence.items()}
        b.annotate(_ref(ns), {EVIDENCE: json.dumps(halved)})
        again = G.loop(
            guard,
            b,
            until=lambda run: bool(run.decisions(_ref(ns), DecisionKind.PAUSED)),
            timeout=60,
            what="a second pause on a worse metric",
            each=watch_abort,
        )
        assert len(again.decisions(_ref(ns), DecisionKind.PAUSED)) == 1
        ro = sample.get_rollout(kube_lab, ns)
        assert ro["spec"].get("paused") is True and ACK_AT not in ro["metadata"]["annotations"]
        assert len(_events(kube_lab, ns, "RolloutConsolePause")) == 2
        assert not any(aborted) and ro["status"].get("abort") is not True
    finally:
        traffic.stop()
        metrics.close()


def test_no_data_and_a_stopped_prometheus_never_pause(kube_lab: KubeLab, tmp_path: Path) -> None:
    from tests.lab.traffic import Behaviour, ServerSpec, TrafficLab
    from tests.lab.traffic.exposition import Workload

    ns = unique_ns("guard-nodata")
    deploy_canary(kube_lab, ns)  # canary at 20 %, but nobody sends a request
    b = backend(kube_lab, ns)
    probe = G.listed(b, sample.NAME)
    assert probe.canary is not None
    # Our own Prometheus, so this test may stop it.
    prom = PrometheusLab(tmp_path / "prom")
    prom.start()
    traffic = TrafficLab(tmp_path / "traffic", prom, job=f"guard-{ns}")
    try:
        metrics = make_prometheus_source(url=prom.url, rate_window_s=10.0, refresh_s=1.0)
        guard = Guard(b, metrics, G.fast_resolver())
        ref = probe.ref
        quiet = G.loop(guard, b, until=G.evaluations(G.N + 1), timeout=60)
        assert set(quiet.states(ref)) == {GateState.NO_DATA.value}
        [v] = [r.verdicts[ref.key] for r in quiet.reports[-1:]]
        assert all(g.state is GateState.NO_DATA for g in v.results)
        assert not quiet.decisions(ref) and b.list()[0].paused is False

        # The bad canary is seen failing (fewer than K times), then Prometheus stops.
        def wl(version: str, pods: tuple[str, ...]) -> Workload:
            return Workload(ns, sample.NAME, version, sample.NAME, pods=pods)

        traffic.start_servers(
            [
                ServerSpec(wl("v1", probe.stable.pods), Behaviour(latency_base_ms=15)),
                ServerSpec(
                    wl("v2", probe.canary.pods),
                    Behaviour(latency_base_ms=150, error_ratio=0.1),
                    seed=3,
                ),
            ]
        )
        traffic.start_loadgen(weights={"v1": 80, "v2": 20}, rps=40, duration=300)
        failing = G.loop(
            guard,
            b,
            until=lambda run: run.states(ref)[-1] == GateState.FAIL.value,
            timeout=60,
            what="the canary to fail once",
        )
        assert not failing.decisions(ref)
        prom.stop()
        stale = G.loop(guard, b, until=G.evaluations(G.N + 1), timeout=60)
        # The first evaluation may still be answered from the source's 1 s cache.
        states = stale.states(ref)
        assert set(states[1:]) == {GateState.STALE.value}, states
        assert not stale.decisions(ref)
        ro = sample.get_rollout(kube_lab, ns)
        assert ro["spec"].get("paused") is not True and ro["status"].get("abort") is not True
        metrics.close()
    finally:
        traffic.stop()
        prom.close()


def test_gate_sets_come_from_the_namespace_configmap(kube_lab: KubeLab) -> None:
    import yaml

    from console.guard.gates import CONFIGMAP_KEY, CONFIGMAP_NAME, GATES_ANNOTATION
    from console.guard.sources import make_resolver
    from console.metrics.none import NoMetrics

    ns = unique_ns("guard-cm")
    deploy_canary(kube_lab, ns)
    b = backend(kube_lab, ns)

    def configmap(text: str) -> None:
        cm = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": CONFIGMAP_NAME, "namespace": ns},
            "data": {CONFIGMAP_KEY: text},
        }
        kube_lab.apply_yaml(yaml.safe_dump(cm))

    configmap(G.FAST_GATES.replace("fast", "team"))
    kube_lab.kubectl("annotate", "rollout", sample.NAME, "-n", ns, f"{GATES_ANNOTATION}=team")

    def verdict_of(resolver: object) -> Any:
        guard = Guard(b, NoMetrics("no metrics here"), resolver)  # type: ignore[arg-type]
        probe = G.listed(b, sample.NAME)
        return guard.evaluate([probe]).verdicts[probe.ref.key]

    good = verdict_of(make_resolver(b))
    assert good.gate_set == "team" and good.state is not GateState.ERROR, good
    # A malformed ConfigMap: that rollout's verdict is ERROR, one sentence with the line.
    bad_gate = "      - name: p99\n        kind: absolute\n        metric: latency\n"
    configmap("sets:\n  team:\n    gates:\n" + bad_gate)
    bad = verdict_of(make_resolver(b))
    assert bad.state is GateState.ERROR
    where = f"ConfigMap {ns}/{CONFIGMAP_NAME}, line 6: sets.team.gates[0].metric "
    assert bad.error.startswith(where), bad.error
    assert "\n" not in bad.error and bad.error.endswith(".")


def test_argo_analysis_runs_are_shown_and_say_when_the_controller_can_abort(
    kube_lab: KubeLab, prom_lab: PrometheusLab
) -> None:
    """The real controller runs a background analysis against the lab's Prometheus."""
    import yaml

    ns = unique_ns("guard-analysis")
    deploy_canary(kube_lab, ns, start=False)
    template = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "slo", "namespace": ns},
        "spec": {
            "metrics": [
                {
                    "name": "error-rate",
                    "interval": "2s",
                    "successCondition": "result[0] < 1",
                    "provider": {"prometheus": {"address": prom_lab.url, "query": "vector(0.5)"}},
                },
                {
                    "name": "drift",
                    "interval": "2s",
                    "successCondition": "result[0] < 1",
                    "provider": {"prometheus": {"address": prom_lab.url, "query": "vector(2)"}},
                },
            ],
            "dryRun": [{"metricName": "drift"}],
        },
    }
    kube_lab.apply_yaml(yaml.safe_dump(template))
    patch = {
        "spec": {"strategy": {"canary": {"analysis": {"templates": [{"templateName": "slo"}]}}}}
    }
    kube_lab.kubectl(
        "patch", "rollout", sample.NAME, "-n", ns, "--type=merge", "-p", json.dumps(patch)
    )
    sample.start_canary(kube_lab, ns)
    b = backend(kube_lab, ns)

    def measured() -> Any:
        try:
            r = G.listed(b, sample.NAME)
        except AssertionError:
            return None
        if not r.analysis:
            return None
        metrics = {m.name: m for m in r.analysis[0].metrics}
        done = metrics.get("error-rate") and metrics["error-rate"].successful >= 1
        return r if done and metrics.get("drift") and metrics["drift"].failed >= 1 else None

    r = kube_lab.wait_for(measured, timeout=90, what="the controller's measurements")
    [run] = r.analysis
    assert run.kind == "background" and run.phase == "Running"
    metrics = {m.name: m for m in run.metrics}
    assert metrics["error-rate"].last_value == "[0.5]"
    assert metrics["error-rate"].condition == "success: result[0] < 1"
    assert metrics["drift"].dry_run and not metrics["error-rate"].dry_run
    # Only the metric that is not dry-run can make the controller abort.
    assert r.auto_rollback == "controller auto-abort armed: error-rate"
