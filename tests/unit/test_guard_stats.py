"""The guard's statistics against reference values worked out independently of scipy.

Exact p-values come from counting (the Mann-Whitney U distribution, hypergeometric
sums in exact fractions); the normal approximation from its textbook formula with
continuity and tie corrections (what R's wilcox.test(exact = FALSE, correct = TRUE)
gives). The numbers are written here, not recomputed by the code under test.
"""

import subprocess
import sys

import pytest

from console.guard.stats import error_counts, mann_whitney, min_fisher_p, min_mann_whitney_p
from console.guard.verdicts import GateState

PASS, FAIL, INCONCLUSIVE = GateState.PASS, GateState.FAIL, GateState.INCONCLUSIVE


# --- Mann-Whitney U -------------------------------------------------------------------


def test_mann_whitney_complete_separation_of_four_against_four() -> None:
    # Every canary sample above every stable one: exact p = 1 / C(8, 4) = 1/70.
    state, effect, p = mann_whitney(
        [5, 6, 7, 8], [1, 2, 3, 4], confidence=0.98, allowed_increase=1.10
    )
    assert p == pytest.approx(0.0142857142857, rel=1e-9)
    assert effect == pytest.approx(6.5 / 2.5)
    assert state is FAIL


def test_mann_whitney_intermediate_u_exact() -> None:
    # U = 12 of 16. The U distribution for m = n = 4 (coefficients of the Gaussian
    # binomial [8 choose 4]) is 1 1 2 3 5 5 7 7 8 7 7 5 5 3 2 1 1, so
    # P(U >= 12) = (5 + 3 + 2 + 1 + 1) / 70 = 12/70.
    state, _, p = mann_whitney([2, 5, 7, 8], [1, 3, 4, 6], confidence=0.98, allowed_increase=1.0)
    assert p == pytest.approx(0.171428571429, rel=1e-9)
    assert state is PASS


def test_mann_whitney_textbook_example() -> None:
    # Mann & Whitney's (1947) example, also in scipy's documentation: U = 17 of 20,
    # one-sided exact p = 7 / C(9, 4) = 7/126 (U = 20, 19, 18, 18, 17, 17, 17).
    state, effect, p = mann_whitney(
        [19, 22, 16, 29, 24], [20, 11, 17, 12], confidence=0.98, allowed_increase=1.0
    )
    assert p == pytest.approx(0.0555555555556, rel=1e-9)
    assert effect == pytest.approx(22.0 / 15.0)
    assert state is PASS  # p > 0.02: not significant at 98 %
    # At 90 % the same data are significant and beyond the allowance.
    state, _, _ = mann_whitney(
        [19, 22, 16, 29, 24], [20, 11, 17, 12], confidence=0.90, allowed_increase=1.0
    )
    assert state is FAIL


def test_mann_whitney_normal_approximation() -> None:
    # n1 = n2 = 10, no ties: U = 68, mu = 50, sigma = sqrt(10*10*21/12) = 13.2288,
    # z = (68 - 50 - 0.5) / 13.2288 = 1.32288, p = 1 - Phi(z) = 0.0929384.
    canary = [12, 14, 15, 16, 18, 19, 20, 21, 23, 25]
    stable = [10, 11, 13, 14.5, 15.5, 16.5, 17, 17.5, 19.5, 22]
    state, _, p = mann_whitney(canary, stable, confidence=0.98, allowed_increase=1.0)
    assert p == pytest.approx(0.0929383661829, rel=1e-6)
    assert state is PASS


CANARY_TIES = [50, 52, 52, 55, 58, 60, 60, 61, 63, 65, 65, 70]
STABLE_TIES = [48, 50, 50, 51, 52, 53, 55, 55, 56, 57, 60, 58]


def test_mann_whitney_with_ties_uses_the_tie_corrected_variance() -> None:
    # 12 against 12 with ties: U = 111.5; var = n1 n2 / 12 * ((n + 1) - sum(t^3 - t) /
    # (n (n - 1))) with tie groups 50x3, 52x3, 55x3, 60x3, 65x2 -> z = 2.26053,
    # p = 0.0118942. Means 59.25 and 53.75: effect 1.10233.
    state, effect, p = mann_whitney(
        CANARY_TIES, STABLE_TIES, confidence=0.98, allowed_increase=1.10
    )
    assert p == pytest.approx(0.0118942201869, rel=1e-6)
    assert effect == pytest.approx(1.1023255814, rel=1e-9)
    assert state is FAIL  # significant and 10.2 % > 10 % allowed


def test_mann_whitney_significant_but_within_the_allowance_passes() -> None:
    state, effect, p = mann_whitney(
        CANARY_TIES, STABLE_TIES, confidence=0.98, allowed_increase=1.15
    )
    assert p is not None and p < 0.02
    assert effect is not None and effect < 1.15
    assert state is PASS


def test_mann_whitney_a_decrease_is_not_a_failure() -> None:
    state, effect, p = mann_whitney([1, 2, 3, 4], [5, 6, 7, 8], confidence=0.98, allowed_increase=1)
    assert state is PASS
    assert p == pytest.approx(1.0)  # P(U >= 0)
    assert effect == pytest.approx(2.5 / 6.5)


