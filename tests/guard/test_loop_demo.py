"""The guard loop against the real demo cluster on a hand-driven clock (no mocks).

yolo-detector's canary regresses (p99 ~2.5x, 3-5 % errors); the built-in gates judge
it, and the loop pauses it after K of N failed evaluations, with the evidence.
"""

from __future__ import annotations

import json

from console.demo import DemoBackend, DemoMetrics, ManualClock, make_demo
from console.guard.gates import (
    ACK_AT,
    ACK_BY,
    EVIDENCE,
    PAUSED_AT,
    GateConfigError,
    StaticResolver,
)
from console.guard.loop import REVISION_ANNOTATION, Guard, GuardReport, got_worse, revision_text
from console.guard.verdicts import (
    Comparison,
    DecisionKind,
    Gate,
    GateKind,
    GateResult,
    GateSet,
    GateState,
)
from console.model import Action, Metric, Rollout, RolloutRef

YOLO = RolloutRef("demo", "vision", "yolo-detector")
INTERVAL = 30.0


def _demo() -> tuple[DemoBackend, DemoMetrics, ManualClock]:
    clock = ManualClock()
    backend, metrics = make_demo(seed=7, clock=clock)
    return backend, metrics, clock


def _get(backend: DemoBackend, ref: RolloutRef) -> Rollout:
    found = backend.rollout(ref)
    assert found is not None
    return found


def _run(guard: Guard, backend: DemoBackend, clock: ManualClock, times: int) -> list[GuardReport]:
    out = []
    for _ in range(times):
        out.append(guard.evaluate(backend.list()))
        clock.advance(INTERVAL)
    return out


def _decisions(reports: list[GuardReport], ref: RolloutRef) -> list[tuple[DecisionKind, str]]:
    return [(d.kind, d.text) for r in reports for d in r.decisions if d.ref == ref]


def test_pauses_the_regressing_canary_after_k_of_n_with_the_evidence() -> None:
    backend, metrics, clock = _demo()
    guard = Guard(backend, metrics, StaticResolver(), clock=clock.now)
    first = _run(guard, backend, clock, 2)
    assert first[-1].verdicts[YOLO.key].state is GateState.FAIL
    assert not _decisions(first, YOLO), "2 of 5 is not a breach yet"
    assert not _get(backend, YOLO).paused
    third = _run(guard, backend, clock, 1)
    [(kind, text)] = _decisions(third, YOLO)
    assert kind is DecisionKind.PAUSED
    assert text.startswith("vision/yolo-detector: paused by the guard at ")
    assert "p99-latency: canary " in text and "threshold < 50" in text and "n=" in text
    after = _get(backend, YOLO)
    assert after.paused and not after.aborted, "a pause, never a rollback"
    evidence = json.loads(after.annotation(EVIDENCE) or "")
    assert evidence["p99-latency"] > 50 and evidence["error-rate"] > 0.1
    assert (after.annotation(PAUSED_AT) or "").endswith("Z")
    # Paused stays paused: no second pause, no resume, no advance by the guard.
    later = _run(guard, backend, clock, 4)
    assert not _decisions(later, YOLO)
    assert _get(backend, YOLO).paused
    assert [t for t, e in backend.events(YOLO) if e.startswith("guard:")] == [
        t for t, e in backend.events(YOLO) if e.startswith("guard: pause")
    ]


def test_dry_run_says_would_pause_once_and_writes_nothing() -> None:
    backend, metrics, clock = _demo()
    guard = Guard(backend, metrics, StaticResolver(), clock=clock.now, dry_run=True)
    reports = _run(guard, backend, clock, 6)
    said = _decisions(reports, YOLO)
    assert [k for k, _ in said] == [DecisionKind.WOULD_PAUSE]
    assert said[0][1].startswith("vision/yolo-detector: would pause at ")
    assert ", because p99-latency: canary " in said[0][1]
    r = _get(backend, YOLO)
    assert not r.paused and r.annotations == ()


def test_a_follower_judges_but_never_acts() -> None:
    backend, metrics, clock = _demo()
    guard = Guard(backend, metrics, StaticResolver(), clock=clock.now, is_leader=lambda: False)
    reports = _run(guard, backend, clock, 5)
    assert reports[-1].verdicts[YOLO.key].state is GateState.FAIL
    assert all(not r.decisions for r in reports)
    assert not _get(backend, YOLO).paused


def test_human_resume_is_acknowledged_and_only_a_worse_metric_pauses_again() -> None:
    backend, metrics, clock = _demo()
    guard = Guard(backend, metrics, StaticResolver(), clock=clock.now)
    _run(guard, backend, clock, 3)
    assert _get(backend, YOLO).paused
    backend.act(YOLO, Action.RESUME)  # the on-call engineer, from the console
    ack = _run(guard, backend, clock, 1)
    [(kind, text)] = _decisions(ack, YOLO)
    assert kind is DecisionKind.ACKNOWLEDGED
    assert text.startswith("vision/yolo-detector: operator resumed it after the guard's pause")
    r = _get(backend, YOLO)
    assert r.annotation(ACK_BY) == "operator" and r.annotation(ACK_AT)
    # Same gates, same badness: it keeps failing but is not paused again.
    quiet = _run(guard, backend, clock, 6)
    assert quiet[-1].verdicts[YOLO.key].state is GateState.FAIL
    assert not _decisions(quiet, YOLO)
    assert not _get(backend, YOLO).paused
    # The evidence said p99 was half of what it is now: >= 10 % worse pauses again.
    evidence = json.loads(r.annotation(EVIDENCE) or "")
    halved = {k: v / 2 for k, v in evidence.items()}
    backend.annotate(YOLO, {EVIDENCE: json.dumps(halved)})
    again: list[GuardReport] = []
    for _ in range(8):  # K of N again: the weight moved on meanwhile (warm-up, new count)
        again += _run(guard, backend, clock, 1)
        if _get(backend, YOLO).paused:
            break
    assert [k for k, _ in _decisions(again, YOLO)] == [DecisionKind.PAUSED]
    r = _get(backend, YOLO)
    assert r.paused and r.annotation(ACK_AT) is None


