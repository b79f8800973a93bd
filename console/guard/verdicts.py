"""The guard's vocabulary: gates, gate sets, per-gate results and the verdict.

Plain frozen dataclasses shared by the evaluator, the guard loop, the headless
`verdict` command and the UI. No textual, no kubernetes (import-linter keeps it so).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

from console.model import Metric, RolloutRef

#: JSON schema version of `rollout-console verdict -o json` and `--watch` lines.
VERDICT_JSON_VERSION = "rollout-console.io/verdict/v1"


class GateState(enum.StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"
    NO_DATA = "NO_DATA"
    STALE = "STALE"
    ERROR = "ERROR"

    @property
    def symbol(self) -> str:
        """Reads without colour: the list's verdict column."""
        return _SYMBOLS[self]


_SYMBOLS = {
    GateState.PASS: "✔",
    GateState.FAIL: "✖",
    GateState.INCONCLUSIVE: "?",
    GateState.NO_DATA: "∅",
    GateState.STALE: "stale",
    GateState.ERROR: "error",
}

#: Worst first: the overall verdict is the first of these any gate has.
PRECEDENCE: tuple[GateState, ...] = (
    GateState.FAIL,
    GateState.ERROR,
    GateState.NO_DATA,
    GateState.STALE,
    GateState.INCONCLUSIVE,
    GateState.PASS,
)


def worst(states: Iterable[GateState]) -> GateState:
    """The overall state of several gates; PASS when there are none."""
    seen = set(states)
    for state in PRECEDENCE:
        if state in seen:
            return state
    return GateState.PASS


class GateKind(enum.StrEnum):
    ABSOLUTE = "absolute"  # canary metric against a bound
    RELATIVE = "relative"  # canary against stable: ratio or difference
    COMPARED = "compared"  # statistical test, canary against stable (Kayenta's judge)
    CUSTOM = "custom"  # a PromQL template, the version's selector filled in


class Comparison(enum.StrEnum):
    """How a value must stand to its bound to pass."""

    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="

    def holds(self, value: float, bound: float) -> bool:
        if self is Comparison.LT:
            return value < bound
        if self is Comparison.LE:
            return value <= bound
        if self is Comparison.GT:
            return value > bound
        return value >= bound


class Aggregate(enum.StrEnum):
    """How a window of points becomes one figure."""

    LATEST = "latest"
    MEAN = "mean"
    MAX = "max"


@dataclass(frozen=True)
class Gate:
    name: str
    kind: GateKind
    metric: Metric | None = None  # absolute, relative, compared
    comparison: Comparison = Comparison.LT
    #: absolute: the bound; relative: the allowed ratio (1.10) or difference.
    threshold: float = 0.0
    relative: str = "ratio"  # relative gates: "ratio" | "difference"
    aggregate: Aggregate = Aggregate.MEAN
    #: compared: the allowed increase of the canary's mean over stable's (1.10 = +10 %).
    allowed_increase: float = 1.0
    confidence: float = 0.98
    query: str = ""  # custom: PromQL with `{selector}` for the version's labels
    critical: bool = False  # a breach pauses at once, no debouncing
    min_requests: int = 0
    min_points: int = 3
    warmup_s: float = 60.0  # after each weight change
    window_s: float = 300.0
    debounce_k: int = 3  # breaches when k of the last n evaluations failed
    debounce_n: int = 5

    @property
    def bound_text(self) -> str:
        if self.kind is GateKind.ABSOLUTE or self.kind is GateKind.CUSTOM:
            return f"{self.comparison.value} {self.threshold:g}"
        if self.kind is GateKind.RELATIVE:
            if self.relative == "ratio":
                return f"{self.comparison.value} {self.threshold:g}x stable"
            return f"{self.comparison.value} stable {self.threshold:+g}"
        return f"mean ≤ {self.allowed_increase:g}x stable at {self.confidence:.0%}"


@dataclass(frozen=True)
class GateSet:
    name: str
    gates: tuple[Gate, ...]
    source: str = "built-in"  # "config file F", "ConfigMap ns/name", "built-in"
    #: Mesh progression: every gate must have passed this long before the next step.
    hold_s: float = 30.0


@dataclass(frozen=True)
class GateResult:
    gate: Gate
    state: GateState
    canary: float | None = None
    stable: float | None = None
    n: int = 0  # samples (points, or requests for count tests) the canary had
    needed: int = 0
    effect: float | None = None  # compared: canary mean / stable mean
    p_value: float | None = None
    breaches: int = 0  # failed evaluations among the last `debounce_n`
    #: Evaluations until a pause if it keeps failing; 0 = this one pauses; None = no pause due.
    pauses_in: int | None = None
    reason: str = ""  # one sentence: why this state
    query: str = ""  # the PromQL behind the figures, for evidence

    @property
    def breached(self) -> bool:
        """This evaluation's failure is enough to pause (critical, or k of n)."""
        return self.pauses_in == 0


@dataclass(frozen=True)
class Verdict:
    ref: RolloutRef
    state: GateState
    results: tuple[GateResult, ...] = ()
    gate_set: str = ""
    at: float = 0.0  # unix seconds of the evaluation
    error: str = ""  # ERROR without gate results: the gate set did not load
    note: str = ""  # why there are no results though no error, e.g. "no canary"

    @property
    def breached(self) -> tuple[GateResult, ...]:
        return tuple(r for r in self.results if r.breached)


class DecisionKind(enum.StrEnum):
    PAUSED = "paused"
    WOULD_PAUSE = "would-pause"  # dry run
    PAUSE_FAILED = "pause-failed"  # the pause did not take effect
    ADVANCED = "advanced"  # mesh progression
    WOULD_ADVANCE = "would-advance"
    ACKNOWLEDGED = "acknowledged"  # a human resumed what the guard paused


@dataclass(frozen=True)
class Decision:
    ref: RolloutRef
    kind: DecisionKind
    at: float
    text: str  # one sentence with the evidence, shown as a toast and logged
    evidence: tuple[GateResult, ...] = field(default=())


@dataclass(frozen=True)
class GuardStatus:
    """Whether a guard is active for a cluster: shown in the TUI."""

    active: bool
    holder: str = ""  # Lease holderIdentity
    last_evaluation: float | None = None  # unix seconds
    dry_run: bool = False
    cluster: str = ""
