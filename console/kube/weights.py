"""Pure weight arithmetic for mesh-weighted canaries (no controller).

Nothing here talks to Kubernetes: the Istio and Gateway API providers read
two weights off a route, ask this module where the next step goes, and write
the answer back with a resourceVersion precondition.

Conventions:

* A *percentage* is the canary's share of traffic, 0..100.
* A route has a *total*: the sum of its two weights. An Istio VirtualService
  is written with total 100. A Gateway API HTTPRoute's weights are ratios
  (`weight / sum of weights`), so its total is whatever the route already
  uses (1:3 is 25%) and writes keep it: 25% -> 50% on 1:3 is 2:2, not 50:50.
* The step plan is a strictly increasing list of percentages ending at 100.
  It comes from the annotation `rollout-console.io/steps` ("5,10,25,50,100"),
  else DEFAULT_PLAN.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from console.model import Step, StepKind
from console.untrusted import quote

#: The seed notes' progression: 5% for core systems, up through 50% to 100%.
DEFAULT_PLAN: tuple[int, ...] = (5, 10, 20, 30, 50, 100)

#: The total a route is written with when it carries no usable total (both
#: weights 0: nothing would receive traffic, so "keep the total" means nothing).
FALLBACK_TOTAL = 100


#: What a malformed plan means for the operator, after the sentence saying why.
_REFUSED = "advance is refused until it is fixed"


@dataclass(frozen=True)
class PlanResult:
    plan: tuple[int, ...]
    warning: str = ""  # non-empty when the annotation was rejected


def parse_plan(text: str | None) -> PlanResult:
    """Read a `rollout-console.io/steps` value; malformed -> default plan + warning.

    The default plan is only what the screen shows: the provider refuses to
    advance on a malformed plan (the operator wrote a plan; guessing another could
    send more traffic than they meant).

    Accepted: comma-separated integers 1..100, strictly increasing, optional
    spaces and `%` signs. A plan that stops short of 100 gets 100 appended, so
    advancing can always finish the rollout (documented, not a warning).
    """
    if text is None:
        return PlanResult(DEFAULT_PLAN)
    raw = text.strip()
    if not raw:
        return PlanResult(DEFAULT_PLAN, f"step plan annotation is empty; {_REFUSED}")
    weights: list[int] = []
    for part in raw.split(","):
        item = part.strip().removesuffix("%").strip()
        try:
            # int() takes any Unicode digit (full-width ones too); a plan is ASCII only.
            if not (item.isascii() and item.isdigit()):
                raise ValueError(item)
            value = int(item)
        except ValueError:
            return PlanResult(
                DEFAULT_PLAN,
                f"step plan {quote(raw)} is not a list of whole percentages; {_REFUSED}",
            )
        if not 0 < value <= 100:
            return PlanResult(
                DEFAULT_PLAN,
                f"step plan {quote(raw)} has {value}, outside 1..100; {_REFUSED}",
            )
        if weights and value <= weights[-1]:
            return PlanResult(
                DEFAULT_PLAN,
                f"step plan {quote(raw)} is not strictly increasing; {_REFUSED}",
            )
        weights.append(value)
    if weights[-1] != 100:
        weights.append(100)
    return PlanResult(tuple(weights))


def plan_steps(plan: tuple[int, ...]) -> tuple[Step, ...]:
    return tuple(Step(StepKind.SET_WEIGHT, weight=w) for w in plan)


def canary_fraction(stable_weight: int, canary_weight: int) -> Fraction | None:
    """The canary's exact share in percent; None when nothing gets traffic."""
    total = stable_weight + canary_weight
    if total <= 0:
        return None
    return Fraction(canary_weight * 100, total)


def percent(stable_weight: int, canary_weight: int) -> int:
    """The canary's share rounded to a whole percent, for display (0 if no traffic)."""
    share = canary_fraction(stable_weight, canary_weight)
    return 0 if share is None else round_half_up(share)


def round_half_up(value: Fraction) -> int:
    # round() on Fraction is banker's rounding; 2.5% of a route should not
    # round differently from 3.5%, so round half away from zero (values >= 0).
    return int(value + Fraction(1, 2)) if value >= 0 else -int(-value + Fraction(1, 2))


def steps_done(plan: tuple[int, ...], share: Fraction) -> int:
    """How many plan weights the canary has reached: the Rollout's current_step.

    Equals the index of the first plan weight *above* the current share, i.e.
    the step the next advance performs, and len(plan) once the canary takes
    100%. This matches Argo's currentStepIndex reading ("1/6" once the first
    setWeight is done) so the STEP column means the same for every provider.
    """
    return sum(1 for w in plan if w <= share)


def next_weight(plan: tuple[int, ...], share: Fraction) -> int | None:
    """The plan's next percentage above the current share; None at 100%."""
    for w in plan:
        if w > share:
            return w
    return None


def split(total: int, canary_pct: int) -> tuple[int, int]:
    """(stable, canary) weights for `canary_pct` on a route of `total`.

    The canary's weight is rounded half up; the stable weight takes the
    remainder so the pair always adds up to exactly `total`.
    """
    if total <= 0:
        total = FALLBACK_TOTAL
    canary_pct = max(0, min(100, canary_pct))
    canary = round_half_up(Fraction(total * canary_pct, 100))
    return total - canary, canary


@dataclass(frozen=True)
class WeightChange:
    stable: int
    canary: int
    note: str = ""  # why the result differs from the plan's percentage

    @property
    def total(self) -> int:
        return self.stable + self.canary


def advance_weights(
    plan: tuple[int, ...], stable_weight: int, canary_weight: int, total: int | None = None
) -> WeightChange | None:
    """The next step's weights, or None when the canary already takes 100%.

    `total` forces the written total (a VirtualService is always written with
    100); by default the route keeps its own. A coarse total (1:3 has 4 units
    of 25%) cannot express every plan weight; rounding might then land at or
    below the current share and advance would never move. In that case the
    canary gets one unit more than its current share, the smallest real step
    the route can take, and the note says so.
    """
    write_total = _write_total(stable_weight, canary_weight, total)
    share = canary_fraction(stable_weight, canary_weight) or Fraction(0)
    target = next_weight(plan, share)
    if target is None:
        return None
    stable, canary = split(write_total, target)
    if Fraction(canary * 100, write_total) <= share:
        canary = min(write_total, int(share * write_total / 100) + 1)
        stable = write_total - canary
        got = round_half_up(Fraction(canary * 100, write_total))
        return WeightChange(
            stable,
            canary,
            f"a total of {write_total} cannot express {target}%; moved one unit to {got}%",
        )
    note = ""
    if Fraction(canary * 100, write_total) != target:
        got = round_half_up(Fraction(canary * 100, write_total))
        note = f"{target}% of a total of {write_total} rounds to {canary}/{write_total} ({got}%)"
    return WeightChange(stable, canary, note)


def set_weights(
    stable_weight: int, canary_weight: int, canary_pct: int, total: int | None = None
) -> WeightChange:
    """Weights for an absolute percentage (rollback = 0, promote = 100)."""
    write_total = _write_total(stable_weight, canary_weight, total)
    stable, canary = split(write_total, canary_pct)
    note = ""
    if total is None and stable_weight + canary_weight <= 0:
        note = f"the route sent no traffic at all; wrote a total of {FALLBACK_TOTAL}"
    return WeightChange(stable, canary, note)


def _write_total(stable_weight: int, canary_weight: int, total: int | None) -> int:
    if total is not None and total > 0:
        return total
    current = stable_weight + canary_weight
    return current if current > 0 else FALLBACK_TOTAL