def test_mann_whitney_too_few_points_to_reach_significance_is_inconclusive() -> None:
    # 3 against 3: the best possible p is 1 / C(6, 3) = 0.05 >= 0.02.
    assert min_mann_whitney_p(3, 3) == pytest.approx(0.05)
    assert min_mann_whitney_p(4, 4) == pytest.approx(1 / 70)
    assert min_mann_whitney_p(1, 48) == pytest.approx(1 / 49)
    state, effect, p = mann_whitney(
        [100, 200, 300], [1, 2, 3], confidence=0.98, allowed_increase=1.0
    )
    assert state is INCONCLUSIVE
    assert p is None
    assert effect == pytest.approx(100.0)
    # One canary sample against 48 stable ones cannot reach 98 % either (1/49 > 0.02).
    state, _, _ = mann_whitney([1000], list(range(48)), confidence=0.98, allowed_increase=1.0)
    assert state is INCONCLUSIVE
    state, _, _ = mann_whitney([], [1, 2, 3], confidence=0.98, allowed_increase=1.0)
    assert state is INCONCLUSIVE


def test_mann_whitney_drops_nan_and_inf_and_handles_all_equal() -> None:
    nan, inf = float("nan"), float("inf")
    state, _, p = mann_whitney(
        [5, 6, nan, 7, 8, inf], [1, 2, 3, -inf, 4], confidence=0.98, allowed_increase=1.1
    )
    assert p == pytest.approx(1 / 70)
    assert state is FAIL
    state, effect, p = mann_whitney([3.0] * 10, [3.0] * 10, confidence=0.98, allowed_increase=1)
    assert (state, effect, p) == (PASS, 1.0, 1.0)


def test_mann_whitney_stable_mean_zero_has_no_effect_size() -> None:
    state, effect, _ = mann_whitney([1, 2, 3, 4, 5], [0] * 5, confidence=0.98, allowed_increase=5)
    assert effect is None
    assert state is FAIL  # significant, and an increase from nothing is beyond any allowance


def test_mann_whitney_rejects_a_confidence_outside_zero_and_one() -> None:
    with pytest.raises(ValueError):
        mann_whitney([1], [2], confidence=98, allowed_increase=1)


# --- error counts (Fisher's exact test) -------------------------------------------------


def test_error_counts_lady_tasting_tea() -> None:
    # Fisher's own example, table [[3, 1], [1, 3]]: one-sided p = 17/70.
    state, effect, p = error_counts(4, 3, 4, 1, confidence=0.98, allowed_increase=1.0)
    assert p == pytest.approx(0.242857142857, rel=1e-9)
    assert effect == pytest.approx(3.0)
    assert state is PASS


def test_error_counts_clear_regression_against_a_clean_stable() -> None:
    # 10 errors in 100 against 0 in 100: p = C(100, 10) / C(200, 10).
    state, effect, p = error_counts(100, 10, 100, 0, confidence=0.98, allowed_increase=1.0)
    assert p == pytest.approx(0.000771026062718, rel=1e-9)
    assert effect is None  # stable had no errors
    assert state is FAIL


def test_error_counts_not_significant_at_98_percent() -> None:
    # 0.5 % of 1000 against 0.2 % of 10000: p = 0.0708176 (hypergeometric tail sum).
    state, effect, p = error_counts(1000, 5, 10000, 20, confidence=0.98, allowed_increase=1.0)
    assert p == pytest.approx(0.0708176168409, rel=1e-9)
    assert effect == pytest.approx(2.5)
    assert state is PASS


def test_error_counts_allowance_decides_a_significant_increase() -> None:
    # 3 % of 1000 against 2 % of 10000: p = 0.0276261, effect 1.5.
    args = (1000, 30, 10000, 200)
    state, effect, p = error_counts(*args, confidence=0.95, allowed_increase=1.2)
    assert p == pytest.approx(0.0276261097624, rel=1e-9)
    assert effect == pytest.approx(1.5)
    assert state is FAIL
    assert error_counts(*args, confidence=0.95, allowed_increase=2.0)[0] is PASS
    assert error_counts(*args, confidence=0.98, allowed_increase=1.2)[0] is PASS


def test_error_counts_no_canary_errors_passes_and_too_few_is_inconclusive() -> None:
    assert error_counts(500, 0, 500, 3, confidence=0.98, allowed_increase=1) == (PASS, 0.0, 1.0)
    # 1 error in 10 canary requests, none in 90 stable: at best p = 10/100.
    assert min_fisher_p(10, 90, 1) == pytest.approx(0.1)
    state, _, p = error_counts(10, 1, 90, 0, confidence=0.98, allowed_increase=1)
    assert (state, p) == (INCONCLUSIVE, None)
    assert error_counts(0, 0, 100, 1, confidence=0.98, allowed_increase=1)[0] is INCONCLUSIVE


def test_error_counts_rounds_fractional_counts_and_rejects_nonsense() -> None:
    # Rates times seconds are fractional: 99.6 requests with 9.7 errors is 100 and 10.
    state, _, p = error_counts(99.6, 9.7, 100.2, 0.3, confidence=0.98, allowed_increase=1)
    assert p == pytest.approx(0.000771026062718, rel=1e-9)
    assert state is FAIL
    with pytest.raises(ValueError):
        error_counts(-1, 0, 10, 0, confidence=0.98, allowed_increase=1)
    with pytest.raises(ValueError):
        error_counts(float("nan"), 0, 10, 0, confidence=0.98, allowed_increase=1)


def test_min_fisher_p_in_log_space_for_millions_of_requests() -> None:
    # C(2e6, 1) / ... : one error among 1e6 + 1e6 requests can at best give p = 1/2.
    assert min_fisher_p(1_000_000, 1_000_000, 1) == pytest.approx(0.5)
    assert min_fisher_p(1_000_000, 1_000_000, 40) < 1e-11


def test_importing_the_guard_core_does_not_import_scipy() -> None:
    has_scipy = "any(m == 'scipy' or m.startswith('scipy.') for m in sys.modules)"
    code = (
        "import sys, console.guard.stats, console.guard.evaluate, console.guard.gates;"
        f"assert not {has_scipy};"
        "console.guard.stats.preload();"
        f"assert {has_scipy}"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
