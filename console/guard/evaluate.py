"""One rollout's metrics and its gate set -> a Verdict. Pure: no I/O, no clock.

Per gate, in this order (the first that applies decides):

1. ERROR    the gate could not be judged (a bug, bad input); never raises.
2. STALE    the metrics source is unavailable; or the newest sample of a version the
            gate needs (any of its series; a custom gate: its own series) is older
            than 2 x max(scrape interval, the series' sample spacing).
3. INCONCLUSIVE "warming up, Ns left": within the gate's warm-up after the last weight
            change or new revision (new pods may not report yet). Never a breach.
4. STALE    a GPU gate where one version reports GPU series and the other does not.
            (Neither version reporting any: the gate does not apply, PASS.)
5. NO_DATA  fewer than `min_points` finite samples in the window (each version the gate
            needs), or fewer than `min_requests` canary requests. `n`/`needed` say how
            many. Never a failure.
6. the judgement: absolute and custom gates compare the canary's figure with the
            threshold; relative gates the canary/stable ratio or difference; compared
            gates run stats.mann_whitney, or stats.error_counts for `error_pct`.

The window is [now - window, now], and starts no earlier than the end of the warm-up
(Kayenta's "begin analysis after"): samples from the previous step or revision do
not judge this one. NaN and Inf samples are no data.

Requests and errors for count tests and for the error rate's mean:
requests = sum(rate_i * dt_i), errors = sum(rate_i * error_pct_i / 100 * dt_i), with
dt_i the spacing of the samples (capped at the typical spacing, so a gap in the
series is not counted as traffic).

Debouncing: every evaluation is recorded (failed = FAIL); `breaches` is the count of
failures among the gate's last N, `pauses_in` is 0 when this evaluation pauses (a
critical gate's first FAIL, or K of N), else the evaluations left if it keeps failing.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

from console.guard import stats
from console.guard.debounce import Debounce, pauses_in
from console.guard.verdicts import (
    Aggregate,
    Gate,
    GateKind,
    GateResult,
    GateSet,
    GateState,
    Verdict,
    worst,
)
from console.model import (
    Metric,
    MetricsState,
    Rollout,
    RolloutMetrics,
    RolloutRef,
    Series,
    format_duration,
)
from console.untrusted import one_line

GPU_METRICS = frozenset(
    {Metric.GPU_UTIL, Metric.GPU_MEMORY, Metric.GPU_MEMORY_MAX, Metric.GPU_COUNT}
)

Points = tuple[tuple[float, float], ...]


def evaluate(
    gate_set: GateSet,
    rollout: Rollout,
    metrics: RolloutMetrics | None,
    *,
    now: float,
    scrape_interval_s: float,
    changed_at: float | None,
    debounce: Debounce,
    custom: Mapping[str, tuple[Series, Series]] | None = None,
) -> Verdict:
    """Judge every gate of `gate_set` on `rollout`'s metrics. Never raises.

    `changed_at`: when the set weight or the canary revision last changed (warm-up);
    None = unknown, treated as long ago. `custom`: gate name -> (canary series, stable
    series) of each custom gate's query. A rollout without a canary gives PASS with no
    results and the note "no canary".
    """
    try:
        if rollout.canary is None:
            return Verdict(
                ref=rollout.ref,
                state=GateState.PASS,
                gate_set=gate_set.name,
                at=now,
                note="no canary",
            )
        epoch: tuple[object, ...] = (
            rollout.set_weight,
            rollout.canary.revision,
            rollout.canary.pod_hash,
        )
        context = _Context(rollout, metrics, now, scrape_interval_s, changed_at, custom or {})
        results: list[GateResult] = []
        for gate in gate_set.gates:
            result = context.judge_safely(gate)
            results.append(_debounced(result, rollout.ref.key, epoch, debounce))
        return Verdict(
            ref=rollout.ref,
            state=worst(r.state for r in results),
            results=tuple(results),
            gate_set=gate_set.name,
            at=now,
        )
    except Exception as exc:  # a bug must not take the guard down: the verdict says ERROR
        return error_verdict(
            rollout.ref,
            f"Evaluation failed: {_describe(exc)}.",
            at=now,
            gate_set=getattr(gate_set, "name", ""),
        )


def error_verdict(ref: RolloutRef, message: str, *, at: float, gate_set: str = "") -> Verdict:
    """ERROR without gate results: e.g. the gate set did not load (GateConfigError text)."""
    return Verdict(ref=ref, state=GateState.ERROR, gate_set=gate_set, at=at, error=message)


def _describe(exc: BaseException) -> str:
    text = one_line(exc, 160)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _debounced(
    result: GateResult, key: str, epoch: tuple[object, ...], debounce: Debounce
) -> GateResult:
    gate = result.gate
    failed = result.state is GateState.FAIL
    breaches = debounce.record(key, gate.name, failed, epoch, n=gate.debounce_n)
    due: int | None = None
    if failed:
        if gate.critical:
            due = 0
        else:
            due = pauses_in(debounce.history(key, gate.name), gate.debounce_k, gate.debounce_n)
    return replace(result, breaches=breaches, pauses_in=due)


# --- per gate ------------------------------------------------------------------------------


def _finite(points: Points) -> Points:
    return tuple((t, v) for t, v in points if math.isfinite(t) and math.isfinite(v))


def _spacing(points: Points) -> float:
    """The typical (median) time between samples; 0 with fewer than two."""
    gaps = sorted(b[0] - a[0] for a, b in itertools.pairwise(points) if b[0] > a[0])
    return gaps[len(gaps) // 2] if gaps else 0.0


def _aggregate(points: Points, how: Aggregate) -> float:
    values = [v for _, v in points]
    if how is Aggregate.LATEST:
        return values[-1]
    if how is Aggregate.MAX:
        return max(values)
    return sum(values) / len(values)


def _fmt(value: float | None, metric: Metric | None) -> str:
    if value is None:
        return "-"
    unit = metric.unit if metric is not None else ""
    text = f"{value:.4g}"
    if unit == "%":
        return text + " %"
    return f"{text} {unit}".strip()


class _Context:
    def __init__(
        self,
        rollout: Rollout,
        metrics: RolloutMetrics | None,
        now: float,
        scrape_interval_s: float,
        changed_at: float | None,
        custom: Mapping[str, tuple[Series, Series]],
    ) -> None:
        self.rollout = rollout
        self.metrics = metrics
        self.now = now
        self.scrape_s = scrape_interval_s if scrape_interval_s > 0 else 15.0
        self.changed_at = changed_at
        self.custom = custom

    def judge_safely(self, gate: Gate) -> GateResult:
        try:
            return self.judge(gate)
        except Exception as exc:
            return GateResult(
                gate=gate,
                state=GateState.ERROR,
                needed=gate.min_points,
                reason=f"Could not judge this gate: {_describe(exc)}.",
                query=gate.query,
            )

    # -- data

    def raw_series(self, gate: Gate, canary: bool) -> Points:
        """Every sample, NaN included: a fresh NaN says the source is up to date."""
        if gate.kind is GateKind.CUSTOM:
            pair = self.custom.get(gate.name)
            if pair is None:
                return ()
            return pair[0 if canary else 1].points
        assert gate.metric is not None
        return self.raw_metric_series(gate.metric, canary)

    def raw_metric_series(self, metric: Metric, canary: bool) -> Points:
        if self.metrics is None:
            return ()
        version = self.metrics.canary if canary else self.metrics.stable
        if version is None:
            return ()
        return version.get(metric).points

    def metric_series(self, metric: Metric, canary: bool) -> Points:
        return _finite(self.raw_metric_series(metric, canary))

    def freshness(self, gate: Gate, canary: bool) -> tuple[float | None, float]:
        """(time of the version's newest sample, the gate series' sample spacing).

        A built-in metric's freshness is the version's: a canary without traffic has
        fresh request rates but no new latency samples, and that is NO_DATA, not a
        stale source. A custom gate only has its own series.
        """
        own = self.raw_series(gate, canary)
        if gate.kind is GateKind.CUSTOM:
            every: list[Points] = [own]
        else:
            version = None
            if self.metrics is not None:
                version = self.metrics.canary if canary else self.metrics.stable
            every = [s.points for s in version.series.values()] if version is not None else []
        newest = max(
            (t for points in every for t, _ in points[-1:] if math.isfinite(t)), default=None
        )
        return newest, _spacing(own)

    def window_start(self, gate: Gate) -> float:
        start = self.now - gate.window_s
        if self.changed_at is not None:
            start = max(start, self.changed_at + gate.warmup_s)
        return start

    def clip(self, points: Points, start: float) -> Points:
        return tuple(p for p in points if p[0] >= start)

    def counts(self, canary: bool, start: float) -> tuple[float, float] | None:
        """(requests, errors) in the window from the rate and error-percent series."""
        rates = self.clip(self.metric_series(Metric.REQUEST_RATE, canary), start)
        if not rates:
            return None
        errors_pct = dict(self.clip(self.metric_series(Metric.ERROR_PCT, canary), start))
        typical = _spacing(rates) or self.scrape_s
        requests = errors = 0.0
        previous: float | None = None
        for t, rate in rates:
            dt = typical if previous is None else min(max(t - previous, 0.0), typical)
            previous = t
            served = max(rate, 0.0) * dt
            requests += served
            pct = errors_pct.get(t)
            if pct is not None:
                errors += served * min(max(pct, 0.0), 100.0) / 100.0
        return requests, errors

    # -- judgement

    def judge(self, gate: Gate) -> GateResult:
        needs_stable = gate.kind in (GateKind.RELATIVE, GateKind.COMPARED)
        base = GateResult(gate=gate, state=GateState.PASS, needed=gate.min_points, query=gate.query)

        if self.metrics is None and gate.kind is not GateKind.CUSTOM:
            return replace(base, state=GateState.NO_DATA, reason="No metrics source.")
        if self.metrics is not None and self.metrics.state is MetricsState.UNAVAILABLE:
            why = self.metrics.reason.strip() or "metrics unavailable"
            return replace(base, state=GateState.STALE, reason=f"Metrics unavailable: {why}")

        canary_raw = self.raw_series(gate, canary=True)
        stable_raw = self.raw_series(gate, canary=False)
        canary_all, stable_all = _finite(canary_raw), _finite(stable_raw)

        for role, is_canary in (("canary", True), ("stable", False))[: 2 if needs_stable else 1]:
            newest, spacing = self.freshness(gate, is_canary)
            limit = 2 * max(self.scrape_s, spacing)
            if newest is not None and newest < self.now - limit:
                return replace(
                    base,
                    state=GateState.STALE,
                    reason=(
                        f"The newest {role} sample is {format_duration(self.now - newest)} old "
                        f"(scrape interval {format_duration(self.scrape_s)})."
                    ),
                )

        start = self.window_start(gate)
        canary = self.clip(canary_all, start)
        stable = self.clip(stable_all, start)

        if self.changed_at is not None:
            left = self.changed_at + gate.warmup_s - self.now
            if left > 0:
                since = max(self.now - gate.window_s, self.changed_at)
                shown_c = self.clip(canary_all, since)
                shown_s = self.clip(stable_all, since)
                return replace(
                    base,
                    state=GateState.INCONCLUSIVE,
                    canary=_aggregate(shown_c, gate.aggregate) if shown_c else None,
                    stable=_aggregate(shown_s, gate.aggregate) if shown_s else None,
                    n=len(shown_c),
                    reason=f"warming up, {math.ceil(min(left, gate.warmup_s))}s left",
                )

        if gate.metric in GPU_METRICS:
            missing = [
                role
                for role, pts in (("canary", canary_all), ("stable", stable_all))
                if not pts and (role == "canary" or needs_stable)
            ]
            if not canary_all and not stable_all:
                return replace(base, reason="Does not apply: neither version reports GPU metrics.")
            if missing:
                return replace(
                    base,
                    state=GateState.STALE,
                    reason=f"The {missing[0]}'s GPU series are missing.",
                )

        if len(canary) < gate.min_points:
            return replace(
                base,
                state=GateState.NO_DATA,
                n=len(canary),
                reason=f"The canary has {len(canary)} of {gate.min_points} samples needed.",
            )
        if needs_stable and len(stable) < gate.min_points:
            return replace(
                base,
                state=GateState.NO_DATA,
                n=len(stable),
                reason=f"Stable has {len(stable)} of {gate.min_points} samples needed.",
            )

        counts_c = counts_s = None
        if gate.min_requests > 0 or gate.metric is Metric.ERROR_PCT:
            counts_c = self.counts(True, start)
            counts_s = self.counts(False, start)
        if gate.min_requests > 0:
            served = counts_c[0] if counts_c is not None else 0.0
            if served < gate.min_requests:
                return replace(
                    base,
                    state=GateState.NO_DATA,
                    n=round(served),
                    needed=gate.min_requests,
                    reason=(
                        f"The canary served {round(served)} of {gate.min_requests} "
                        "requests needed in the window."
                    ),
                )

        value_c = self.figure(gate, canary, counts_c)
        value_s = self.figure(gate, stable, counts_s) if stable else None
        base = replace(base, canary=value_c, stable=value_s, n=len(canary))

        if gate.kind in (GateKind.ABSOLUTE, GateKind.CUSTOM):
            ok = gate.comparison.holds(value_c, gate.threshold)
            return replace(
                base,
                state=GateState.PASS if ok else GateState.FAIL,
                reason=(
                    f"Canary {_fmt(value_c, gate.metric)} "
                    f"{'meets' if ok else 'breaks'} {gate.comparison.value} "
                    f"{_fmt(gate.threshold, gate.metric)}."
                ),
            )
        if gate.kind is GateKind.RELATIVE:
            return self.relative(gate, base, value_c, value_s)
        return self.compared(gate, base, canary, stable, counts_c, counts_s)

    def figure(self, gate: Gate, points: Points, counts: tuple[float, float] | None) -> float:
        """The window as one number; the error rate's mean is errors / requests."""
        if (
            gate.metric is Metric.ERROR_PCT
            and gate.aggregate is Aggregate.MEAN
            and counts is not None
            and counts[0] > 0
        ):
            return 100.0 * counts[1] / counts[0]
        return _aggregate(points, gate.aggregate)

    def relative(
        self, gate: Gate, base: GateResult, value_c: float, value_s: float | None
    ) -> GateResult:
        assert value_s is not None  # min_points >= 1 made sure stable has samples
        if gate.relative == "difference":
            diff = value_c - value_s
            ok = gate.comparison.holds(diff, gate.threshold)
            return replace(
                base,
                state=GateState.PASS if ok else GateState.FAIL,
                reason=(
                    f"Canary {_fmt(value_c, gate.metric)} is stable {diff:+.4g}: "
                    f"{'meets' if ok else 'breaks'} {gate.bound_text}."
                ),
            )
        if value_s <= 0:
            return replace(
                base,
                state=GateState.INCONCLUSIVE,
                reason=f"Stable is {_fmt(value_s, gate.metric)}: no ratio to judge.",
            )
        ratio = value_c / value_s
        ok = gate.comparison.holds(ratio, gate.threshold)
        return replace(
            base,
            state=GateState.PASS if ok else GateState.FAIL,
            effect=ratio,
            reason=(
                f"Canary is {ratio:.3g}x stable ({_fmt(value_c, gate.metric)} against "
                f"{_fmt(value_s, gate.metric)}): {'meets' if ok else 'breaks'} {gate.bound_text}."
            ),
        )

    def compared(
        self,
        gate: Gate,
        base: GateResult,
        canary: Points,
        stable: Points,
        counts_c: tuple[float, float] | None,
        counts_s: tuple[float, float] | None,
    ) -> GateResult:
        if gate.metric is Metric.ERROR_PCT:
            if counts_c is None or counts_s is None:
                return replace(
                    base,
                    state=GateState.NO_DATA,
                    n=0,
                    reason="No request rates to count requests and errors.",
                )
            (req_c, err_c), (req_s, err_s) = counts_c, counts_s
            state, effect, p = stats.error_counts(
                req_c,
                err_c,
                req_s,
                err_s,
                confidence=gate.confidence,
                allowed_increase=gate.allowed_increase,
            )
            base = replace(base, n=round(req_c))
            detail = (
                f"{round(err_c)} errors in {round(req_c)} canary requests against "
                f"{round(err_s)} in {round(req_s)} stable"
            )
        else:
            values_c: Sequence[float] = [v for _, v in canary]
            values_s: Sequence[float] = [v for _, v in stable]
            state, effect, p = stats.mann_whitney(
                values_c,
                values_s,
                confidence=gate.confidence,
                allowed_increase=gate.allowed_increase,
            )
            detail = (
                f"mean {_fmt(base.canary, gate.metric)} over {len(values_c)} samples against "
                f"{_fmt(base.stable, gate.metric)} over {len(values_s)}"
            )
        effect_text = f", {effect:.3g}x" if effect is not None else ""
        p_text = f", p = {p:.3g}" if p is not None else ""
        level = f"{gate.confidence:.0%}"
        if state is GateState.INCONCLUSIVE:
            verdict = f"too few samples for the test to reach {level} confidence"
        elif state is GateState.FAIL:
            verdict = (
                f"higher at {level} confidence and beyond the allowed {gate.allowed_increase:g}x"
            )
        elif p is not None and p < 1.0 - gate.confidence:
            verdict = (
                f"higher at {level} confidence but within the allowed {gate.allowed_increase:g}x"
            )
        else:
            verdict = f"not higher at {level} confidence"
        return replace(
            base,
            state=state,
            effect=effect,
            p_value=p,
            reason=f"Canary {detail}{effect_text}{p_text}: {verdict}.",
        )
