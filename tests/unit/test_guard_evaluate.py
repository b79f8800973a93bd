"""evaluate(): one rollout's metrics and its gate set -> a Verdict."""

import math
from collections.abc import Mapping, Sequence

import pytest

from console.guard.debounce import Debounce
from console.guard.evaluate import error_verdict, evaluate
from console.guard.gates import BUILTIN
from console.guard.verdicts import (
    Aggregate,
    Comparison,
    Gate,
    GateKind,
    GateResult,
    GateSet,
    GateState,
    Verdict,
)
from console.model import (
    Metric,
    MetricsState,
    Phase,
    ProviderKind,
    Role,
    Rollout,
    RolloutMetrics,
    RolloutRef,
    Series,
    VersionInfo,
    VersionMetrics,
)

S = GateState
NOW = 100_000.0
STEP = 15.0
REF = RolloutRef("c", "ml", "yolo-detector")


def rollout(weight: int = 10, revision: str = "2", canary: bool = True) -> Rollout:
    return Rollout(
        ref=REF,
        provider=ProviderKind.DEMO,
        phase=Phase.PROGRESSING,
        stable=VersionInfo(Role.STABLE, revision="1"),
        canary=VersionInfo(Role.CANARY, revision=revision) if canary else None,
        set_weight=weight,
    )


def series(values: Sequence[float], end: float = NOW) -> Series:
    """Samples every STEP seconds, the last at `end`."""
    n = len(values)
    return Series(tuple((end - STEP * (n - 1 - i), float(v)) for i, v in enumerate(values)))


def metrics(
    canary: Mapping[Metric, Sequence[float] | Series],
    stable: Mapping[Metric, Sequence[float] | Series],
    state: MetricsState = MetricsState.OK,
    reason: str = "",
) -> RolloutMetrics:
    def version(role: Role, data: Mapping[Metric, Sequence[float] | Series]) -> VersionMetrics:
        return VersionMetrics(
            role, {m: v if isinstance(v, Series) else series(v) for m, v in data.items()}
        )

    return RolloutMetrics(
        ref=REF,
        stable=version(Role.STABLE, stable),
        canary=version(Role.CANARY, canary),
        state=state,
        reason=reason,
        taken_at=NOW,
    )


HEALTHY_STABLE = {
    Metric.LATENCY_P99: [40.0] * 20,
    Metric.REQUEST_RATE: [10.0] * 20,
    Metric.ERROR_PCT: [0.0] * 20,
    Metric.GPU_MEMORY: [4.0] * 20,
}
HEALTHY_CANARY = {
    Metric.LATENCY_P99: [42.0] * 20,
    Metric.REQUEST_RATE: [1.0] * 20,
    Metric.ERROR_PCT: [0.0] * 20,
    Metric.GPU_MEMORY: [4.2] * 20,
}


def run(
    gate_set: GateSet,
    data: RolloutMetrics | None,
    *,
    debounce: Debounce | None = None,
    changed_at: float | None = None,
    target: Rollout | None = None,
    now: float = NOW,
    custom: Mapping[str, tuple[Series, Series]] | None = None,
) -> Verdict:
    return evaluate(
        gate_set,
        target or rollout(),
        data,
        now=now,
        scrape_interval_s=STEP,
        changed_at=changed_at,
        debounce=debounce or Debounce(),
        custom=custom,
    )


def one(gate: Gate) -> GateSet:
    return GateSet(name="t", gates=(gate,), source="test")


def result(verdict: Verdict, name: str) -> GateResult:
    (found,) = [r for r in verdict.results if r.gate.name == name]
    return found


P99 = Gate(
    name="p99", kind=GateKind.ABSOLUTE, metric=Metric.LATENCY_P99, threshold=50.0, warmup_s=60
)


# --- the built-in set ------------------------------------------------------------------


