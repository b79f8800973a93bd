"""The incremental range cache: asks only for new points, trims to the window."""

from __future__ import annotations

from console.metrics.cache import Plan, RangeCache, align
from console.metrics.profiles import LabelKey, label_key

Q = "sum(rate(x[1m]))"
A = label_key({"v": "a"})
B = label_key({"v": "b"})


def _answer(
    plan: Plan, key: LabelKey = A, value: float = 1.0
) -> list[tuple[LabelKey, list[tuple[float, float]]]]:
    return [(key, [(plan.start + i * plan.step, value) for i in range(plan.points)])]


def test_first_fetch_is_cold_then_only_new_points_are_asked() -> None:
    cache = RangeCache(overlap=0)
    cold = cache.plan(Q, 1000, 1900, 15)
    assert not cold.incremental and (cold.start, cold.end) == (1000, 1900)
    cache.merge(Q, cold, _answer(cold), window_start=1000)
    assert len(cache.series(Q)[A]) == 61

    warm = cache.plan(Q, 1030, 1930, 15)
    assert warm.incremental and (warm.start, warm.end) == (1915, 1930)  # last + step
    cache.merge(Q, warm, _answer(warm, value=2.0), window_start=1030)
    points = cache.series(Q)[A]
    assert min(points) == 1030 and max(points) == 1930  # trimmed to the window
    assert len(points) == 61
    assert points[1930] == 2.0 and points[1900] == 1.0


def test_default_overlap_reasks_only_the_newest_point() -> None:
    cache = RangeCache()  # overlap 1
    cold = cache.plan(Q, 0, 300, 15)
    cache.merge(Q, cold, _answer(cold), window_start=0)
    warm = cache.plan(Q, 15, 315, 15)
    assert (warm.start, warm.end, warm.points) == (300, 315, 2)
    cache.merge(Q, warm, _answer(warm, value=5.0), window_start=15)
    assert cache.series(Q)[A][300] == 5.0  # the possibly incomplete point was replaced


def test_changed_step_longer_window_or_gap_fetch_cold() -> None:
    cache = RangeCache()
    cold = cache.plan(Q, 1000, 1900, 15)
    cache.merge(Q, cold, _answer(cold), window_start=1000)
    assert not cache.plan(Q, 1000, 1900, 30).incremental  # new step
    assert not cache.plan(Q, 500, 1915, 15).incremental  # longer window
    assert not cache.plan(Q, 5000, 5900, 15).incremental  # the cache is too old
    assert cache.plan(Q, 1015, 1915, 15).incremental


def test_series_appear_and_age_out() -> None:
    cache = RangeCache(overlap=0)
    cold = cache.plan(Q, 0, 60, 15)
    cache.merge(Q, cold, _answer(cold, A), window_start=0)
    warm = cache.plan(Q, 15, 75, 15)
    cache.merge(Q, warm, _answer(warm, B), window_start=15)  # A stopped, B started
    assert set(cache.series(Q)) == {A, B}
    late = cache.plan(Q, 75, 135, 15)
    cache.merge(Q, late, _answer(late, B), window_start=75)
    assert set(cache.series(Q)) == {B}  # A's points all fell out of the window


def test_forget_drops_other_queries() -> None:
    cache = RangeCache()
    for q in ("a", "b"):
        plan = cache.plan(q, 0, 60, 15)
        cache.merge(q, plan, _answer(plan), window_start=0)
    cache.forget(["b"])
    assert "a" not in cache and "b" in cache
    assert cache.point_count() == 5


def test_align() -> None:
    assert align(1007.3, 15) == 1005
    assert align(1005, 15) == 1005