def test_got_worse_follows_the_direction_of_the_bound() -> None:
    upper = Gate("p99", GateKind.ABSOLUTE, Metric.LATENCY_P99, Comparison.LT, 50.0)
    lower = Gate("map", GateKind.CUSTOM, comparison=Comparison.GE, threshold=36.0, query="q")
    assert got_worse(GateResult(upper, GateState.FAIL, canary=110.0), 100.0)
    assert not got_worse(GateResult(upper, GateState.FAIL, canary=109.0), 100.0)
    assert got_worse(GateResult(lower, GateState.FAIL, canary=27.0), 30.0)
    assert not got_worse(GateResult(lower, GateState.FAIL, canary=28.0), 30.0)


class _Broken:
    def for_rollout(self, rollout: Rollout) -> GateSet:
        if rollout.ref == YOLO:
            raise GateConfigError(
                "ConfigMap vision/rollout-console-gates",
                7,
                "sets.x.gates[0].op",
                "must be one of <, <=, >, >=",
            )
        return StaticResolver().for_rollout(rollout)


def test_a_malformed_gate_set_is_that_rollouts_error_and_nothing_else() -> None:
    backend, metrics, clock = _demo()
    guard = Guard(backend, metrics, _Broken(), clock=clock.now)
    reports = _run(guard, backend, clock, 4)
    verdict = reports[-1].verdicts[YOLO.key]
    assert verdict.state is GateState.ERROR
    assert verdict.error == (
        "ConfigMap vision/rollout-console-gates, line 7: sets.x.gates[0].op must be one of "
        "<, <=, >, >=."
    )
    assert not _decisions(reports, YOLO) and not _get(backend, YOLO).paused
    others = [v for k, v in reports[-1].verdicts.items() if k != YOLO.key]
    assert others and all(v.state is not GateState.ERROR for v in others)


def test_custom_gates_need_prometheus() -> None:
    backend, metrics, clock = _demo()
    custom = GateSet(
        "acc",
        (
            Gate(
                "map",
                GateKind.CUSTOM,
                comparison=Comparison.GE,
                threshold=36.0,
                query="avg(m{ {selector} })",
            ),
        ),
    )
    guard = Guard(backend, metrics, StaticResolver({"acc": custom}, "acc"), clock=clock.now)
    report = guard.evaluate(backend.list())
    assert {v.state for v in report.verdicts.values()} == {GateState.ERROR}
    assert {v.error for v in report.verdicts.values()} == {"custom gates need Prometheus"}


def test_records_of_an_earlier_canary_never_shield_a_new_one() -> None:
    backend, metrics, clock = _demo()
    guard = Guard(backend, metrics, StaticResolver(), clock=clock.now)
    _run(guard, backend, clock, 3)
    r = _get(backend, YOLO)
    assert r.paused and r.annotation(REVISION_ANNOTATION) == revision_text(r)
    # A human resumes and the guard acknowledges; then the records are made to look
    # like an earlier canary's (as after a new image): the same gates pause it again.
    backend.act(YOLO, Action.RESUME)
    _run(guard, backend, clock, 1)
    assert _get(backend, YOLO).annotation(ACK_BY) == "operator"
    backend.annotate(YOLO, {REVISION_ANNOTATION: "1/oldhash/v1"})
    again: list[GuardReport] = []
    for _ in range(8):
        again += _run(guard, backend, clock, 1)
        if _get(backend, YOLO).paused:
            break
    assert [k for k, _ in _decisions(again, YOLO)] == [DecisionKind.PAUSED]
    # Undo removes the canary: the records are history and go away.
    backend.act(YOLO, Action.UNDO)
    _run(guard, backend, clock, 1)
    assert _get(backend, YOLO).annotations == ()


class _Owing:
    """The demo cluster plus a write an earlier action left owed (as Flagger's is)."""

    def __init__(self, inner: DemoBackend, read_only: bool = False) -> None:
        self.inner = inner
        self.read_only = read_only
        self.calls = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def finish_owed_writes(self) -> list[str]:
        self.calls += 1
        return ["demo/x: skipAnalysis reset"]


def test_only_an_acting_leader_does_owed_writes() -> None:
    backend, metrics, clock = _demo()
    cases = {
        "leader": (_Owing(backend), {}),
        "follower": (_Owing(backend), {"is_leader": lambda: False}),
        "dry-run": (_Owing(backend), {"dry_run": True}),
        "read-only": (_Owing(backend, read_only=True), {}),
    }
    for owing, kwargs in cases.values():
        guard = Guard(owing, metrics, StaticResolver(), clock=clock.now, **kwargs)  # type: ignore[arg-type]
        guard.evaluate(backend.list())
        guard.evaluate(backend.list())
    assert {name: owing.calls for name, (owing, _) in cases.items()} == {
        "leader": 2,
        "follower": 0,
        "dry-run": 0,
        "read-only": 0,
    }
