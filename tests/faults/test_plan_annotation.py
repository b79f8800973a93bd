"""A mesh step plan must be ASCII integers 1..100, increasing.

Before: `int()` takes any Unicode digit, so a plan of full-width digits
("\\uff11\\uff10,\\uff15\\uff10", full-width 10,50) was accepted as 10,50,100 with no warning.
"""

from __future__ import annotations

import pytest

from console.kube import weights as W
from tests.faults.conftest import Fault


@pytest.mark.fault(
    "step plan annotation in full-width or other non-ASCII digits",
    "refused: advance unavailable, with a warning naming the plan",
)
@pytest.mark.parametrize(
    "plan",
    ["\uff11\uff10,\uff15\uff10", "10,\uff15\uff10", "\u0661\u0660,50", "10,5\u0966"],
    ids=["full-width", "one full-width", "arabic-indic", "devanagari"],
)
def test_a_plan_of_non_ascii_digits_is_refused(plan: str, fault: Fault) -> None:
    result = W.parse_plan(plan)
    fault.observed(
        f"plan {','.join(map(str, result.plan))}; warning {result.warning or 'none'!r}"[:200]
    )
    assert result.plan == W.DEFAULT_PLAN
    assert result.warning and "not a list of whole percentages" in result.warning
    assert "advance is refused" in result.warning


@pytest.mark.fault(
    "step plan annotation in ASCII (the control)",
    "taken as written",
)
def test_an_ascii_plan_is_taken(fault: Fault) -> None:
    result = W.parse_plan("10, 50%")
    fault.observed(f"plan {','.join(map(str, result.plan))}; warning {result.warning!r}")
    assert result.plan == (10, 50, 100) and not result.warning
