from dataclasses import replace

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