def test_healthy_canary_passes_every_builtin_gate() -> None:
    verdict = run(BUILTIN, metrics(HEALTHY_CANARY, HEALTHY_STABLE))
    assert verdict.state is S.PASS
    assert verdict.gate_set == "default" and verdict.at == NOW and verdict.ref == REF
    assert [r.state for r in verdict.results] == [S.PASS, S.PASS, S.PASS]
    p99, errors, gpu = verdict.results
    assert (p99.canary, p99.stable, p99.n, p99.needed) == (42.0, 40.0, 20, 3)
    # 20 samples of 1 req/s, 15 s apart: 300 requests.
    assert errors.canary == 0.0 and errors.n == 20
    assert gpu.effect == pytest.approx(1.05)
    assert all(r.pauses_in is None and r.breaches == 0 for r in verdict.results)


def test_regression_fails_and_pauses_after_three_evaluations() -> None:
    canary = {**HEALTHY_CANARY, Metric.LATENCY_P99: [105.0] * 20, Metric.ERROR_PCT: [3.5] * 20}
    data = metrics(canary, HEALTHY_STABLE)
    debounce = Debounce()
    seen = []
    for _ in range(3):
        verdict = run(BUILTIN, data, debounce=debounce)
        assert verdict.state is S.FAIL
        p99 = result(verdict, "p99-latency")
        assert p99.state is S.FAIL and p99.canary == 105.0
        seen.append((p99.breaches, p99.pauses_in))
    assert seen == [(1, 2), (2, 1), (3, 0)]
    assert result(verdict, "p99-latency").breached
    assert {r.gate.name for r in verdict.breached} == {"p99-latency", "error-rate"}
    assert "105 ms" in result(verdict, "p99-latency").reason
    assert result(verdict, "error-rate").canary == pytest.approx(3.5)


def test_a_weight_change_resets_the_debounce() -> None:
    data = metrics({**HEALTHY_CANARY, Metric.LATENCY_P99: [80.0] * 20}, HEALTHY_STABLE)
    debounce = Debounce()
    gate_set = one(P99)
    for _ in range(2):
        run(gate_set, data, debounce=debounce, target=rollout(weight=10))
    p99 = run(gate_set, data, debounce=debounce, target=rollout(weight=20)).results[0]
    assert (p99.breaches, p99.pauses_in) == (1, 2)
    p99 = run(gate_set, data, debounce=debounce, target=rollout(weight=20, revision="3")).results[0]
    assert (p99.breaches, p99.pauses_in) == (1, 2)


def test_a_critical_gate_pauses_on_its_first_failure() -> None:
    gate = Gate(
        name="p99", kind=GateKind.ABSOLUTE, metric=Metric.LATENCY_P99, threshold=50.0, critical=True
    )
    data = metrics({Metric.LATENCY_P99: [80.0] * 5}, {})
    p99 = run(one(gate), data).results[0]
    assert (p99.state, p99.breaches, p99.pauses_in, p99.breached) == (S.FAIL, 1, 0, True)


def test_custom_debounce_k_of_n() -> None:
    gate = Gate(
        name="p99",
        kind=GateKind.ABSOLUTE,
        metric=Metric.LATENCY_P99,
        threshold=50.0,
        debounce_k=2,
        debounce_n=3,
    )
    bad = metrics({Metric.LATENCY_P99: [80.0] * 5}, {})
    good = metrics({Metric.LATENCY_P99: [30.0] * 5}, {})
    debounce = Debounce()
    states = [
        run(one(gate), data, debounce=debounce).results[0]
        for data in (bad, good, good, bad, good, bad)
    ]
    assert [(r.state, r.breaches, r.pauses_in) for r in states] == [
        (S.FAIL, 1, 1),
        (S.PASS, 1, None),
        (S.PASS, 1, None),
        (S.FAIL, 1, 1),  # the first failure left the window of 3
        (S.PASS, 1, None),
        (S.FAIL, 2, 0),
    ]


# --- NO_DATA, STALE, warm-up -------------------------------------------------------------


def test_too_few_samples_is_no_data_with_n_of_needed_and_never_pauses() -> None:
    gate = Gate(
        name="p99",
        kind=GateKind.ABSOLUTE,
        metric=Metric.LATENCY_P99,
        threshold=50.0,
        min_points=5,
        critical=True,
    )
    p99 = run(one(gate), metrics({Metric.LATENCY_P99: [900.0] * 3}, {})).results[0]
    assert (p99.state, p99.n, p99.needed, p99.pauses_in) == (S.NO_DATA, 3, 5, None)
    assert "3 of 5" in p99.reason


