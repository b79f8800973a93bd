"""The guard's verdict for one rollout, gate by gate: what a responder reads first.

Per gate: name, canary and stable value, the bound, n (n/needed while there is too
little data), effect size and p-value for compared gates, breaches k/N and how many
more failing evaluations until a pause, and the state with its symbol. Draws only.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Sequence

from rich.style import Style
from rich.text import Text
from textual.app import RenderResult
from textual.geometry import Size
from textual.theme import Theme
from textual.widget import Widget

from console.guard.verdicts import (
    Decision,
    DecisionKind,
    GateKind,
    GateResult,
    GateState,
    Verdict,
)
from console.model import format_duration
from widgets._numbers import fmt_value
from widgets._palette import Palette, palette

TIMES = "\u00d7"  # multiplication sign; ruff flags the literal as ambiguous
#: At this content width and above, one line per gate; below it, two.
WIDE_FROM = 121

_NAME_W = 16
_VALUE_W = 9
_BOUND_W = 24
_N_W = 7
_EFFECT_W = 7
_P_W = 10
_BREACH_W = 19


def state_text(state: GateState) -> str:
    """ "✖ FAIL": the symbol and the word, so it reads without colour."""
    word = state.value.replace("_", " ")
    return word if state.symbol.lower() == word.lower() else f"{state.symbol} {word}"


def value_text(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    return f"{fmt_value(value)} {unit}".strip()


def n_text(result: GateResult) -> str:
    if result.state is GateState.NO_DATA and result.needed:
        return f"{result.n}/{result.needed}"
    return str(result.n) if result.n else "—"


def breaches_text(result: GateResult) -> str:
    gate = result.gate
    head = "critical" if gate.critical else f"{result.breaches}/{gate.debounce_n}"
    if result.pauses_in is None:
        return head
    if result.pauses_in == 0:
        return f"{head} pauses now"
    return f"{head} pauses in ≤ {result.pauses_in}"


def bound_text(result: GateResult) -> str:
    gate = result.gate
    text = gate.bound_text
    unit = gate.metric.unit if gate.metric is not None else ""
    if gate.kind is GateKind.ABSOLUTE and unit:
        text += f" {unit}"
    return text


def _whole(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds)


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _unit(result: GateResult) -> str:
    gate = result.gate
    if gate.metric is None:
        return ""
    return gate.metric.unit


def _state_style(state: GateState, colours: Palette | None) -> Style:
    if colours is None:
        return Style()
    return {
        GateState.PASS: colours.success,
        GateState.FAIL: colours.error,
        GateState.INCONCLUSIVE: colours.warning,
        GateState.NO_DATA: colours.muted,
        GateState.STALE: colours.attention,
        GateState.ERROR: colours.attention,
    }[state]


def decision_lines(decision: Decision, now: float, width: int) -> list[Text]:
    """The guard's newest act on this rollout, then its evidence wrapped to `width`."""
    age = format_duration(now - decision.at)
    at = time.strftime("%H:%M:%S", time.gmtime(decision.at))
    words = {
        DecisionKind.PAUSED: "guard paused it",
        DecisionKind.WOULD_PAUSE: "guard (dry-run) would pause it",
        DecisionKind.PAUSE_FAILED: "guard's pause did not take effect",
        DecisionKind.ADVANCED: "guard advanced it",
        DecisionKind.WOULD_ADVANCE: "guard (dry-run) would advance it",
        DecisionKind.ACKNOWLEDGED: "a human resumed it after the guard's pause",
    }
    lines = [Text(f"» {words[decision.kind]} at {at} UTC ({age} ago):", "bold", end="")]
    # Untrusted text (gate names, values from the cluster): plain, never parsed as markup.
    for part in textwrap.wrap(decision.text, max(20, width - 2)) or [""]:
        lines.append(Text(f"  {part}", no_wrap=True, end=""))
    return lines


