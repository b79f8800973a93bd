"""K-of-N breach counting per (rollout, gate).

A blip must not pause a rollout: a non-critical gate breaches when K of its last N
evaluations failed. The history restarts when the rollout's epoch changes (the set
weight or the canary revision), so failures at the previous step do not count
against the next one.
"""

from __future__ import annotations

import threading
from collections import deque

#: Longest history kept per gate; a gate's N is at most this. With Debounce.keep_only
#: dropping rollouts the guard no longer sees, memory is rollouts x gates x MAX_N.
MAX_N = 50


def pauses_in(history: tuple[bool, ...], k: int, n: int) -> int | None:
    """Evaluations until k of the last n have failed, if every one from now on fails.

    `history` is oldest first and includes the current evaluation. 0: the current
    window already holds k failures (breach now). None when the current evaluation
    did not fail (nothing is counting down). Older failures may leave the window
    while new ones arrive; this counts exactly.
    """
    if not history or not history[-1]:
        return None
    k = max(1, min(k, n))
    window = list(history[-n:])
    extra = 0
    while sum(window) < k:
        window = [*window, True][-n:]
        extra += 1
    return extra


class Debounce:
    """Failure histories per (rollout key, gate name); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._history: dict[tuple[str, str], deque[bool]] = {}
        self._epoch: dict[tuple[str, str], tuple[object, ...]] = {}

    def record(
        self, key: str, gate: str, failed: bool, epoch: tuple[object, ...], *, n: int = 5
    ) -> int:
        """Add one evaluation; return how many of the last `n` failed (this one included).

        A changed `epoch` (set weight, canary revision) starts a new history.
        """
        n = max(1, min(n, MAX_N))
        slot = (key, gate)
        with self._lock:
            history = self._history.get(slot)
            if history is None or self._epoch.get(slot) != epoch:
                history = self._history[slot] = deque(maxlen=MAX_N)
                self._epoch[slot] = epoch
            history.append(failed)
            return sum(list(history)[-n:])

    def history(self, key: str, gate: str) -> tuple[bool, ...]:
        """Failed or not, oldest first (at most MAX_N)."""
        with self._lock:
            return tuple(self._history.get((key, gate), ()))

    def pauses_in(self, key: str, gate: str, k: int, n: int) -> int | None:
        return pauses_in(self.history(key, gate), k, n)

    def reset(self, key: str) -> None:
        """Forget a rollout (removed, or acknowledged after a human resume)."""
        with self._lock:
            for slot in [s for s in self._history if s[0] == key]:
                del self._history[slot]
                self._epoch.pop(slot, None)

    def keep_only(self, keys: set[str]) -> None:
        """Forget every rollout not in `keys`: memory stays bounded as rollouts come and go."""
        with self._lock:
            for slot in [s for s in self._history if s[0] not in keys]:
                del self._history[slot]
                self._epoch.pop(slot, None)
