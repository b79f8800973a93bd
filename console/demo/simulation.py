"""The simulated cluster: every demo rollout, moved in fixed 1 s ticks.

`sync()` runs whole ticks up to the clock, so the state at simulated time T
is the same however often, and whenever, anyone polled. History is bounded:
each version keeps HISTORY_S of samples taken every SAMPLE_EVERY ticks.
"""

from __future__ import annotations

import math
import threading
from array import array
from collections.abc import Mapping

from console.backend import check_seen
from console.demo.canary import HISTORY_S, SAMPLE_EVERY, TICK_S, SimRollout
from console.demo.clock import Clock, ScaledClock
from console.demo.scenarios import generated, named
from console.demo.stories import story
from console.demo.traffic import FIELDS
from console.model import (
    Action,
    ActionError,
    ActionResult,
    ConsoleError,
    Metric,
    Role,
    Rollout,
    RolloutRef,
    Seen,
)

__all__ = ["HISTORY_S", "SAMPLE_EVERY", "TICK_S", "DemoCluster", "History"]

#: (times, {metric: values}) of one version, oldest first; NaN = no value.
History = tuple["array[float]", dict[Metric, "array[float]"]]


class DemoCluster:
    """Thread-safe: every public method holds `lock` (re-entrant)."""

    def __init__(
        self,
        seed: int = 7,
        clock: Clock | None = None,
        extra: int = 0,
        *,
        cluster: str = "demo",
        scenario: str | None = None,
    ) -> None:
        self.seed = seed
        self.clock: Clock = clock if clock is not None else ScaledClock()
        self.cluster = cluster
        self.lock = threading.RLock()
        self.origin = self.clock.now()
        # A presenter's scenario is its one story alone; otherwise the teaching cluster.
        specs = (story(scenario).spec,) if scenario else named() + generated(extra, seed)
        self._rollouts = {
            sim.ref.key: sim
            for sim in (SimRollout(spec, seed, cluster, self.origin) for spec in specs)
        }
        # Warm-up: run each rollout from its own start so charts have history
        # and the named stories are under way when the console opens.
        self._tick = min(sim.begin_tick for sim in self._rollouts.values())
        self._run_to(0)

    @property
    def now(self) -> float:
        """Simulated unix time of the last tick run."""
        return self.origin + self._tick * TICK_S

    def sync(self) -> None:
        """Run every whole tick up to the clock."""
        with self.lock:
            self._run_to(math.floor((self.clock.now() - self.origin) / TICK_S))

    def _run_to(self, target: int) -> None:
        sims = list(self._rollouts.values())
        while self._tick < target:
            self._tick += 1
            tick = self._tick
            t = self.origin + tick * TICK_S
            if tick <= 0:
                for sim in sims:
                    if tick > sim.begin_tick:
                        sim.tick(tick, t)
            else:
                for sim in sims:
                    sim.tick(tick, t)

    def refs(self) -> tuple[RolloutRef, ...]:
        with self.lock:
            return tuple(sim.ref for sim in self._rollouts.values())

    def rollouts(self) -> tuple[Rollout, ...]:
        with self.lock:
            self.sync()
            t = self.now
            return tuple(sim.model(t) for sim in self._rollouts.values())

    def rollout(self, ref: RolloutRef) -> Rollout | None:
        with self.lock:
            self.sync()
            sim = self._rollouts.get(ref.key)
            return sim.model(self.now) if sim is not None else None

    def act(
        self, ref: RolloutRef, action: Action, *, note: str = "", seen: Seen | None = None
    ) -> ActionResult:
        with self.lock:
            self.sync()
            sim = self._rollouts.get(ref.key)
            if sim is None:
                raise ActionError(ref, action, f"{ref.short} is not a rollout of the demo cluster.")
            check_seen(sim.model(self.now), action, seen)
            return sim.act(action, self.now, who="guard" if note else "operator")

    def annotate(self, ref: RolloutRef, changes: Mapping[str, str | None]) -> None:
        with self.lock:
            sim = self._rollouts.get(ref.key)
            if sim is None:
                raise ConsoleError(f"{ref.short} is not a rollout of the demo cluster.")
            for key, value in changes.items():
                if value is None:
                    sim.annotations.pop(key, None)
                else:
                    sim.annotations[key] = value

    def events(self, ref: RolloutRef) -> tuple[tuple[float, str], ...]:
        """Recent status changes and actions, oldest first, simulated unix time."""
        with self.lock:
            self.sync()
            sim = self._rollouts.get(ref.key)
            return tuple(sim.events) if sim is not None else ()

    def history(self, ref: RolloutRef, role: Role, since: float) -> History | None:
        """Samples of the version now in `role` since `since`; None if no such version."""
        with self.lock:
            self.sync()
            sim = self._rollouts.get(ref.key)
            if sim is None:
                return None
            version = sim.stable if role is Role.STABLE else sim.canary
            if version is None:
                return None
            times, columns = version.ring.since(since)
            return times, dict(zip(FIELDS, columns, strict=True))
