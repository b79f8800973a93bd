"""The guard's UI logic without a UI: list order, sticky ranks, the store, the status
line's words, the demo's gate sets and how the command line wires the guard."""

from __future__ import annotations

from dataclasses import replace

import pytest

from console.cli import build_parser
from console.demo import ManualClock, make_demo
from console.demo.gates import demo_gate_config, demo_resolver
from console.guard.loop import Guard
from console.guard.verdicts import (
    Decision,
    DecisionKind,
    GateState,
    GuardStatus,
    Verdict,
)
from console.listing import FAILING, WAITING, StickyRanks, attention, ordered
from console.model import Phase, Step, StepKind
from console.screens.status_line import guard_text
from console.sources import make_guard
from console.store import DECISIONS_KEPT, RolloutStore
from tests.unit.test_store import rollout


def _verdict(name: str, state: GateState, at: float = 0.0) -> Verdict:
    return Verdict(rollout(name).ref, state, at=at)


def test_failing_and_waiting_on_a_human_sort_first() -> None:
    timed = replace(
        rollout("timed", phase=Phase.PAUSED),
        steps=(Step(StepKind.SET_WEIGHT, weight=10), Step(StepKind.PAUSE, duration_s=60)),
        current_step=1,
    )
    waiting = replace(rollout("waiting", phase=Phase.PAUSED), current_step=1)  # pause ∞
    frozen = rollout("frozen", phase=Phase.PAUSED, paused=True)
    failing = rollout("failing")
    calm = rollout("calm")
    verdicts = {failing.ref.key: _verdict("failing", GateState.FAIL)}
    assert attention(failing, verdicts[failing.ref.key]) == FAILING
    assert attention(waiting) == attention(frozen) == WAITING
    assert attention(timed) == 0, "a pause that ends by itself needs nobody"
    names = [r.ref.name for r in ordered([calm, timed, waiting, frozen, failing], "", verdicts)]
    assert names == ["failing", "frozen", "waiting", "calm", "timed"]


def test_the_filter_finds_verdicts_and_guard_pauses() -> None:
    alpha, beta = rollout("alpha"), rollout("beta")
    gamma = replace(
        rollout("gamma", phase=Phase.PAUSED, paused=True),
        annotations=(("rollout-console.io/guard-paused-at", "2026-01-01T00:00:00Z"),),
    )
    verdicts = {alpha.ref.key: _verdict("alpha", GateState.FAIL)}
    assert [r.ref.name for r in ordered([alpha, beta, gamma], "fail", verdicts)] == ["alpha"]
    assert [r.ref.name for r in ordered([alpha, beta, gamma], "guard")] == ["gamma"]


def test_sticky_ranks_rise_at_once_and_fall_only_after_settling() -> None:
    ranks = StickyRanks(settle_s=30)
    assert ranks.rank("a", 3, now=0) == 3
    assert ranks.rank("a", 0, now=10) == 3, "a blip does not move the row"
    assert ranks.rank("a", 3, now=15) == 3
    assert ranks.rank("a", 0, now=20) == 3
    assert ranks.rank("a", 0, now=49) == 3
    assert ranks.rank("a", 0, now=50) == 0, "lower for 30 s: it moves down"
    assert ranks.rank("a", 2, now=51) == 2
    ranks.forget_except([])
    assert ranks.rank("a", 0, now=52) == 0


def test_store_keeps_verdicts_a_bounded_decision_log_and_the_guard_status() -> None:
    store = RolloutStore(clock=lambda: 100.0)
    store.set_guard_status(GuardStatus(active=True, holder="this console"))
    a = rollout("a")
    decision = Decision(a.ref, DecisionKind.PAUSED, 90.0, "paused: p99 95 ms not < 50 ms")
    version = store.version
    new = store.set_guard_report({a.ref.key: _verdict("a", GateState.FAIL)}, [decision], 95.0)
    assert new == [decision] and store.version > version
    assert store.verdicts[a.ref.key].state is GateState.FAIL
    assert store.guard[""].last_evaluation == 95.0
    [entry] = store.log_for(a.ref.key)
    assert entry.kind == "guard" and "p99 95 ms" in entry.text
    # The next evaluation replaces every verdict: a rollout without a canary has none.
    store.set_guard_report({}, [], 100.0)
    assert store.verdicts == {}
    for i in range(DECISIONS_KEPT + 5):
        store.set_guard_report({}, [replace(decision, at=float(i))], float(i))
    assert len(store.decisions) == DECISIONS_KEPT
    assert store.decisions_for(a.ref.key)[-1].at == DECISIONS_KEPT + 4


def test_guard_status_words() -> None:
    assert guard_text(GuardStatus(active=False), 0).plain == "no guard"
    assert guard_text(GuardStatus(active=False, holder="pod-1", cluster="prod"), 0).plain == (
        "no guard prod (Lease: pod-1, expired)"
    )
    active = GuardStatus(active=True, holder="guard-7d9", last_evaluation=90.0, dry_run=True)
    assert guard_text(active, 100.0).plain == "guard dry-run: guard-7d9, 10s ago"
    fresh = GuardStatus(active=True, holder="this console")
    assert guard_text(fresh, 100.0).plain == "guard: this console, not evaluated yet"


def test_demo_gate_sets_fit_their_services() -> None:
    config = demo_gate_config()
    assert set(config.namespaces) == {"ml-serving", "vision", "genai", "recsys"}
    clock = ManualClock()
    backend, metrics = make_demo(seed=7, clock=clock)
    guard = Guard(backend, metrics, demo_resolver(), clock=clock.now)
    report = guard.evaluate(backend.list())
    states = {key.rsplit("/", 1)[-1]: v.state for key, v in report.verdicts.items()}
    assert states["yolo-detector"] is GateState.FAIL
    assert states["tf-serving"] is GateState.PASS
    assert states["llm-gateway"] is GateState.PASS
    assert states["facefusion"] is GateState.PASS, "the leak has not grown enough yet"
    assert states["whisper-asr"] is GateState.NO_DATA, "an aborted canary serves nothing"
    assert "bert-ranker" not in states, "no canary, no verdict"


@pytest.mark.parametrize(
    ("argv", "runs", "dry_run"),
    [
        (["--demo"], True, False),
        (["--demo", "--no-guard"], False, False),
        (["--demo", "--read-only"], True, True),
    ],
)
def test_the_demo_runs_its_guard_by_default(argv: list[str], runs: bool, dry_run: bool) -> None:
    args = build_parser().parse_args(argv)
    backend, metrics = make_demo(seed=7, read_only=args.read_only, clock=ManualClock())
    wiring = make_guard(args, backend, metrics)
    assert (wiring.guard is not None) is runs
    if wiring.guard is not None:
        assert wiring.guard.dry_run is dry_run
        assert wiring.clock is not None and wiring.clock() == backend.cluster.clock.now()


def test_guard_and_no_guard_exclude_each_other() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--guard", "--no-guard"])
