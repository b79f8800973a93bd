"""Kayenta-style comparisons of a canary against stable.

scipy is imported inside the functions: the demo's start-up must not pay for it.

Both tests ask one question, "is the canary worse than stable?", one-sided, and
judge like Kayenta's Mann-Whitney classifier:

- FAIL when the difference is significant at `confidence` (p < 1 - confidence)
  AND the effect (canary / stable) is above `allowed_increase`;
- PASS when it is not significant, or the effect is within the allowance;
- INCONCLUSIVE when the samples are too small for the test to reach significance
  at all, however different they were (see each function for the rule).

Neither returns NO_DATA: an empty sample is the caller's NO_DATA.

Caveat, as with Kayenta: the samples are a range query's points, and neighbouring
points share most of their rate window, so they are not independent and p-values
are optimistic. That is why a FAIL also needs the effect beyond the allowance, and
why non-critical gates are debounced (K of N evaluations).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from console.guard.verdicts import GateState

StatResult = tuple[GateState, float | None, float | None]  # state, effect, p-value


def preload() -> None:
    """Import scipy.stats now (about a second, once): call it from a worker thread at
    start so the first evaluation with a compared gate does not pay for it."""
    import scipy.stats  # noqa: F401


def _check_confidence(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence!r}")
    return 1.0 - confidence


def _finite(values: Sequence[float]) -> list[float]:
    return [float(v) for v in values if math.isfinite(v)]


def min_mann_whitney_p(n_canary: int, n_stable: int) -> float:
    """The smallest one-sided p-value the exact test can give: 1 / C(n1 + n2, n1).

    Reached when every canary sample is above every stable sample. Larger samples
    use the normal approximation, whose smallest p is smaller still.
    """
    if n_canary <= 0 or n_stable <= 0:
        return 1.0
    return 1.0 / math.comb(n_canary + n_stable, n_canary)


def mann_whitney(
    canary: Sequence[float],
    stable: Sequence[float],
    *,
    confidence: float,
    allowed_increase: float,
) -> tuple[GateState, float | None, float | None]:
    """Is the canary's sample significantly larger than stable's, and by more than allowed?

    Mann-Whitney U, one-sided (alternative: canary greater), scipy's default method
    (exact for small samples without ties, else normal approximation with continuity
    correction). Effect size = mean(canary) / mean(stable); None when stable's mean
    is 0 (then a significant increase FAILs whatever the allowance).

    NaN/Inf values are dropped. INCONCLUSIVE when either sample is empty or when
    even complete separation could not reach significance: 1 / C(n1 + n2, n1) >=
    1 - confidence (at 98 %: 3 vs 3 points cannot, 4 vs 4 can).
    """
    alpha = _check_confidence(confidence)
    c, s = _finite(canary), _finite(stable)
    if not c or not s:
        return GateState.INCONCLUSIVE, None, None
    mean_c, mean_s = sum(c) / len(c), sum(s) / len(s)
    effect = mean_c / mean_s if mean_s > 0 else (1.0 if mean_c == mean_s else None)
    if min_mann_whitney_p(len(c), len(s)) >= alpha:
        return GateState.INCONCLUSIVE, effect, None
    if min(c) == max(c) == min(s) == max(s):
        # All equal: no difference at all (the normal approximation would divide by 0).
        return GateState.PASS, effect, 1.0

    from scipy.stats import mannwhitneyu

    p = float(mannwhitneyu(c, s, alternative="greater").pvalue)
    if not math.isfinite(p):
        return GateState.INCONCLUSIVE, effect, None
    significant = p < alpha
    if significant and (effect is None or effect > allowed_increase):
        return GateState.FAIL, effect, p
    return GateState.PASS, effect, p


def min_fisher_p(n_canary: int, n_stable: int, errors: int) -> float:
    """The smallest one-sided Fisher p-value with these margins: every error that fits on
    the canary, a = min(errors, n_canary); p = C(n_c, a) C(n_s, errors - a) / C(n, errors).

    In log space (lgamma): counts may be in the millions.
    """
    if n_canary <= 0 or errors <= 0 or errors > n_canary + n_stable:
        return 1.0
    a = min(errors, n_canary)

    def log_comb(n: int, k: int) -> float:
        return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)

    log_p = (
        log_comb(n_canary, a)
        + log_comb(n_stable, errors - a)
        - log_comb(n_canary + n_stable, errors)
    )
    return math.exp(log_p)


def error_counts(
    canary_requests: float,
    canary_errors: float,
    stable_requests: float,
    stable_errors: float,
    *,
    confidence: float,
    allowed_increase: float,
) -> tuple[GateState, float | None, float | None]:
    """Is the canary's error proportion significantly higher than stable's?

    A test on the raw counts, not on ratios. Counts may be fractional (they come
    from rates times seconds); they are rounded to whole requests. Errors above
    requests are clamped.

    Fisher's exact test on the 2x2 table [[canary errors, canary successes], [stable
    errors, stable successes]], one-sided (the canary's odds of an error greater). Exact
    at any size, so no large-sample approximation to get wrong with few errors, and
    fast enough (well under a millisecond even for millions of requests).

    Effect = canary error proportion / stable's; None when stable had no errors (then
    a significant increase FAILs whatever the allowance). PASS when the canary had no
    errors. INCONCLUSIVE when a version has no requests, or when even putting every
    observed error on the canary could not reach significance (e.g. 1 error among 10
    canary and 90 stable requests: at best p = 0.1).
    Raises ValueError on negative or non-finite counts.
    """
    alpha = _check_confidence(confidence)
    counts = (canary_requests, canary_errors, stable_requests, stable_errors)
    if not all(math.isfinite(x) and x >= 0 for x in counts):
        raise ValueError(f"request and error counts must be finite and >= 0, not {counts!r}")
    n_c, n_s = round(canary_requests), round(stable_requests)
    e_c, e_s = min(round(canary_errors), n_c), min(round(stable_errors), n_s)
    if n_c == 0 or n_s == 0:
        return GateState.INCONCLUSIVE, None, None
    p_c, p_s = e_c / n_c, e_s / n_s
    effect = p_c / p_s if p_s > 0 else (1.0 if p_c == 0 else None)
    if e_c == 0:
        # No canary errors: P(X >= 0) = 1, it cannot be worse than stable.
        return GateState.PASS, effect, 1.0
    if min_fisher_p(n_c, n_s, e_c + e_s) >= alpha:
        return GateState.INCONCLUSIVE, effect, None

    from scipy.stats import fisher_exact

    table = [[e_c, n_c - e_c], [e_s, n_s - e_s]]
    p = float(fisher_exact(table, alternative="greater").pvalue)
    if not math.isfinite(p):
        return GateState.INCONCLUSIVE, effect, None
    if p < alpha and (effect is None or effect > allowed_increase):
        return GateState.FAIL, effect, p
    return GateState.PASS, effect, p