def test_no_traffic_is_no_data_by_min_requests() -> None:
    gate = Gate(
        name="err", kind=GateKind.ABSOLUTE, metric=Metric.ERROR_PCT, threshold=0.1, min_requests=100
    )
    canary = {Metric.REQUEST_RATE: [0.02] * 20, Metric.ERROR_PCT: [50.0] * 20}
    err = run(one(gate), metrics(canary, {})).results[0]
    # 20 samples x 0.02 req/s x 15 s = 6 requests.
    assert (err.state, err.n, err.needed) == (S.NO_DATA, 6, 100)
    canary[Metric.REQUEST_RATE] = []
    err = run(one(gate), metrics(canary, {})).results[0]
    assert (err.state, err.n, err.needed) == (S.NO_DATA, 0, 100)


def test_nan_and_inf_samples_are_no_data() -> None:
    nan, inf = math.nan, math.inf
    data = metrics({Metric.LATENCY_P99: [nan, inf, 80.0, nan, -inf, nan]}, {})
    p99 = run(one(P99), data).results[0]
    assert (p99.state, p99.n, p99.needed) == (S.NO_DATA, 1, 3)
    data = metrics({Metric.LATENCY_P99: [nan, 80.0, nan, 90.0, 100.0, nan]}, {})
    p99 = run(one(P99), data).results[0]
    assert (p99.state, p99.canary, p99.n) == (S.FAIL, 90.0, 3)


def test_no_metrics_source_is_no_data() -> None:
    verdict = run(BUILTIN, None)
    assert verdict.state is S.NO_DATA
    assert all(r.state is S.NO_DATA for r in verdict.results)


def test_old_samples_are_stale() -> None:
    # Newest sample 31 s old with a 15 s scrape interval: more than 2 x.
    old = series([80.0] * 20, end=NOW - 31)
    p99 = run(one(P99), metrics({Metric.LATENCY_P99: old}, {})).results[0]
    assert p99.state is S.STALE and p99.pauses_in is None
    assert "31s old" in p99.reason
    fresh = series([80.0] * 20, end=NOW - 29)
    assert run(one(P99), metrics({Metric.LATENCY_P99: fresh}, {})).results[0].state is S.FAIL


def test_stale_stable_series_for_a_relative_gate() -> None:
    gate = Gate(
        name="p99x",
        kind=GateKind.RELATIVE,
        metric=Metric.LATENCY_P99,
        threshold=1.1,
        comparison=Comparison.LE,
    )
    data = metrics(
        {Metric.LATENCY_P99: [50.0] * 10}, {Metric.LATENCY_P99: series([40.0] * 10, NOW - 300)}
    )
    assert run(one(gate), data).results[0].state is S.STALE


def test_unavailable_metrics_are_stale_and_never_pause() -> None:
    data = metrics(
        {Metric.LATENCY_P99: [80.0] * 20}, {}, MetricsState.UNAVAILABLE, "connection refused"
    )
    debounce = Debounce()
    for _ in range(5):
        verdict = run(BUILTIN, data, debounce=debounce)
    assert verdict.state is S.STALE
    assert all(r.state is S.STALE and r.pauses_in is None for r in verdict.results)
    assert "connection refused" in verdict.results[0].reason


def test_gpu_series_missing_for_one_version_is_stale_and_for_both_does_not_apply() -> None:
    gpu = BUILTIN.gates[2]
    stable_only = metrics({}, {Metric.GPU_MEMORY: [4.0] * 10})
    r = run(one(gpu), stable_only).results[0]
    assert r.state is S.STALE and "canary's GPU series are missing" in r.reason
    canary_only = metrics({Metric.GPU_MEMORY: [4.0] * 10}, {})
    r = run(one(gpu), canary_only).results[0]
    assert r.state is S.STALE and "stable's GPU series are missing" in r.reason
    neither = metrics({Metric.LATENCY_P99: [40.0] * 10}, {Metric.LATENCY_P99: [40.0] * 10})
    r = run(one(gpu), neither).results[0]
    assert r.state is S.PASS and "Does not apply" in r.reason


