"""The traffic split between stable and canary, as a labelled bar."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.app import RenderResult
from textual.theme import Theme
from textual.widget import Widget

from widgets._palette import palette

# Different textures, not just colours: solid for stable, shaded for canary.
STABLE_GLYPH = "█"
CANARY_GLYPH = "▒"
SET_MARK = "▲"


class TrafficBar(Widget):
    """Line 1: labels and percentages. Line 2: the split bar.
    Line 3: where the *set* weight is, when the router has not caught up yet.
    """

    DEFAULT_CSS = """
    TrafficBar {
        height: 3;
        width: 1fr;
    }
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._state: tuple[int, int, str, str | None] = (0, 0, "", None)

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, _theme: Theme) -> None:
        self.refresh()

    def show(
        self,
        *,
        set_weight: int,
        actual_weight: int,
        stable_label: str,
        canary_label: str | None,
    ) -> None:
        """Weights are the canary's share in percent; stable gets the rest.

        With no canary the stable version takes all traffic, whatever weight the
        finished rollout still records (Argo keeps setWeight 100 after promotion:
        that 100 % went to the version that is now stable).
        """
        if canary_label is None:
            set_weight = actual_weight = 0
        state = (
            _clamp(set_weight),
            _clamp(actual_weight),
            stable_label,
            canary_label,
        )
        if state != self._state:
            self._state = state
            self.refresh()

    @property
    def text(self) -> str:
        """The labels line as plain text (what a screen reader or test sees)."""
        return self._labels(palette_free=True).plain

    def _labels(self, *, palette_free: bool = False) -> Text:
        set_weight, actual, stable_label, canary_label = self._state
        colours = None if palette_free else palette(self.app)
        stable_style = colours.stable if colours else Style()
        canary_style = colours.canary if colours else Style()
        line = Text(no_wrap=True, overflow="ellipsis", end="")
        line.append(_words(f"S{STABLE_GLYPH}", "stable", stable_label, f"{100 - actual}%"))
        line.stylize(stable_style + Style(bold=True), 0, 2)
        line.append(" │ ", Style(dim=True))
        if canary_label is None:
            line.append("no canary", Style(dim=True))
            return line
        start = len(line)
        line.append(_words(f"C{CANARY_GLYPH}", "canary", canary_label, f"{actual}%"))
        line.stylize(canary_style + Style(bold=True), start, start + 2)
        if set_weight != actual:
            attention = colours.attention if colours else Style()
            line.append(f" (set {set_weight}%)", attention)
        return line

    def render(self) -> RenderResult:
        set_weight, actual, _stable, _canary = self._state
        colours = palette(self.app)
        width = max(1, self.size.width)
        labels = self._labels()
        labels.truncate(width, overflow="ellipsis")

        canary_cells = round(width * actual / 100)
        if actual > 0:
            canary_cells = max(canary_cells, 1)  # 1% must still be visible
        stable_cells = width - canary_cells
        bar = Text(no_wrap=True, end="")
        bar.append(STABLE_GLYPH * stable_cells, colours.stable)
        bar.append(CANARY_GLYPH * canary_cells, colours.canary)

        marker = Text(no_wrap=True, end="")
        if set_weight != actual:
            # Canary grows from the right, so the set weight sits that far from the end.
            at = min(width - 1, max(0, width - round(width * set_weight / 100)))
            note = f"{SET_MARK} set {set_weight}%"
            if at + len(note) > width:
                note = f"set {set_weight}% {SET_MARK}"
                marker.append(" " * max(0, at - len(note) + 1))
            else:
                marker.append(" " * at)
            marker.append(note, colours.attention)
        return Text("\n", end="").join([labels, bar, marker])


def _words(*parts: str) -> str:
    return " ".join(part for part in parts if part)


def _clamp(weight: int) -> int:
    return min(100, max(0, int(weight)))
