"""One metric, stable and canary side by side on the same y scale and time window."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.events import Resize
from textual.message import Message
from textual.strip import Strip
from textual.theme import Theme
from textual.widget import Widget

from console.model import Series, format_duration
from widgets._palette import Palette, palette
from widgets._plot import (
    BLOCKS,
    BRAILLE,
    Marker,
    Points,
    centred,
    fit,
    join,
    rgb_of,
    shared_axes,
    side_lines,
    strips_of,
    window_of,
)

_GAP = 2  # columns between the two plots


class _Builder:
    """One thread builds every chart's lines, one after the other.

    plotext holds a lock anyway, and a plain executor costs the UI thread less
    than a Textual worker per build (no Worker object, no state messages). The
    results of a burst (a refresh queues one build per chart) are posted
    together when the queue empties, so the UI swaps them all in one frame
    instead of repainting once per chart.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chart-build")
        self._lock = threading.Lock()
        self._queued = 0
        self._done: list[tuple[VersionChartPair, VersionChartPair.Built]] = []

    def submit(self, chart: VersionChartPair, request: _Request) -> None:
        with self._lock:
            self._queued += 1
        self._pool.submit(self._run, chart, request)

    def _run(self, chart: VersionChartPair, request: _Request) -> None:
        built: VersionChartPair.Built | None = None
        try:
            # Skip a build superseded while queued (newer data, a resize).
            if request == chart._wanted:
                try:
                    lines, ylim = build_lines(request)
                except Exception as exc:  # a plotting bug must not leave the chart pending
                    failed = replace(request, note=f"chart failed ({type(exc).__name__})")
                    lines, ylim = build_lines(failed)
                built = VersionChartPair.Built(request, lines, ylim)
        finally:
            with self._lock:
                self._queued -= 1
                if built is not None:
                    self._done.append((chart, built))
                ready, self._done = (self._done, []) if self._queued == 0 else ([], self._done)
            for target, message in ready:
                target.post_message(message)  # post_message is thread-safe


@dataclass(frozen=True)
class _Request:
    """Everything a chart's lines depend on: equal requests give equal lines."""

    title: str
    unit: str
    stable: tuple[Points, ...]
    canary: tuple[Points, ...] | None
    labels: tuple[str, ...]
    stable_version: str
    canary_version: str
    note: str
    stale_s: float | None
    window: tuple[float, float] | None
    width: int
    height: int
    colours: Palette
    base: Style


class VersionChartPair(Widget):
    """Two plotext plots of one metric: stable on the left, canary on the right.

    Both plots share y limits (from both sides together) and the time window,
    so heights and times compare at a glance. Stable is drawn in braille and
    titled "S …", canary in quadrant blocks and titled "C …", so the sides
    differ by letter, marker and position as well as colour.

    Cost: plotext's build() takes a few ms per plot, so the lines are cached
    and rebuilt only when the data, the size or the theme changed
    (`build_count` counts builds). The first build at a size runs here, so a
    frame is never blank; later ones run on a builder thread and are swapped
    in by a message, keeping the previous lines on screen meanwhile
    (`pending` is true until then).
    """

    DEFAULT_CSS = """
    VersionChartPair {
        height: 1fr;
        min-height: 4;
        width: 1fr;
    }
    """

    class Built(Message, bubble=False):
        """Lines built on the builder thread for `request`."""

        def __init__(self, request: _Request, lines: list[Strip], ylim: tuple[float, float]):
            super().__init__()
            self.request = request
            self.lines = lines
            self.ylim = ylim

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
        self.ylim: tuple[float, float] = (0.0, 1.0)
        self._data: tuple[Any, ...] = ((), None, (), "", "", "", None, None)
        self._colours: Palette | None = None
        self._built: _Request | None = None
        self._wanted: _Request | None = None
        self._lines: list[Strip] = []

    @property
    def pending(self) -> bool:
        """A build is under way: the lines on screen are for older data."""
        return self._wanted is not None and self._wanted != self._built

    def on_mount(self) -> None:
        self._colours = palette(self.app)
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, _theme: Theme) -> None:
        self._colours = palette(self.app)
        # The signal fires before the new theme's CSS is applied: build with the
        # widget's new background once it is.
        self.call_after_refresh(self._schedule)

    def on_resize(self, _event: Resize) -> None:
        self._schedule()

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
        window: tuple[float, float] | None = None,
    ) -> None:
        """Show per-version series; `note` replaces the plots with a message.

        `window` is the (start, end) time every chart of a view shares; by
        default the newest point's last 5 minutes. `stale_s` keeps the data
        on screen and adds "stale 42s" to the title, because old numbers are
        still better than none while a source recovers.
        """
        # Whole seconds: a stale age that ticks every frame should not force a
        # rebuild more than once a second.
        stale = None if stale_s is None else float(int(stale_s))
        data = (
            tuple(series.points for series in stable),
            None if canary is None else tuple(series.points for series in canary),
            tuple(labels),
            stable_version,
            canary_version,
            note,
            stale,
            window,
        )
        if data == self._data:
            return
        self._data = data
        self._schedule()

    def _request(self) -> _Request | None:
        width, height = self.size.width, self.size.height
        if width <= 0 or height <= 0 or not self.is_mounted:
            return None
        stable, canary, labels, s_version, c_version, note, stale, window = self._data
        return _Request(
            self.title,
            self.unit,
            stable,
            canary,
            labels,
            s_version,
            c_version,
            note,
            stale,
            window,
            width,
            height,
            self._colours or palette(self.app),
            self.rich_style,
        )

    def _schedule(self) -> None:
        """Build lines for the current data, size and theme, unless they exist or are coming."""
        request = self._request()
        if request is None or request == self._wanted or request == self._built:
            if request == self._built:
                self._wanted = None
            return
        self._wanted = request
        sized = self._built is not None and (
            (self._built.width, self._built.height) == (request.width, request.height)
        )
        if not sized:
            # Nothing of this size to show yet: build now rather than draw a blank.
            lines, ylim = build_lines(request)
            self._swap(request, lines, ylim)
            return
        _BUILDER.submit(self, request)

    def on_version_chart_pair_built(self, message: Built) -> None:
        if message.request == self._wanted:
            self._swap(message.request, message.lines, message.ylim)

    def _swap(self, request: _Request, lines: list[Strip], ylim: tuple[float, float]) -> None:
        self._built = request
        self._wanted = None
        self._lines = lines
        self.ylim = ylim
        self.build_count += 1
        self.refresh()

    def render_line(self, y: int) -> Strip:
        if 0 <= y < len(self._lines) and self._lines[y].cell_length == self.size.width:
            return self._lines[y]
        return Strip.blank(self.size.width, self.rich_style)


