"""Incremental cache of range-query results.

Each refresh asks Prometheus only for the points that are new since the last
one, per query: the cache keeps every series of a query as {timestamp: value}
on a fixed grid (multiples of the step), plans the next request's start, merges
the answer and trims what fell out of the window.

The newest cached point is asked for once more (``overlap`` points, default
1): it was evaluated at most one step ago, possibly before the last scrape had
landed, so its value may still change. Everything older is final.

A query whose text, step or window start is not covered (first refresh, a
new namespace set, a longer window, a new step) is fetched whole.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from console.metrics.profiles import LabelKey

Points = dict[float, float]


def align(t: float, step: float) -> float:
    """The grid point at or before t."""
    return math.floor(t / step) * step


@dataclass
class _Entry:
    step: float
    covered_from: float  # earliest grid point asked for
    last: float  # newest grid point asked for
    series: dict[LabelKey, Points] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    start: float
    end: float
    step: float
    incremental: bool

    @property
    def points(self) -> int:
        return round((self.end - self.start) / self.step) + 1


class RangeCache:
    def __init__(self, overlap: int = 1) -> None:
        self.overlap = max(0, overlap)
        self._entries: dict[str, _Entry] = {}

    def __contains__(self, query: str) -> bool:
        return query in self._entries

    def plan(self, query: str, start: float, end: float, step: float) -> Plan:
        """What to ask for to hold [start, end] (grid-aligned) for `query`."""
        entry = self._entries.get(query)
        if (
            entry is None
            or entry.step != step
            or entry.covered_from > start
            or entry.last < start
            or entry.last > end
        ):
            return Plan(start, end, step, incremental=False)
        # overlap 0: from the last point + step; overlap n: re-ask the n newest.
        fetch_from = max(start, entry.last - (self.overlap - 1) * step)
        fetch_from = min(fetch_from, end)
        return Plan(fetch_from, end, step, incremental=True)

    def merge(
        self,
        query: str,
        plan: Plan,
        result: Iterable[tuple[LabelKey, Iterable[tuple[float, float]]]],
        window_start: float,
    ) -> None:
        """Store an answer to `plan`, then drop points older than window_start."""
        entry = self._entries.get(query)
        if entry is None or not plan.incremental:
            entry = _Entry(step=plan.step, covered_from=plan.start, last=plan.end)
            self._entries[query] = entry
        else:
            # The asked range is replaced as a whole: a point that vanished
            # from the re-asked overlap (e.g. a series that stopped) goes too.
            for points in entry.series.values():
                for t in [t for t in points if t >= plan.start]:
                    del points[t]
            entry.last = plan.end
        for key, new_points in result:
            target = entry.series.setdefault(key, {})
            for t, v in new_points:
                target[t] = v
        self.trim(query, window_start)

    def trim(self, query: str, window_start: float) -> None:
        entry = self._entries.get(query)
        if entry is None:
            return
        entry.covered_from = max(entry.covered_from, window_start)
        for key in list(entry.series):
            points = entry.series[key]
            for t in [t for t in points if t < window_start]:
                del points[t]
            if not points:
                del entry.series[key]

    def series(self, query: str) -> Mapping[LabelKey, Points]:
        entry = self._entries.get(query)
        return entry.series if entry is not None else {}

    def forget(self, keep: Iterable[str]) -> None:
        """Drop the queries not in `keep` (the namespace set or profile changed)."""
        wanted = set(keep)
        for query in [q for q in self._entries if q not in wanted]:
            del self._entries[query]

    def point_count(self) -> int:
        return sum(len(p) for e in self._entries.values() for p in e.series.values())
