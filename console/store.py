"""What the UI currently knows: rollouts, metrics, connection state, change log.

Plain Python (no textual) so it is unit-tested without an app. The app feeds
it StreamEvents and metrics; screens read from it.

Every text enters the UI here, whichever backend sent it, so the store keeps
only clean text (console/untrusted.py): no control sequence or bidi override
reaches a widget. The Kubernetes backend has cleaned it already (for headless
output and the audit log); cleaning clean text costs one scan.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from console.guard.verdicts import Decision, DecisionKind, GuardStatus, Verdict
from console.model import (
    ConnectionState,
    Notices,
    Removed,
    Rollout,
    RolloutMetrics,
    Snapshot,
    StreamEvent,
    Upserted,
)
from console.untrusted import clean_line, clean_ref, clean_rollout

#: Change-log lines kept per rollout. The detail view shows the newest 8; a rollout
#: that changes every few seconds would otherwise fill memory with lines nobody
#: reads.
LOG_LENGTH = 100
#: Change-log lines kept for all rollouts together. Per rollout alone is not a
#: bound that holds: 1,000 rollouts x LOG_LENGTH is 100,000 lines (~25 MB),
#: reached after half an hour at 50 changes/s. The oldest lines go first,
#: whichever rollout they belong to, so a quiet rollout's history can be evicted
#: by busy ones; ~2.5 MB at this size.
LOG_TOTAL = 10_000
#: Guard decisions kept for the UI (the audit log keeps them all).
DECISIONS_KEPT = 100


@dataclass(frozen=True, slots=True)
class LogEntry:
    at: float
    key: str
    text: str
    kind: str = "status"  # "status" | "action" | "error" | "guard"


@dataclass
class RolloutStore:
    clock: Callable[[], float] = time.time
    rollouts: dict[str, Rollout] = field(default_factory=dict)
    metrics: dict[str, RolloutMetrics] = field(default_factory=dict)
    connection: dict[str, ConnectionState] = field(default_factory=dict)
    #: Standing problems by cluster (a kind the identity may not list, no CRDs).
    notices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    logs: dict[str, deque[LogEntry]] = field(default_factory=dict)
    #: Every logged line in order, for the LOG_TOTAL bound (a line a rollout's own
    #: deque or a removal dropped already is skipped when it falls off here).
    _log_order: deque[LogEntry] = field(default_factory=deque, repr=False)
    #: The guard's newest verdict per rollout key (only rollouts with a canary).
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    #: The guard's decisions, newest last, bounded.
    decisions: deque[Decision] = field(default_factory=lambda: deque(maxlen=DECISIONS_KEPT))
    #: Whether a guard runs, per cluster ("" = the guard inside this console).
    guard: dict[str, GuardStatus] = field(default_factory=dict)
    updated_at: float = 0.0
    #: Bumped on every change, so views can skip work when nothing moved.
    version: int = 0

    # --- stream -----------------------------------------------------------

    def apply(self, event: StreamEvent) -> bool:
        """Apply one change; returns whether anything visible changed."""
        now = self.clock()
        changed = False
        if isinstance(event, Snapshot):
            keep = {clean_ref(r.ref).key for r in event.rollouts}
            for key in list(self.rollouts):
                in_scope = not event.cluster or self.rollouts[key].ref.cluster == event.cluster
                if in_scope and key not in keep:
                    self._forget(key)
                    changed = True
            for rollout in event.rollouts:
                changed |= self._upsert(rollout, now)
        elif isinstance(event, Upserted):
            changed = self._upsert(event.rollout, now)
        elif isinstance(event, Removed):
            key = clean_ref(event.ref).key
            if key in self.rollouts:
                self._forget(key)
                changed = True
        elif isinstance(event, ConnectionState):
            event = replace(event, message=clean_line(event.message))
            previous = self.connection.get(event.cluster)
            if previous is None or previous.connected != event.connected:
                changed = True
            # Keep the first "since" of an outage: the age is what matters.
            if not event.connected and previous is not None and not previous.connected:
                since = min(previous.since, event.since)
                event = ConnectionState(False, event.message, since, event.cluster)
                changed |= previous.message != event.message
            self.connection[event.cluster] = event
        elif isinstance(event, Notices):
            event = replace(event, messages=tuple(clean_line(m) for m in event.messages))
            changed = self.notices.get(event.cluster, ()) != event.messages
            if event.messages:
                self.notices[event.cluster] = event.messages
            else:
                self.notices.pop(event.cluster, None)
        if changed:
            self.version += 1
            self.updated_at = now
        return changed

    def _upsert(self, rollout: Rollout, now: float) -> bool:
        rollout = clean_rollout(rollout)
        key = rollout.ref.key
        old = self.rollouts.get(key)
        if old == rollout:
            return False
        self.rollouts[key] = rollout
        for text in describe_changes(old, rollout):
            self._log(key, text, now)
        return True

    def _forget(self, key: str) -> None:
        """A rollout that is gone takes its history with it: with rollouts created
        and deleted all day (one per model version, CI namespaces) the console would
        otherwise keep every one it ever saw."""
        del self.rollouts[key]
        self.logs.pop(key, None)
        self.metrics.pop(key, None)
        self.verdicts.pop(key, None)

    # --- metrics and actions ----------------------------------------------

    def set_metrics(self, fetched: dict[str, RolloutMetrics]) -> None:
        # A fetch started before a rollout was deleted must not bring its series back.
        self.metrics.update(
            (key, _clean_metrics(m)) for key, m in fetched.items() if key in self.rollouts
        )
        self.version += 1

    def set_guard_report(
        self, verdicts: Mapping[str, Verdict], decisions: Iterable[Decision], at: float
    ) -> list[Decision]:
        """One evaluation of the guard: replaces every verdict (a rollout whose canary is
        gone has none any more) and logs the decisions. `at`: when it arrived, on the
        store's clock (the status line's age). Returns the new decisions."""
        self.verdicts = dict(verdicts)
        new = list(decisions)
        for decision in new:
            self.decisions.append(decision)
            error = decision.kind is DecisionKind.PAUSE_FAILED
            self._log(
                decision.ref.key,
                f"guard {decision.kind.value}: {decision.text}",
                decision.at,
                kind="error" if error else "guard",
            )
        status = self.guard.get("")
        if status is not None:
            self.guard[""] = replace(status, last_evaluation=at)
        self.version += 1
        return new

    def set_guard_status(self, status: GuardStatus) -> None:
        if self.guard.get(status.cluster) != status:
            self.guard[status.cluster] = status
            self.version += 1

    def decisions_for(self, key: str) -> list[Decision]:
        return [d for d in self.decisions if d.ref.key == key]

    def log_action(self, key: str, text: str, *, error: bool = False) -> None:
        self._log(key, clean_line(text), self.clock(), kind="error" if error else "action")
        self.version += 1

    def _log(self, key: str, text: str, at: float, kind: str = "status") -> None:
        # One string per rollout key, not one per line (keys are rebuilt per event).
        key = sys.intern(key)
        log = self.logs.setdefault(key, deque(maxlen=LOG_LENGTH))
        entry = LogEntry(at, key, text, kind)
        log.append(entry)
        order = self._log_order
        order.append(entry)
        while len(order) > LOG_TOTAL:
            oldest = order.popleft()
            # Lines are logged in order, so the oldest line left is its rollout's first.
            own = self.logs.get(oldest.key)
            if own and own[0] is oldest:
                own.popleft()
                if not own:
                    del self.logs[oldest.key]

    def log_size(self) -> int:
        """Lines held for all rollouts (what LOG_TOTAL bounds)."""
        return sum(len(log) for log in self.logs.values())

    # --- reading ------------------------------------------------------------

    def log_for(self, key: str) -> list[LogEntry]:
        return list(self.logs.get(key, ()))

    def stale_for(self, cluster: str) -> ConnectionState | None:
        """The outage that makes this cluster's data stale, if any."""
        for state in (self.connection.get(cluster), self.connection.get("")):
            if state is not None and not state.connected:
                return state
        return None

    @property
    def all_notices(self) -> list[str]:
        return [m for cluster in sorted(self.notices) for m in self.notices[cluster]]

    @property
    def disconnected(self) -> list[ConnectionState]:
        return [c for c in self.connection.values() if not c.connected]