def test_warm_up_is_inconclusive_and_never_breaches() -> None:
    gate = Gate(
        name="p99",
        kind=GateKind.ABSOLUTE,
        metric=Metric.LATENCY_P99,
        threshold=50.0,
        warmup_s=60,
        critical=True,
    )
    data = metrics({Metric.LATENCY_P99: [500.0] * 20}, {Metric.LATENCY_P99: [40.0] * 20})
    r = run(one(gate), data, changed_at=NOW - 20).results[0]
    assert (r.state, r.reason, r.pauses_in, r.breaches) == (
        S.INCONCLUSIVE,
        "warming up, 40s left",
        None,
        0,
    )
    assert r.canary == 500.0  # shown, not judged
    # 40 s after the warm-up ended: 3 samples at 15 s spacing fall after it.
    r = run(one(gate), data, changed_at=NOW - 100).results[0]
    assert (r.state, r.n) == (S.FAIL, 3)
    # 20 s after: only 2 samples count, the rest belong to the previous step.
    r = run(one(gate), data, changed_at=NOW - 80).results[0]
    assert (r.state, r.n, r.needed) == (S.NO_DATA, 2, 3)


def test_window_excludes_old_samples() -> None:
    gate = Gate(
        name="p99", kind=GateKind.ABSOLUTE, metric=Metric.LATENCY_P99, threshold=50.0, window_s=60
    )
    # 20 samples: the first 16 bad, the last 5 (within 60 s) good.
    data = metrics({Metric.LATENCY_P99: [500.0] * 15 + [30.0] * 5}, {})
    r = run(one(gate), data).results[0]
    assert (r.state, r.canary, r.n) == (S.PASS, 30.0, 5)


# --- kinds ---------------------------------------------------------------------------------


def test_error_rate_mean_is_errors_over_requests() -> None:
    gate = Gate(name="err", kind=GateKind.ABSOLUTE, metric=Metric.ERROR_PCT, threshold=1.0)
    # 1 req/s at 10 % then 3 req/s at 0 %: 2.5 % of requests, not the 5 % mean of samples.
    canary = {Metric.REQUEST_RATE: [1.0, 1.0, 3.0, 3.0], Metric.ERROR_PCT: [10.0, 10.0, 0, 0]}
    r = run(one(gate), metrics(canary, {})).results[0]
    assert r.canary == pytest.approx(2.5)
    assert r.state is S.FAIL
    latest = Gate(
        name="err",
        kind=GateKind.ABSOLUTE,
        metric=Metric.ERROR_PCT,
        threshold=1.0,
        aggregate=Aggregate.LATEST,
    )
    assert run(one(latest), metrics(canary, {})).results[0].state is S.PASS


def test_relative_ratio_and_difference() -> None:
    ratio = Gate(
        name="gpu",
        kind=GateKind.RELATIVE,
        metric=Metric.GPU_MEMORY,
        threshold=1.15,
        comparison=Comparison.LE,
    )
    data = metrics({Metric.GPU_MEMORY: [4.8] * 10}, {Metric.GPU_MEMORY: [4.0] * 10})
    r = run(one(ratio), data).results[0]
    assert (r.state, r.canary, r.stable) == (S.FAIL, pytest.approx(4.8), 4.0)
    assert r.effect == pytest.approx(1.2)
    assert "1.2x stable" in r.reason
    diff = Gate(
        name="gpu",
        kind=GateKind.RELATIVE,
        metric=Metric.GPU_MEMORY,
        threshold=1.0,
        relative="difference",
        comparison=Comparison.LE,
    )
    assert run(one(diff), data).results[0].state is S.PASS  # +0.8 GiB <= 1
    zero = metrics({Metric.GPU_MEMORY: [4.8] * 10}, {Metric.GPU_MEMORY: [0.0] * 10})
    assert run(one(ratio), zero).results[0].state is S.INCONCLUSIVE


