"""Watch timing: jittered backoff across watch threads, and the read timeout's choice."""

from __future__ import annotations

import random
import statistics

import pytest

from console.kube import backend as kube_backend
from console.kube.retry import (
    BOOKMARK_INTERVAL_S,
    Backoff,
    jittered,
    watch_read_timeout,
)


def test_each_wait_is_in_the_upper_half_of_a_doubling_capped_ceiling() -> None:
    b = Backoff(0.5, 30.0, random.Random(1))
    ceilings = []
    for _ in range(12):
        ceiling = b.ceiling()
        wait = b.next()
        assert ceiling / 2 <= wait <= ceiling
        ceilings.append(ceiling)
    assert ceilings[:7] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0]
    assert set(ceilings[6:]) == {30.0}
    b.reset()
    assert b.ceiling() == 0.5


def test_watch_threads_do_not_retry_in_lockstep() -> None:
    # Ten watch threads fail together: their retries must part, at every round.
    rng = random.Random(7)
    threads = [Backoff(0.5, 30.0, rng) for _ in range(10)]
    for _ in range(6):
        ceiling = threads[0].ceiling()
        waits = [b.next() for b in threads]
        assert len({round(w, 3) for w in waits}) == 10
        assert max(waits) - min(waits) >= 0.2 * ceiling
    # Over many draws the waits fill their half-range, not a point in it.
    draws = [Backoff(1.0, 30.0, rng).next() for _ in range(2000)]
    assert 0.5 <= min(draws) < 0.55 and 0.95 < max(draws) <= 1.0
    assert statistics.pstdev(draws) == pytest.approx(0.5 / 12**0.5, rel=0.1)  # uniform


def test_jittered_period_stays_within_its_spread() -> None:
    rng = random.Random(3)
    draws = [jittered(60.0, rng=rng) for _ in range(1000)]
    assert all(48.0 <= d <= 72.0 for d in draws)
    assert max(draws) - min(draws) > 20.0


def test_read_timeout_is_a_multiple_of_the_bookmark_interval() -> None:
    timeout = watch_read_timeout()
    assert timeout == 2 * BOOKMARK_INTERVAL_S
    # Shorter than the server's own watch timeout (so silence is cut before it),
    # and not shorter than a bookmark interval (a quiet live watch is not cut often).
    assert BOOKMARK_INTERVAL_S < timeout < kube_backend.WATCH_TIMEOUT_S
    assert watch_read_timeout(10.0, 3) == 30.0