class GatesPanel(Widget):
    """The verdict's gates as a table; one line per gate when wide, two when narrow."""

    DEFAULT_CSS = """
    GatesPanel {
        height: auto;
        width: 1fr;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._verdict: Verdict | None = None
        self._decision: Decision | None = None
        self._extra: tuple[Text, ...] = ()
        self._now = 0.0
        self._enabled = True
        self._state: tuple[object, ...] = ()
        self._evaluated_s: float | None = None
        self._memo_key: tuple[object, ...] = ()
        self._memo: list[Text] = []

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, _theme: Theme) -> None:
        self.refresh()

    def show(
        self,
        verdict: Verdict | None,
        *,
        now: float,
        decision: Decision | None = None,
        extra: Sequence[Text] = (),
        enabled: bool = True,
        evaluated_s: float | None = None,
    ) -> None:
        """`extra`: lines drawn under the gates (the Argo AnalysisRun block);
        `enabled=False`: no guard runs for this console (says so, once);
        `evaluated_s`: how long ago the verdict arrived (default: `now - verdict.at`)."""
        if evaluated_s is None and verdict is not None and verdict.at:
            evaluated_s = now - verdict.at
        self._evaluated_s = evaluated_s
        state = (verdict, decision, tuple(extra), enabled, int(now), _whole(evaluated_s))
        if state == self._state:
            return
        height = len(self._lines(None, self._width()))
        self._state = state
        self._verdict, self._decision, self._extra, self._enabled = state[:4]
        self._now = now
        self.refresh(layout=len(self._lines(None, self._width())) != height)

    @property
    def text(self) -> str:
        return "\n".join(line.plain for line in self._lines(None, self._width()))

    def _width(self) -> int:
        return self.content_region.width or (self.app.size.width if self.is_attached else 80)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._lines(None, width))

    def render(self) -> RenderResult:
        # Every line is cut, never wrapped, so the height asked for is the height drawn.
        text = Text("\n", end="", no_wrap=True, overflow="ellipsis")
        return text.join(self._lines(palette(self.app), self.size.width))

    def _lines(self, colours: Palette | None, width: int) -> list[Text]:
        key: tuple[object, ...] = (*self._state, colours, width)
        if key != self._memo_key:
            self._memo_key = key
            self._memo = self._build(colours, width)
        return self._memo

    def _build(self, colours: Palette | None, width: int) -> list[Text]:
        verdict = self._verdict
        muted = Style(dim=True)
        lines: list[Text] = []
        if verdict is None:
            why = (
                "no verdict yet (the guard evaluates rollouts with a canary)"
                if self._enabled
                else "no guard runs in this console (--guard runs one)"
            )
            lines.append(Text.assemble(("gates ", Style(bold=True)), (why, muted)))
        else:
            lines.extend(self._verdict_lines(verdict, colours, width))
        if self._decision is not None:
            lines.extend(decision_lines(self._decision, self._now, width))
        lines.extend(self._extra)
        return lines

    def _verdict_lines(self, verdict: Verdict, colours: Palette | None, width: int) -> list[Text]:
        bold = Style(bold=True)
        muted = Style(dim=True)
        head = Text(no_wrap=True, end="")
        head.append("gates ", bold)
        head.append(verdict.gate_set or "?")
        head.append("  ")
        head.append(state_text(verdict.state), _state_style(verdict.state, colours) + bold)
        age = self._evaluated_s
        if age is not None and age >= 0:
            head.append(f"  evaluated {format_duration(age)} ago", muted)
        lines = [head]
        if verdict.error:
            lines.append(Text(verdict.error, _state_style(GateState.ERROR, colours)))
        if not verdict.results:
            if not verdict.error:
                lines.append(Text("no gates to evaluate", muted))
            return lines
        wide = width >= WIDE_FROM
        name_w = max(8, min(_NAME_W, max(len(r.gate.name) for r in verdict.results) + 1))
        if wide:
            header = Text(no_wrap=True, end="")
            header.append(f"{'gate':<{name_w}}", bold)
            header.append(f"{'C canary':>{_VALUE_W}}", bold)
            header.append(f"{'S stable':>{_VALUE_W}}", bold)
            header.append(f"  {'bound':<{_BOUND_W}}", bold)
            header.append(f"{'n':>{_N_W}}{'effect':>{_EFFECT_W}}{'p':>{_P_W}}", bold)
            header.append(f"  {'breaches':<{_BREACH_W}}  state", bold)
            lines.append(header)
        for result in verdict.results:
            lines.extend(self._gate_lines(result, colours, wide, name_w))
        return lines

    def _gate_lines(
        self, result: GateResult, colours: Palette | None, wide: bool, name_w: int
    ) -> list[Text]:
        muted = Style(dim=True)
        state_style = _state_style(result.state, colours)
        stable_style = colours.stable if colours else Style()
        canary_style = colours.canary if colours else Style()
        unit = _unit(result)
        canary = value_text(result.canary, unit)
        stable = value_text(result.stable, unit)
        effect = f"{result.effect:.2f}{TIMES}" if result.effect is not None else ""
        p_value = f"p={result.p_value:.2g}" if result.p_value is not None else ""
        breaches = breaches_text(result)
        breach_style = state_style if result.pauses_in is not None else muted
        name = result.gate.name
        if len(name) >= name_w:
            name = name[: name_w - 2] + "…"
        if wide:
            line = Text(no_wrap=True, end="")
            line.append(f"{name:<{name_w}}")
            line.append(f"{canary:>{_VALUE_W}}", canary_style)
            line.append(f"{stable:>{_VALUE_W}}", stable_style)
            line.append(f"  {_fit(bound_text(result), _BOUND_W):<{_BOUND_W}}")
            line.append(f"{n_text(result):>{_N_W}}")
            line.append(f"{effect:>{_EFFECT_W}}")
            line.append(f"{p_value:>{_P_W}}")
            line.append(f"  {breaches:<{_BREACH_W}}", breach_style)
            line.append(f"  {state_text(result.state)}", state_style)
            lines = [line]
        else:
            first = Text(no_wrap=True, end="")
            first.append(f"{state_text(result.state):<10}", state_style)
            first.append(f"{name:<{name_w}}")
            first.append("C ", canary_style)
            first.append(f"{canary:<10}")
            first.append("S ", stable_style)
            first.append(f"{stable:<10}")
            first.append(_fit(bound_text(result), 24), muted)
            second = Text(no_wrap=True, end="")
            second.append(" " * 10)
            second.append(f"n {n_text(result)}")
            if effect:
                second.append(f"  effect {effect}")
            if p_value:
                second.append(f"  {p_value}")
            second.append(f"  breaches {breaches}", breach_style)
            lines = [first, second]
        if result.reason and result.state is not GateState.PASS:
            indent = " " * (name_w if wide else 10)
            lines.append(Text(f"{indent}{result.reason}", muted, no_wrap=True, end=""))
        return lines
