"""Filtering and ordering of the rollout list (pure, unit-tested)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from console.guard.gates import PAUSED_AT_ANNOTATION
from console.guard.verdicts import GateState, Verdict
from console.model import Phase, Rollout, StepKind

#: Attention ranks, highest first in the list.
FAILING = 3  # a failing verdict, Degraded, aborted
WAITING = 2  # frozen by someone, or at a pause step only a human ends
ODD = 1  # warnings, Unknown, a moving image tag, a verdict that could not be made
CALM = 0

#: A rank falls only after it has been lower this long: a verdict that flips on a
#: blip, or a rollout between two steps, must not make rows jump on every refresh.
SETTLE_S = 30.0


def matches(rollout: Rollout, query: str, verdict: Verdict | None = None) -> bool:
    """Every whitespace-separated word must appear in some field (k9s-style); the
    verdict's words too ("/fail" finds the failing canaries)."""
    haystack = " ".join(
        [
            verdict.state.value.replace("_", " ") if verdict is not None else "",
            "guard" if rollout.annotation(PAUSED_AT_ANNOTATION) is not None else "",
            rollout.ref.cluster,
            rollout.ref.namespace,
            rollout.ref.name,
            rollout.phase.value,
            "aborted" if rollout.aborted else "",
            rollout.provider.value,
            rollout.stable.display,
            rollout.canary.display if rollout.canary else "",
        ]
    ).lower()
    return all(word in haystack for word in query.lower().split())


def timed_pause(rollout: Rollout) -> bool:
    """Waiting at a pause step that ends by itself: nobody needs to look."""
    step = rollout.current
    return (
        not rollout.paused
        and not rollout.aborted
        and step is not None
        and step.kind is StepKind.PAUSE
        and step.duration_s is not None
    )


def waiting_on_human(rollout: Rollout) -> bool:
    """Frozen by an operator or the guard, or at a pause step with no duration."""
    if rollout.aborted or rollout.canary is None:
        return False
    return rollout.paused or (rollout.phase is Phase.PAUSED and not timed_pause(rollout))


def attention(rollout: Rollout, verdict: Verdict | None = None) -> int:
    """Higher means look here first."""
    state = verdict.state if verdict is not None else None
    if rollout.phase is Phase.DEGRADED or rollout.aborted or state is GateState.FAIL:
        return FAILING
    if waiting_on_human(rollout):
        return WAITING
    if (
        rollout.warnings
        or rollout.phase is Phase.UNKNOWN
        or rollout.stable.moving_image
        or (rollout.canary is not None and rollout.canary.moving_image)
        or state is GateState.ERROR
    ):
        return ODD
    return CALM


class StickyRanks:
    """Attention ranks that rise at once and fall only after SETTLE_S lower."""

    def __init__(self, settle_s: float = SETTLE_S) -> None:
        self.settle_s = settle_s
        self._rank: dict[str, int] = {}
        self._lower_since: dict[str, float] = {}

    def rank(self, key: str, wanted: int, now: float) -> int:
        held = self._rank.get(key)
        if held is None or wanted >= held:
            self._rank[key] = wanted
            self._lower_since.pop(key, None)
            return wanted
        since = self._lower_since.setdefault(key, now)
        if now - since >= self.settle_s:
            self._rank[key] = wanted
            del self._lower_since[key]
            return wanted
        return held

    def forget_except(self, keys: Iterable[str]) -> None:
        keep = set(keys)
        for key in [k for k in self._rank if k not in keep]:
            self._rank.pop(key, None)
            self._lower_since.pop(key, None)


def _step_progress(r: Rollout) -> float:
    if not r.steps or r.current_step is None:
        return -1.0
    return r.current_step / len(r.steps)


#: Sort columns, k9s style (shift+letter; repeating the key turns the direction).
#: column -> (table column it marks, the value sorted on).
SORTS: dict[str, tuple[str, Callable[[Rollout], object]]] = {
    "name": ("name", lambda r: r.ref.name),
    "status": ("phase", lambda r: r.status_text),
    "step": ("step", _step_progress),
    "weight": ("weight", lambda r: r.set_weight),
    # Oldest first; the key again: youngest first.
    "age": ("age", lambda r: r.created_at),
}


@dataclass(frozen=True)
class SortOrder:
    column: str
    descending: bool = False

    def toggled(self, column: str) -> SortOrder:
        """The same column again turns the direction; another starts ascending."""
        if column == self.column:
            return SortOrder(column, not self.descending)
        return SortOrder(column)


def ordered(
    rollouts: Iterable[Rollout],
    query: str = "",
    verdicts: Mapping[str, Verdict] | None = None,
    *,
    ranks: StickyRanks | None = None,
    now: float = 0.0,
    sort: SortOrder | None = None,
) -> list[Rollout]:
    """Needs-attention first, then by namespace and name (stable across refreshes);
    or by `sort`'s column, ties in namespace and name order."""
    verdicts = verdicts or {}
    chosen = [r for r in rollouts if not query or matches(r, query, verdicts.get(r.ref.key))]
    if sort is not None and sort.column in SORTS:
        value = SORTS[sort.column][1]
        # Two stable sorts: ties keep the name order in either direction.
        chosen.sort(key=lambda r: (r.ref.cluster, r.ref.namespace, r.ref.name))
        chosen.sort(key=value, reverse=sort.descending)  # type: ignore[arg-type]
        return chosen

    def rank(r: Rollout) -> int:
        wanted = attention(r, verdicts.get(r.ref.key))
        return wanted if ranks is None else ranks.rank(r.ref.key, wanted, now)

    keyed = [(-rank(r), r.ref.cluster, r.ref.namespace, r.ref.name, r) for r in chosen]
    keyed.sort(key=lambda k: k[:4])
    return [k[4] for k in keyed]