def _clean_metrics(m: RolloutMetrics) -> RolloutMetrics:
    reason = clean_line(m.reason)
    return m if reason == m.reason else replace(m, reason=reason)


def describe_changes(old: Rollout | None, new: Rollout) -> Iterable[str]:
    """Human lines for what an operator cares about between two states."""
    if old is None:
        yield f"seen: {new.status_text}, step {new.step_label}, canary {new.actual_weight}%"
        return
    if old.phase != new.phase or old.aborted != new.aborted:
        why = f" — {new.message}" if new.message else ""
        yield f"phase {old.status_text} → {new.status_text}{why}"
    if old.current_step != new.current_step:
        step = new.current
        yield f"step {old.step_label} → {new.step_label}" + (f" ({step.text})" if step else "")
    if old.set_weight != new.set_weight:
        yield f"set weight {old.set_weight}% → {new.set_weight}%"
    if old.paused != new.paused:
        yield "paused" if new.paused else "unpaused"
    old_canary = old.canary.display if old.canary else None
    new_canary = new.canary.display if new.canary else None
    if old_canary != new_canary:
        yield f"canary {old_canary or '-'} → {new_canary or '-'}"
    if old.stable.display != new.stable.display:
        yield f"stable {old.stable.display} → {new.stable.display}"
    for warning in set(new.warnings) - set(old.warnings):
        yield f"warning: {warning}"
