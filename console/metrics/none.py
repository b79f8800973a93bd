"""The metrics source used when none is configured: says so, per rollout."""

from __future__ import annotations

import time
from collections.abc import Sequence

from console.model import MetricsState, Role, Rollout, RolloutMetrics, VersionMetrics


class NoMetrics:
    def __init__(self, reason: str) -> None:
        self.description = "no metrics"
        self.reason = reason

    def fetch(
        self, rollouts: Sequence[Rollout], window_s: float, step_s: float
    ) -> dict[str, RolloutMetrics]:
        now = time.time()
        return {
            r.ref.key: RolloutMetrics(
                ref=r.ref,
                stable=VersionMetrics(Role.STABLE),
                canary=None,
                state=MetricsState.UNAVAILABLE,
                reason=self.reason,
                taken_at=now,
                window_s=window_s,
            )
            for r in rollouts
        }
