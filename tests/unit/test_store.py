from dataclasses import replace
from typing import TYPE_CHECKING

from console.listing import ordered
from console.model import (
    ConnectionState,
    Image,
    Notices,
    Phase,
    ProviderKind,
    Removed,
    Role,
    Rollout,
    RolloutRef,
    Snapshot,
    Step,
    StepKind,
    Upserted,
    VersionInfo,
)
from console.store import RolloutStore

if TYPE_CHECKING:
    from console.model import RolloutMetrics


def rollout(name: str, ns: str = "ml", phase: Phase = Phase.PROGRESSING, **kw: object) -> Rollout:
    return Rollout(
        ref=RolloutRef("demo", ns, name),
        provider=ProviderKind.DEMO,
        phase=phase,
        stable=VersionInfo(Role.STABLE, images=(Image.parse("m:v1"),)),
        canary=VersionInfo(Role.CANARY, images=(Image.parse("m:v2"),)),
        steps=(Step(StepKind.SET_WEIGHT, weight=10), Step(StepKind.PAUSE)),
        current_step=0,
        **kw,  # type: ignore[arg-type]
    )


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_snapshot_then_changes_are_logged_in_words() -> None:
    clock = FakeClock()
    store = RolloutStore(clock=clock)
    a = rollout("a")
    assert store.apply(Snapshot((a,)))
    assert not store.apply(Upserted(a)), "an identical object is not a change"
    clock.t += 5
    b = replace(a, phase=Phase.DEGRADED, aborted=True, current_step=1, set_weight=0)
    assert store.apply(Upserted(b))
    texts = [e.text for e in store.log_for(a.ref.key)]
    assert any("Progressing → Degraded (aborted)" in t for t in texts)
    assert any("step 0/2 → 1/2" in t for t in texts)
    assert store.updated_at == clock.t


def test_snapshot_removes_vanished_rollouts_of_its_cluster_only() -> None:
    store = RolloutStore()
    a, b = rollout("a"), rollout("b")
    other = replace(rollout("c"), ref=RolloutRef("other", "ml", "c"))
    store.apply(Snapshot((a, b, other)))
    store.apply(Snapshot((a,), cluster="demo"))
    assert set(store.rollouts) == {a.ref.key, other.ref.key}
    store.apply(Removed(a.ref))
    assert set(store.rollouts) == {other.ref.key}


def test_outage_keeps_its_first_since() -> None:
    store = RolloutStore()
    store.apply(ConnectionState(False, "connection refused", since=100.0, cluster="c1"))
    store.apply(ConnectionState(False, "still refused", since=130.0, cluster="c1"))
    stale = store.stale_for("c1")
    assert stale is not None and stale.since == 100.0 and stale.message == "still refused"
    store.apply(ConnectionState(True, cluster="c1"))
    assert store.stale_for("c1") is None


def test_ordered_puts_attention_first_and_filters_on_all_words() -> None:
    rows = [
        rollout("zeta"),
        rollout("alpha", phase=Phase.HEALTHY),
        rollout("yolo", ns="vision", phase=Phase.DEGRADED, aborted=True),
        rollout("beta", phase=Phase.PAUSED),
    ]
    assert [r.ref.name for r in ordered(rows)] == ["yolo", "beta", "alpha", "zeta"]
    assert [r.ref.name for r in ordered(rows, "vision aborted")] == ["yolo"]
    assert [r.ref.name for r in ordered(rows, "ml paused")] == ["beta"]
    assert ordered(rows, "nothing-matches") == []


def test_notices_replace_per_cluster_and_clear() -> None:
    store = RolloutStore(clock=FakeClock())
    assert store.apply(Notices(("Forbidden: a.",), cluster="east"))
    assert store.apply(Notices(("Forbidden: b.", "No CRDs."), cluster="west"))
    assert store.all_notices == ["Forbidden: a.", "Forbidden: b.", "No CRDs."]
    version = store.version
    assert not store.apply(Notices(("Forbidden: a.",), cluster="east")), "same notices"
    assert store.version == version
    assert store.apply(Notices((), cluster="west"))
    assert store.all_notices == ["Forbidden: a."]


# --- bounded memory (issue 9, item 8) -------------------------------------------


def test_a_busy_rollouts_log_keeps_only_its_newest_lines() -> None:
    from console.store import LOG_LENGTH

    clock = FakeClock()
    store = RolloutStore(clock=clock)
    a = rollout("a")
    store.apply(Snapshot((a,)))
    for weight in range(LOG_LENGTH * 3):
        clock.t += 1
        store.apply(Upserted(replace(a, set_weight=weight % 100, current_step=weight % 2)))
    log = store.log_for(a.ref.key)
    assert len(log) == LOG_LENGTH
    assert log[-1].at == clock.t, "the newest line is kept"


def test_every_rollouts_log_together_is_bounded() -> None:
    from console import store as store_module

    clock = FakeClock()
    store = RolloutStore(clock=clock)
    many = [rollout(f"r{i}") for i in range(300)]
    store.apply(Snapshot(tuple(many)))
    for turn in range(1, 120):
        clock.t += 1
        for r in many:
            store.apply(Upserted(replace(r, set_weight=turn % 100)))
    # 300 x 120 lines were logged, more than LOG_TOTAL; per rollout they fit LOG_LENGTH.
    assert store_module.LOG_TOTAL < 300 * 120
    assert store.log_size() == store_module.LOG_TOTAL
    assert len(store._log_order) <= store_module.LOG_TOTAL
    # The oldest lines went first: every rollout still has its newest line.
    assert all(store.log_for(r.ref.key)[-1].at == clock.t for r in many)


def test_deleting_a_rollout_frees_its_history() -> None:
    from console.guard.verdicts import GateState, Verdict

    store = RolloutStore(clock=FakeClock())
    a, b = rollout("a"), rollout("b")
    store.apply(Snapshot((a, b)))
    store.set_metrics({a.ref.key: metrics_of(a), b.ref.key: metrics_of(b)})
    store.verdicts = {r.ref.key: Verdict(r.ref, GateState.PASS) for r in (a, b)}
    store.log_action(a.ref.key, "paused")
    store.apply(Removed(a.ref))
    assert a.ref.key not in store.logs
    assert a.ref.key not in store.metrics
    assert a.ref.key not in store.verdicts
    assert store.log_for(a.ref.key) == []
    assert b.ref.key in store.logs and b.ref.key in store.metrics
    # Gone from a later Snapshot (a relist after a 410) frees it the same way.
    store.apply(Snapshot((a,)))
    assert b.ref.key not in store.logs and b.ref.key not in store.metrics
    # A metrics fetch that started before the deletion does not bring it back.
    store.set_metrics({b.ref.key: metrics_of(b)})
    assert b.ref.key not in store.metrics


def test_churn_of_created_and_deleted_rollouts_leaves_nothing_behind() -> None:
    clock = FakeClock()
    store = RolloutStore(clock=clock)
    keep = rollout("keep")
    store.apply(Snapshot((keep,)))
    for i in range(500):
        clock.t += 1
        r = rollout(f"ci-{i}", ns=f"pr-{i}")
        store.apply(Upserted(r))
        store.apply(Upserted(replace(r, set_weight=50)))
        store.apply(Removed(r.ref))
    assert set(store.rollouts) == {keep.ref.key}
    assert set(store.logs) == {keep.ref.key}


def metrics_of(r: Rollout) -> "RolloutMetrics":
    from console.model import RolloutMetrics, VersionMetrics

    return RolloutMetrics(r.ref, VersionMetrics(Role.STABLE), VersionMetrics(Role.CANARY))