def test_relative_gate_needs_stable_samples() -> None:
    ratio = Gate(
        name="p99x",
        kind=GateKind.RELATIVE,
        metric=Metric.LATENCY_P99,
        threshold=1.1,
        comparison=Comparison.LE,
    )
    data = metrics({Metric.LATENCY_P99: [50.0] * 10}, {Metric.LATENCY_P99: [40.0] * 2})
    r = run(one(ratio), data).results[0]
    assert (r.state, r.n, r.needed) == (S.NO_DATA, 2, 3)
    assert "Stable has 2 of 3" in r.reason


COMPARED = Gate(
    name="p99-vs-stable",
    kind=GateKind.COMPARED,
    metric=Metric.LATENCY_P99,
    allowed_increase=1.10,
    confidence=0.98,
)


def test_compared_latency_runs_mann_whitney_on_the_window() -> None:
    # Four samples each, every canary sample higher: exact p = 1/70.
    data = metrics(
        {Metric.LATENCY_P99: [60.0, 61.0, 62.0, 63.0]},
        {Metric.LATENCY_P99: [40.0, 41.0, 42.0, 43.0]},
    )
    r = run(one(COMPARED), data).results[0]
    assert r.state is S.FAIL
    assert r.p_value == pytest.approx(1 / 70)
    assert r.effect == pytest.approx(61.5 / 41.5)
    assert (r.canary, r.stable, r.n) == (61.5, 41.5, 4)
    assert r.reason.endswith("higher at 98% confidence and beyond the allowed 1.1x.")
    within = metrics(
        {Metric.LATENCY_P99: [42.0, 43.0, 44.0, 45.0]},
        {Metric.LATENCY_P99: [40.0, 41.0, 42.0, 43.0]},
    )
    r = run(one(COMPARED), within).results[0]
    assert r.state is S.PASS and r.effect is not None and r.effect < 1.10
    assert r.reason.endswith("not higher at 98% confidence.")
    allowed = Gate(
        name="p99-vs-stable",
        kind=GateKind.COMPARED,
        metric=Metric.LATENCY_P99,
        allowed_increase=1.5,
    )
    r = run(one(allowed), data).results[0]
    assert r.state is S.PASS
    assert r.reason.endswith("higher at 98% confidence but within the allowed 1.5x.")
    three = metrics({Metric.LATENCY_P99: [90.0] * 3}, {Metric.LATENCY_P99: [40.0] * 3})
    r = run(one(COMPARED), three).results[0]
    assert r.state is S.INCONCLUSIVE and "too few samples" in r.reason


def test_compared_error_rate_tests_the_counts() -> None:
    gate = Gate(
        name="errors-vs-stable",
        kind=GateKind.COMPARED,
        metric=Metric.ERROR_PCT,
        allowed_increase=1.0,
    )
    # Canary: 4 samples of 5 req/s 15 s apart at 10 % -> 300 requests, 30 errors (the
    # first sample counts the typical 15 s spacing). Stable: the same at 0 % -> 300, 0.
    canary = {Metric.REQUEST_RATE: [5.0] * 4, Metric.ERROR_PCT: [10.0] * 4}
    stable = {Metric.REQUEST_RATE: [5.0] * 4, Metric.ERROR_PCT: [0.0] * 4}
    r = run(one(gate), metrics(canary, stable)).results[0]
    assert r.state is S.FAIL
    assert r.n == 300
    assert (r.canary, r.stable) == (pytest.approx(10.0), pytest.approx(0.0))
    # Fisher, one-sided, [[30, 270], [0, 300]]: p = C(300, 30) / C(600, 30) = 4.34318e-10.
    assert r.p_value == pytest.approx(4.34318085807e-10, rel=1e-6)
    assert r.effect is None
    assert "30 errors in 300 canary requests against 0 in 300 stable" in r.reason


