"""`RolloutsBackend` over the simulated cluster."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping

from console.backend import refuse_if_read_only
from console.demo.inspect import DemoInspection
from console.demo.simulation import DemoCluster
from console.model import (
    Action,
    ActionResult,
    Rollout,
    RolloutRef,
    Seen,
    Snapshot,
    StreamEvent,
    Upserted,
)

# How often watch() checks for a finished action between two regular polls,
# so the list reflects a key press at once instead of up to a second later.
_WAKE_POLL_S = 0.05


class DemoBackend(DemoInspection):  # tree, YAML, describe, logs: console/demo/inspect.py
    def __init__(
        self, cluster: DemoCluster, read_only: bool = False, interval: float = 1.0
    ) -> None:
        self.cluster = cluster
        self.read_only = read_only
        self.interval = interval
        self.description = f"demo (simulated cluster, seed {cluster.seed})"
        self._actions = 0  # bumped by act(): wakes watchers early

    def list(self) -> list[Rollout]:
        return list(self.cluster.rollouts())

    def rollout(self, ref: RolloutRef) -> Rollout | None:
        """One rollout as it is now (the guard re-reads after a pause)."""
        return self.cluster.rollout(ref)

    def events(self, ref: RolloutRef) -> tuple[tuple[float, str], ...]:
        return self.cluster.events(ref)

    def act(
        self, ref: RolloutRef, action: Action, *, note: str = "", seen: Seen | None = None
    ) -> ActionResult:
        refuse_if_read_only(self, ref, action)
        try:
            return self.cluster.act(ref, action, note=note, seen=seen)
        finally:
            self._actions += 1

    def annotate(self, ref: RolloutRef, changes: Mapping[str, str | None]) -> None:
        refuse_if_read_only(self, ref, Action.PAUSE)
        self.cluster.annotate(ref, changes)
        self._actions += 1

    def watch(self, stop: threading.Event) -> Iterator[StreamEvent]:
        rollouts = self.cluster.rollouts()
        yield Snapshot(rollouts)
        last = {rollout.ref.key: rollout for rollout in rollouts}
        while not self._wait(stop):
            for rollout in self.cluster.rollouts():
                key = rollout.ref.key
                previous = last.get(key)
                if previous is not rollout and previous != rollout:
                    last[key] = rollout
                    yield Upserted(rollout)

    def _wait(self, stop: threading.Event) -> bool:
        """Wait one interval, or less if an action happened; True once stopped."""
        seen = self._actions
        deadline = time.monotonic() + self.interval
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or self._actions != seen:
                return stop.is_set()
            if stop.wait(min(left, _WAKE_POLL_S)):
                return True
