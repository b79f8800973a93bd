"""Weight-plan math for controller-less mesh canaries (console.kube.weights)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from console.kube import weights as W
from console.model import StepKind


def test_default_plan_is_the_seed_notes_progression() -> None:
    assert W.parse_plan(None).plan == (5, 10, 20, 30, 50, 100)
    assert W.parse_plan(None).warning == ""


@pytest.mark.parametrize(
    ("text", "plan"),
    [
        ("5,10,25,50,100", (5, 10, 25, 50, 100)),
        (" 1 , 5%, 20 ,100 ", (1, 5, 20, 100)),
        ("10,30", (10, 30, 100)),  # 100 appended: advance can always finish
        ("100", (100,)),
    ],
)
def test_plan_annotation_is_parsed(text: str, plan: tuple[int, ...]) -> None:
    result = W.parse_plan(text)
    assert result.plan == plan
    assert result.warning == ""


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty"),
        ("5,ten,20", "whole percentages"),
        ("5,10,150", "outside 1..100"),
        ("0,10", "outside 1..100"),
        ("10,5,50", "strictly increasing"),
        ("10,10,50", "strictly increasing"),
        ("5;10;20", "whole percentages"),
    ],
)
def test_malformed_plan_warns_and_falls_back(text: str, words: str) -> None:
    result = W.parse_plan(text)
    assert result.plan == W.DEFAULT_PLAN
    assert words in result.warning
    assert "advance is refused until it is fixed" in result.warning


def test_plan_steps_are_set_weight_steps() -> None:
    steps = W.plan_steps((5, 100))
    assert [(s.kind, s.weight) for s in steps] == [
        (StepKind.SET_WEIGHT, 5),
        (StepKind.SET_WEIGHT, 100),
    ]


def test_ratio_weights_are_shares_not_percentages() -> None:
    assert W.canary_fraction(3, 1) == 25
    assert W.canary_fraction(1, 3) == 75
    assert W.canary_fraction(2, 1) == Fraction(100, 3)
    assert W.percent(2, 1) == 33
    assert W.percent(1, 1) == 50
    assert W.canary_fraction(0, 0) is None
    assert W.percent(0, 0) == 0


def test_steps_done_counts_reached_plan_weights() -> None:
    plan = W.DEFAULT_PLAN
    assert W.steps_done(plan, Fraction(0)) == 0
    assert W.steps_done(plan, Fraction(5)) == 1  # "1/6": setWeight 5 done, next is 10
    assert W.steps_done(plan, Fraction(7)) == 1  # off-plan weight: still before 10
    assert W.steps_done(plan, Fraction(10)) == 2
    assert W.steps_done(plan, Fraction(100)) == 6  # done
    assert W.next_weight(plan, Fraction(7)) == 10
    assert W.next_weight(plan, Fraction(10)) == 20
    assert W.next_weight(plan, Fraction(100)) is None


@pytest.mark.parametrize(
    ("total", "pct", "pair"),
    [
        (100, 10, (90, 10)),
        (4, 50, (2, 2)),
        (4, 25, (3, 1)),
        (3, 50, (1, 2)),  # 1.5 rounds half up; the sum stays 3
        (7, 30, (5, 2)),  # 2.1 -> 2
        (10, 5, (9, 1)),  # 0.5 -> 1 (half up, not banker's 0)
        (1000000, 33, (670000, 330000)),
        (0, 20, (80, 20)),  # no usable total: 100
    ],
)
def test_split_rounds_and_keeps_the_sum_exact(total: int, pct: int, pair: tuple[int, int]) -> None:
    assert W.split(total, pct) == pair
    assert sum(pair) == (total or 100)


def test_advance_on_istio_total_walks_the_plan() -> None:
    walked = []
    s, c = 100, 0
    while (change := W.advance_weights(W.DEFAULT_PLAN, s, c, total=100)) is not None:
        s, c = change.stable, change.canary
        assert s + c == 100
        walked.append(c)
    assert walked == [5, 10, 20, 30, 50, 100]


def test_advance_keeps_an_httproute_total() -> None:
    # 1:3 is 75%: the next plan weight is 100 -> 0:4, total 4 kept.
    change = W.advance_weights(W.DEFAULT_PLAN, 1, 3)
    assert change is not None
    assert (change.stable, change.canary) == (0, 4)
    # 3:1 is 25%: next is 30% of 4 = 1.2 -> rounds to 1, no progress -> one unit more.
    change = W.advance_weights(W.DEFAULT_PLAN, 3, 1)
    assert change is not None
    assert (change.stable, change.canary) == (2, 2)
    assert "cannot express 30%" in change.note


def test_advance_on_a_coarse_total_still_moves() -> None:
    s, c = 4, 0
    seen = []
    while (change := W.advance_weights(W.DEFAULT_PLAN, s, c)) is not None:
        assert change.total == 4
        assert change.canary > c
        s, c = change.stable, change.canary
        seen.append(c)
    assert seen == [1, 2, 4]  # 25%, 50%, 100%: the plan as fine as 4 units allow


def test_advance_notes_rounding_on_odd_totals() -> None:
    change = W.advance_weights(W.DEFAULT_PLAN, 7, 0)  # 5% of 7 = 0.35 -> 0 -> bump to 1
    assert change is not None and (change.stable, change.canary) == (6, 1)
    change = W.advance_weights(W.DEFAULT_PLAN, 2, 1)  # 33% -> 50% of 3 = 1.5 -> 2
    assert change is not None and (change.stable, change.canary) == (1, 2)
    assert "rounds to 2/3" in change.note


def test_advance_at_full_share_is_none() -> None:
    assert W.advance_weights(W.DEFAULT_PLAN, 0, 5) is None


def test_advance_renormalises_a_malformed_istio_total() -> None:
    # 80/10 adds up to 90: the share is 11.1%, next plan weight 20 -> 80/20 on 100.
    change = W.advance_weights(W.DEFAULT_PLAN, 80, 10, total=100)
    assert change is not None and (change.stable, change.canary) == (80, 20)


def test_set_weights_rollback_and_promote_keep_total() -> None:
    assert W.set_weights(1, 3, 0) == W.WeightChange(4, 0)
    assert W.set_weights(1, 3, 100) == W.WeightChange(0, 4)
    assert W.set_weights(70, 30, 0, total=100) == W.WeightChange(100, 0)
    both_zero = W.set_weights(0, 0, 0)
    assert (both_zero.stable, both_zero.canary) == (100, 0)
    assert "no traffic" in both_zero.note


def test_round_half_up() -> None:
    assert W.round_half_up(Fraction(5, 2)) == 3
    assert W.round_half_up(Fraction(7, 2)) == 4
    assert W.round_half_up(Fraction(1, 3)) == 0