def test_custom_gate_reads_its_series_from_custom() -> None:
    gate = Gate(
        name="accuracy",
        kind=GateKind.CUSTOM,
        query="avg(model_map{ {selector} })",
        comparison=Comparison.GE,
        threshold=36.0,
    )
    custom = {"accuracy": (series([35.0, 35.5, 35.2]), series([37.3, 37.3, 37.3]))}
    r = run(one(gate), metrics({}, {}), custom=custom).results[0]
    assert (r.state, r.canary, r.stable) == (S.FAIL, pytest.approx(35.2333333), 37.3)
    assert r.query == "avg(model_map{ {selector} })"
    r = run(one(gate), metrics({}, {})).results[0]
    assert (r.state, r.n) == (S.NO_DATA, 0)
    # Custom series need no metrics source.
    assert run(one(gate), None, custom=custom).results[0].state is S.FAIL


# --- never raises ----------------------------------------------------------------------------


def test_no_canary_is_pass_without_results() -> None:
    verdict = run(BUILTIN, metrics({}, HEALTHY_STABLE), target=rollout(canary=False))
    assert (verdict.state, verdict.results, verdict.note) == (S.PASS, (), "no canary")


def test_bad_input_gives_error_not_an_exception() -> None:
    broken = {"accuracy": (Series((("yesterday", "high"),)), Series())}  # type: ignore[arg-type]
    gate = Gate(name="accuracy", kind=GateKind.CUSTOM, query="q{ {selector} }", threshold=1.0)
    verdict = run(one(gate), None, custom=broken)  # type: ignore[arg-type]
    assert verdict.state is S.ERROR
    assert verdict.results[0].state is S.ERROR
    assert "Could not judge this gate" in verdict.results[0].reason
    # Other gates are still judged.
    both = GateSet(name="t", gates=(gate, P99))
    verdict = run(both, metrics({Metric.LATENCY_P99: [10.0] * 5}, {}), custom=broken)  # type: ignore[arg-type]
    assert [r.state for r in verdict.results] == [S.ERROR, S.PASS]
    verdict = evaluate(
        None,  # type: ignore[arg-type]
        rollout(),
        None,
        now=NOW,
        scrape_interval_s=STEP,
        changed_at=None,
        debounce=Debounce(),
    )
    assert verdict.state is S.ERROR and verdict.error.startswith("Evaluation failed:")


def test_error_verdict_for_a_gate_set_that_did_not_load() -> None:
    verdict = error_verdict(REF, "ConfigMap ml/rollout-console-gates, line 3: ...", at=NOW)
    assert (verdict.state, verdict.results, verdict.at) == (S.ERROR, (), NOW)
    assert verdict.error.startswith("ConfigMap ml/")


def test_a_canary_whose_traffic_stopped_is_no_data_not_stale() -> None:
    # Sources drop NaN: latency samples end when traffic stopped, but the request rate
    # (0 req/s) is fresh, so the source is live and the canary simply has no data.
    canary = {
        Metric.LATENCY_P99: series([80.0] * 2, end=NOW - 240),
        Metric.REQUEST_RATE: [0.0] * 20,
    }
    r = run(one(P99), metrics(canary, {})).results[0]
    assert (r.state, r.n, r.needed) == (S.NO_DATA, 2, 3)


def test_staleness_allows_for_a_coarser_query_step() -> None:
    # One sample a minute (a long window's range query): 90 s old is not stale,
    # 150 s is (2 x 60 s).
    def spaced(end: float) -> Series:
        return Series(tuple((end - 60.0 * i, 80.0) for i in reversed(range(5))))

    assert run(one(P99), metrics({Metric.LATENCY_P99: spaced(NOW - 90)}, {})).state is S.FAIL
    assert run(one(P99), metrics({Metric.LATENCY_P99: spaced(NOW - 150)}, {})).state is S.STALE


def test_missing_canary_gpu_series_during_warm_up_is_warming_up() -> None:
    gpu = BUILTIN.gates[2]
    stable_only = metrics({Metric.REQUEST_RATE: [1.0] * 10}, {Metric.GPU_MEMORY: [4.0] * 10})
    r = run(one(gpu), stable_only, changed_at=NOW - 10).results[0]
    assert (r.state, r.reason) == (S.INCONCLUSIVE, "warming up, 50s left")
