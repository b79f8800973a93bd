"""The rollout's steps: which are done, which is current, what it waits for."""

from __future__ import annotations

from collections.abc import Sequence

from rich.style import Style
from rich.text import Text
from textual.app import RenderResult
from textual.geometry import Size
from textual.theme import Theme
from textual.widget import Widget

from console.model import Step, StepKind, format_duration
from widgets._palette import Palette, palette

DONE, CURRENT, PENDING, FAILED = "✔", "▶", "·", "✖"
_SEPARATOR = " \u203a "  # single angle quote; ruff flags the literal as ambiguous


class StepTimeline(Widget):
    """Two lines by default: the current state in words, then the steps.

    The steps line keeps the current step in view: at 80 columns it shows a
    window centred on it, with "…" where steps are cut off. With `height: auto`
    on a screen of 40+ rows (or `list_mode=True`), or given a fixed height of
    at least len(steps) + 1, it lists one step per line instead.
    """

    DEFAULT_CSS = """
    StepTimeline {
        height: auto;
        width: 1fr;
    }
    """

    def __init__(
        self,
        *,
        list_mode: bool | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        # None: decide from the screen height; True/False: always list / compact.
        self.list_mode = list_mode
        self._steps: tuple[Step, ...] = ()
        self._current: int | None = None
        self._remaining: float | None = None
        self._paused = False
        self._aborted = False
        self._paused_by = "operator"

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, _theme: Theme) -> None:
        self.refresh()

    def show(
        self,
        steps: Sequence[Step],
        current: int | None,
        *,
        pause_remaining_s: float | None,
        paused: bool,
        aborted: bool,
        paused_by: str = "operator",
    ) -> None:
        """`paused_by`: who froze it ("operator", "the guard")."""
        remaining = None if pause_remaining_s is None else float(int(pause_remaining_s))
        state = (tuple(steps), current, remaining, paused, aborted)
        if (
            state == (self._steps, self._current, self._remaining, self._paused, self._aborted)
            and paused_by == self._paused_by
        ):
            return
        self._paused_by = paused_by
        # A new step or countdown repaints; only a new plan changes the height.
        layout = state[0] != self._steps
        self._steps, self._current, self._remaining, self._paused, self._aborted = state
        self.refresh(layout=layout)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._steps) + 1 if self._wants_list() else 2

    def _wants_list(self) -> bool:
        """With `height: auto`, list the steps one per line only on a tall screen:
        at 80x24 the rows are worth more to the charts than to finished steps."""
        if self.list_mode is not None:
            return self.list_mode and bool(self._steps)
        return bool(self._steps) and len(self._steps) <= 16 and self.app.size.height >= 40

    @property
    def status_text(self) -> str:
        """The state line as plain text, e.g. "2/6 done ▶ pause 30s — 12s left"."""
        return self._status(None).plain

    def _step_index(self) -> int | None:
        if self._current is None or not 0 <= self._current < len(self._steps):
            return None
        return self._current

    def _status(self, colours: Palette | None) -> Text:
        attention = colours.attention if colours else Style()
        line = Text(no_wrap=True, overflow="ellipsis", end="")
        index = self._step_index()
        total = len(self._steps)
        if self._aborted:
            line.append(f"{FAILED} aborted", colours.error if colours else Style())
            line.append(" — all traffic back on stable")
            return line
        if index is None:
            if not total:
                line.append("no steps", Style(dim=True))
            elif self._current is not None and self._current >= total:
                line.append(f"{DONE} all {total} steps done")
            else:
                line.append(f"{total} steps")
            if self._paused:
                line.append(f"  ‖ paused by {self._paused_by}", attention)
            return line
        step = self._steps[index]
        # "3/9 done", like Rollout.step_label in the list's STEP column: a
        # "step 4/9" here would contradict it by one.
        line.append(f"{index}/{total} done {CURRENT} ", Style(bold=True))
        line.append(step.text, Style(bold=True))
        waiting_for_advance = step.kind is StepKind.PAUSE and step.duration_s is None
        if step.kind is StepKind.PAUSE:
            if waiting_for_advance:
                line.append(" — waiting for advance", attention)
            elif self._remaining is not None:
                line.append(f" — {format_duration(self._remaining)} left")
        if self._paused:
            # An indefinite pause step reports paused too; only say "by operator"
            # when the pause is not simply the step itself.
            text = "  ‖ paused" if waiting_for_advance else f"  ‖ paused by {self._paused_by}"
            line.append(text, attention)
        return line

    def _item(self, index: int, colours: Palette) -> tuple[str, Style]:
        current = self._step_index()
        done = (self._current is not None and index < self._current) or (
            self._current is not None and self._current >= len(self._steps)
        )
        step = self._steps[index]
        if index == current:
            glyph = FAILED if self._aborted else CURRENT
            style = colours.error if self._aborted else colours.primary + Style(bold=True)
            return f"{glyph} {step.text}", style
        if done:
            return f"{DONE} {step.text}", colours.success
        return f"{PENDING} {step.text}", Style(dim=True)

    def _strip(self, colours: Palette, width: int) -> Text:
        items = [self._item(i, colours) for i in range(len(self._steps))]
        line = Text(no_wrap=True, overflow="ellipsis", end="")
        if not items:
            return line
        centre = self._step_index()
        if centre is None:
            centre = len(items) - 1 if (self._current or 0) >= len(items) else 0
        # Grow a window around the current step, alternating sides, while it fits.
        lo = hi = centre
        used = len(items[centre][0])
        grew = True
        while grew:
            grew = False
            for side in (1, -1):
                nxt = hi + 1 if side == 1 else lo - 1
                if not 0 <= nxt < len(items):
                    continue
                cost = len(items[nxt][0]) + len(_SEPARATOR)
                # Reserve room for the "… " markers at either clipped end.
                reserve = (2 if lo - (side == -1) > 0 else 0) + (
                    2 if hi + (side == 1) < len(items) - 1 else 0
                )
                if used + cost + reserve <= width:
                    used += cost
                    lo, hi = (lo, nxt) if side == 1 else (nxt, hi)
                    grew = True
        if lo > 0:
            line.append("… ", Style(dim=True))
        for index in range(lo, hi + 1):
            if index > lo:
                line.append(_SEPARATOR, Style(dim=True))
            text, style = items[index]
            line.append(text, style)
        if hi < len(items) - 1:
            line.append(" …", Style(dim=True))
        return line

    def render(self) -> RenderResult:
        colours = palette(self.app)
        width = max(1, self.size.width)
        status = self._status(colours)
        if self.size.height >= len(self._steps) + 1 and self._steps:
            lines = [status]
            for index in range(len(self._steps)):
                text, style = self._item(index, colours)
                lines.append(Text(f"  {index + 1:>2} {text}", style, no_wrap=True, end=""))
            return Text("\n", end="").join(lines)
        return Text("\n", end="").join([status, self._strip(colours, width)])
