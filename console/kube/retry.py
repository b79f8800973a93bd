"""Watch timing: the read timeout chosen from the bookmark interval, and jittered backoff.

Every watched kind has its own thread. Without jitter they all fail together when
a server goes away and then retry together, in lockstep, doubling together: a
thundering herd on the server just as it comes back. Each retry here waits a
random time in the upper half of the exponential ceiling ("equal jitter"), so
the threads spread out yet none retries much sooner than the ceiling asks.
"""

from __future__ import annotations

import random

#: kube-apiserver's watch cache sends a BOOKMARK to each watcher that asked for them
#: about once a minute (and just before its timeoutSeconds ends the watch).
BOOKMARK_INTERVAL_S = 60.0
#: Bookmarks missed before a silent watch is reopened.
BOOKMARKS_MISSED = 2


def watch_read_timeout(
    bookmark_interval_s: float = BOOKMARK_INTERVAL_S, missed: int = BOOKMARKS_MISSED
) -> float:
    """How long a watch may read nothing, not even a bookmark, before it is reopened.

    A multiple of the bookmark interval: a live server sends something within it,
    so silence that long is a stuck connection (a server without a watch cache
    sends no bookmarks: its quiet watches are just reopened from their version).
    Liveness itself is the heartbeat's job (HEARTBEAT_S in console/kube/backend.py).
    """
    return bookmark_interval_s * missed


class Backoff:
    """Exponential backoff with equal jitter: the n-th wait is uniform in [c/2, c],
    c = min(cap, start * 2**n). `reset()` after a success."""

    def __init__(self, start: float, cap: float, rng: random.Random | None = None) -> None:
        self.start = start
        self.cap = cap
        self._rng = rng or random.Random()
        self._attempt = 0

    def ceiling(self) -> float:
        return float(min(self.cap, self.start * 2**self._attempt))

    def next(self) -> float:
        ceiling = self.ceiling()
        self._attempt = min(self._attempt + 1, 64)
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self._attempt = 0


def jittered(seconds: float, spread: float = 0.2, rng: random.Random | None = None) -> float:
    """`seconds` give or take `spread` of it, so periodic retries of many threads part."""
    return (rng or random).uniform(seconds * (1 - spread), seconds * (1 + spread))
