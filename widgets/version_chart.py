"""One metric, stable and canary side by side on the same y scale."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.theme import Theme
from textual.widget import Widget

from console.model import Series, format_duration
from widgets._chart import (
    Family,
    Points,
    Run,
    centred,
    render_plot,
    shared_xlim,
    shared_ylim,
)
from widgets._palette import Palette, palette

_GAP = 2  # columns between the two plots


class VersionChartPair(Widget):
    """Two plots of one metric: stable on the left, canary on the right.

    Both plots share y limits (computed from both sides together) so heights
    compare at a glance. Stable is drawn in braille and titled "S stable …",
    canary in quadrant blocks and titled "C canary …", so the sides differ by
    letter, glyph and position as well as colour.

    Rendering is cached: `show()` with identical data does not repaint, and a
    repaint rebuilds the plot only when the thinned data, the size or the
    theme changed. `build_count` counts rebuilds (for tests and benchmarks).
    """

    DEFAULT_CSS = """
    VersionChartPair {
        height: 1fr;
        min-height: 4;
        width: 1fr;
    }
    """

    def __init__(
        self,
        title: str,
        unit: str,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.title = title
        self.unit = unit
        self.build_count = 0
        self._inputs: tuple[Any, ...] | None = None
        self._stable: tuple[Points, ...] = ()
        self._canary: tuple[Points, ...] | None = None
        self._labels: tuple[str, ...] = ()
        self._stable_version = ""
        self._canary_version = ""
        self._note = ""
        self._stale_s: float | None = None
        self._version = 0
        self._colours: Palette | None = None
        self._base: Style | None = None
        self._quick_key: tuple[Any, ...] | None = None
        self._cache_key: tuple[Any, ...] | None = None
        self._cache: list[Strip] = []
        self.ylim: tuple[float, float] = (0.0, 1.0)

    def on_mount(self) -> None:
        self._colours = palette(self.app)
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, _theme: Theme) -> None:
        self._colours = palette(self.app)
        self.refresh()

    def show(
        self,
        stable: Sequence[Series],
        canary: Sequence[Series] | None,
        *,
        labels: Sequence[str] = (),
        stable_version: str = "",
        canary_version: str = "",
        note: str = "",
        stale_s: float | None = None,
    ) -> None:
        """Show per-version series; `note` replaces the plots with a message.

        `stale_s` keeps the data on screen and adds "stale 42s" to the title,
        because old numbers are still better than none while a source recovers.
        """
        stable_points = tuple(series.points for series in stable)
        canary_points = None if canary is None else tuple(series.points for series in canary)
        # Whole seconds: a stale age that ticks every frame should not force a
        # rebuild more than once a second.
        stale = None if stale_s is None else float(int(stale_s))
        inputs = (
            stable_points,
            canary_points,
            tuple(labels),
            stable_version,
            canary_version,
            note,
            stale,
        )
        if inputs == self._inputs:
            return
        self._inputs = inputs
        self._stable = stable_points
        self._canary = canary_points
        self._labels = tuple(labels)
        self._stable_version = stable_version
        self._canary_version = canary_version
        self._note = note
        self._stale_s = stale
        self._version += 1
        self.refresh()

    def render_lines(self, crop: Region) -> list[Strip]:
        # rich_style walks the DOM (~0.3 ms): look it up once per repaint, not per line.
        self._base = self.rich_style
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        strips = self._strips()
        if 0 <= y < len(strips):
            return strips[y]
        return Strip.blank(self.size.width, self.rich_style)

    def _strips(self) -> list[Strip]:
        """The cached lines; rebuilt only when data, size or theme changed."""
        width, height = self.size.width, self.size.height
        colours = self._colours or palette(self.app)
        base = self._base or self.rich_style
        # Cheap key first: render_line asks once per line, every repaint.
        quick = (self._version, width, height, colours, base)
        if quick == self._quick_key:
            return self._cache
        self._quick_key = quick
        left = max(1, (width - _GAP) // 2)
        right = max(1, width - _GAP - left)
        # Thin to the plot's sub-column resolution: more points cannot be seen,
        # and fewer points keep the rasteriser and this comparison cheap.
        stable = tuple(_thin(points, left * 2) for points in self._stable)
        canary = None if self._canary is None else tuple(_thin(p, right * 2) for p in self._canary)
        key = (stable, canary, width, height, colours, base, self._inputs)
        if key != self._cache_key:
            self._cache = self._build(stable, canary, width, height, left, right, colours, base)
            self._cache_key = key
            self.build_count += 1
        return self._cache

    def _build(
        self,
        stable: tuple[Points, ...],
        canary: tuple[Points, ...] | None,
        width: int,
        height: int,
        left: int,
        right: int,
        colours: Palette,
        base: Style,
    ) -> list[Strip]:
        everything = stable + (canary or ())
        self.ylim = shared_ylim(everything)
        xlim = shared_xlim(everything)
        header = self._header(left, right, colours, len(stable), len(canary or ()))
        body_height = max(0, height - 1)
        if self._note or not any(everything):
            message = self._note or "no data"
            style = colours.attention if self._note and "unavailable" in self._note else None
            body = centred(message, width, body_height, style)
        else:
            left_lines = self._side(stable, colours.stable, Family.BRAILLE, left, body_height, xlim)
            if canary is None:
                right_lines = centred("no canary", right, body_height, colours.muted)
            else:
                right_lines = self._side(
                    canary, colours.canary, Family.QUADRANT, right, body_height, xlim
                )
            gap: list[Run] = [(" " * _GAP, None)]
            body = [a + gap + b for a, b in zip(left_lines, right_lines, strict=True)]
        strips = [
            Strip(header.render(self.app.console)).crop_extend(0, width, None).apply_style(base)
        ]
        for runs in body[: max(0, height - 1)]:
            # Every glyph drawn here is one cell wide, so len() is the cell length
            # and Strip need not measure it; styles are combined here so that each
            # line is one Strip, not three (a Strip is not cheap to create).
            length = sum(len(text) for text, _ in runs)
            if length < width:
                runs = [*runs, (" " * (width - length), None)]
            segments = [
                Segment(text, base + style if style is not None else base) for text, style in runs
            ]
            strip = Strip(segments, max(width, length))
            strips.append(strip if length <= width else strip.crop(0, width))
        return strips[:height]

    def _side(
        self,
        series: tuple[Points, ...],
        style: Style,
        family: Family,
        width: int,
        height: int,
        xlim: tuple[float, float],
    ) -> list[list[Run]]:
        if not any(series):
            return centred("no data", width, height, Style(dim=True))
        # The solid (last) series at full colour, dashed ones dimmer: texture
        # already tells them apart, the dimming only helps the eye.
        styles = [style + Style(dim=True)] * (len(series) - 1) + [style]
        return render_plot(
            series,
            styles,
            family=family,
            width=width,
            height=height,
            xlim=xlim,
            ylim=self.ylim,
        )

    def _header(
        self, left: int, right: int, colours: Palette, n_stable: int, n_canary: int
    ) -> Text:
        left_text = Text(no_wrap=True, overflow="ellipsis", end="")
        left_text.append(f"{self.title} {self.unit}".strip(), Style(bold=True))
        left_text.append(" ")
        left_text.append(f"S stable {self._stable_version}".rstrip(), colours.stable)
        self._legend(left_text, Family.BRAILLE, n_stable, colours.stable, left)
        right_text = Text(no_wrap=True, overflow="ellipsis", end="")
        right_text.append(f"C canary {self._canary_version}".rstrip(), colours.canary)
        if self._stale_s is not None:
            right_text.append(f" ⚠ stale {format_duration(self._stale_s)}", colours.attention)
        self._legend(right_text, Family.QUADRANT, n_canary, colours.canary, right)
        left_text.truncate(left, overflow="ellipsis", pad=True)
        right_text.truncate(right, overflow="ellipsis", pad=True)
        return Text.assemble(left_text, " " * _GAP, right_text, no_wrap=True, end="")

    def _legend(self, text: Text, family: Family, count: int, style: Style, width: int) -> None:
        """Append "⠤⠤p99 ⠤ p50"-style samples, but only when they fit whole."""
        if count < 2 or not self._labels:
            return
        legend = Text(end="")
        for index, label in enumerate(self._labels[:count]):
            legend.append(" ")
            legend.append(family.legend(solid=index == count - 1), style)
            legend.append(label)
        if text.cell_len + legend.cell_len <= width:
            text.append_text(legend)


def _thin(points: Points, width: int) -> Points:
    return Series(points).thinned(width).points