_BUILDER = _Builder()


# --- building (pure: runs on the builder thread) ------------------------------------------------


def build_lines(r: _Request) -> tuple[list[Strip], tuple[float, float]]:
    """Every line of a chart pair for one request, and the shared y limits."""
    left = max(1, (r.width - _GAP) // 2)
    right = max(1, r.width - _GAP - left)
    body_height = max(0, r.height - 1)
    everything = r.stable + (r.canary or ())
    window = r.window or window_of(everything, 300.0)
    axes = shared_axes(everything, window, max(1, body_height - 2))
    header = _header(r, left, right)
    if r.note or not any(everything):
        message = r.note or "no data"
        style = r.colours.attention if r.note and "unavailable" in r.note else None
        body = centred(message, r.width, body_height, style)
        lines = strips_of(header, r.width, r.base) + strips_of(body, r.width, r.base)
        return _exactly(lines, r), axes.ylim
    left_text = _side(r.stable, BRAILLE, r.colours.stable, axes, left, body_height)
    if r.canary is None:
        right_text = centred("no canary", right, body_height, r.colours.muted)
    else:
        right_text = _side(r.canary, BLOCKS, r.colours.canary, axes, right, body_height)
    lines = strips_of(header, r.width, r.base)
    gap = Strip.blank(_GAP, r.base)
    pairs = zip(
        strips_of(left_text, left, r.base), strips_of(right_text, right, r.base), strict=False
    )
    for a, b in pairs:
        lines.append(Strip.join([a, gap, b]))
    return _exactly(lines, r), axes.ylim


def _exactly(lines: list[Strip], r: _Request) -> list[Strip]:
    """`r.height` lines of `r.width` cells, whatever a tiny size did to the parts."""
    lines = [line.crop_extend(0, r.width, r.base) for line in lines[: r.height]]
    while len(lines) < r.height:
        lines.append(Strip.blank(r.width, r.base))
    return lines


def _side(
    series: tuple[Points, ...], marker: Marker, style: Style, axes: Any, width: int, height: int
) -> Text:
    if not any(series):
        return centred("no data", width, height, Style(dim=True))
    return side_lines(series, marker, rgb_of(style), axes, width, height)


def _legend(marker: Marker, labels: tuple[str, ...], count: int, style: Style) -> Text:
    """E.g. "⠒⠒p99 ⠂⠂p50": the solid line first (the one to watch), then the dotted ones."""
    legend = Text(end="")
    if count < 2 or not labels:
        return legend
    named = list(enumerate(labels[:count]))
    for index, label in reversed(named):
        legend.append(" ")
        legend.append(marker.solid if index == count - 1 else marker.dotted, style)
        legend.append(label)
    return legend


def _header(r: _Request, left: int, right: int) -> Text:
    """Title and legends, shortened (never cut mid-word) to fit each side."""
    n_stable = len(r.stable)
    n_canary = len(r.canary or ())
    bold = Style(bold=True)
    title = Text(f"{r.title} {r.unit}".strip(), bold)
    short_title = Text(r.title, bold)
    s_legend = _legend(BRAILLE, r.labels, n_stable, r.colours.stable)
    s_long = Text(f"S stable {r.stable_version}".rstrip(), r.colours.stable)
    s_short = Text(f"S {r.stable_version}".rstrip(), r.colours.stable)
    left_text = fit(
        [
            join(title, " ", s_long, s_legend),
            join(title, " ", s_short, s_legend),
            join(title, " ", s_short),
            join(short_title, " ", s_short),
            join(title, " S"),
            title,
            short_title,
        ],
        left,
    )
    c_legend = _legend(BLOCKS, r.labels, n_canary, r.colours.canary)
    c_long = Text(f"C canary {r.canary_version}".rstrip(), r.colours.canary)
    c_short = Text(f"C {r.canary_version}".rstrip(), r.colours.canary)
    stale = Text()
    if r.stale_s is not None:
        stale = Text(f" ⚠ stale {format_duration(r.stale_s)}", r.colours.attention)
    right_text = fit(
        [
            join(c_long, c_legend, stale),
            join(c_short, c_legend, stale),
            join(c_short, stale),
            join(Text("C", r.colours.canary), stale),
            c_short,
            Text("C", r.colours.canary),
        ],
        right,
    )
    left_text.pad_right(left - left_text.cell_len)
    return join(left_text, " " * _GAP, right_text)
