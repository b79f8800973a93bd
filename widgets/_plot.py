"""One side of a chart drawn by plotext, as Textual Strips.

Pure functions, no Textual widget state: `render_side` runs on a worker
thread as well as on the UI thread. plotext draws on one global figure
(`plt.clf()` ... `plt.build()`), so every use of it holds `_LOCK`; no other
code in the console touches plotext.

Telling series apart without colour (README of widgets/):
- stable is drawn with plotext's "braille" marker (fine dots), canary with
  "hd" (quadrant blocks);
- within a side the last series (p99) is a solid line and earlier ones (p50)
  are points only, one per cell column: a dotted line.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

from console.model import format_duration, thin
from widgets._numbers import fmt_value

Points = tuple[tuple[float, float], ...]
RGB = tuple[int, int, int]

_LOCK = threading.Lock()
# Renders Text to Segments off the UI thread; it never prints anything.
_CONSOLE = Console(width=1000, color_system="truecolor", force_terminal=True, legacy_windows=False)


@dataclass(frozen=True)
class Marker:
    """A plotext marker and the legend samples that go with it."""

    name: str
    solid: str  # legend sample of a line
    dotted: str  # legend sample of a points-only series
    sub_columns: int  # plotext's horizontal resolution per cell


BRAILLE = Marker("braille", solid="⠒⠒", dotted="⠂⠂", sub_columns=2)
BLOCKS = Marker("hd", solid="▀▀", dotted="▘▘", sub_columns=2)


@dataclass(frozen=True)
class Axes:
    """What both sides of a pair share: the window and the y scale."""

    xlim: tuple[float, float]
    ylim: tuple[float, float]
    yticks: tuple[float, ...]


def nice_step(raw: float) -> float:
    magnitude = 10.0 ** math.floor(math.log10(raw))
    # 1.5, 3 and 7.5 too: with only 2-3 ticks on a short chart, 0/75/150 for data
    # up to 140 wastes less height than 0/100/200.
    for factor in (1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 7.5, 10.0):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def shared_axes(groups: Sequence[Points], xlim: tuple[float, float], rows: int) -> Axes:
    """Y limits and ticks covering every series of both sides, padded, with a minimum span.

    The minimum span stops a flat line (a 0% error rate, a constant GPU memory)
    from being stretched into noise across the full height. `rows` is the
    canvas height: at most one tick every second row, so labels never collide.
    """
    values = [v for points in groups for t, v in points if xlim[0] <= t <= xlim[1]]
    if not values:
        return Axes(xlim, (0.0, 1.0), (0.0, 1.0))
    lo, hi = min(values), max(values)
    span = hi - lo
    min_span = max(abs(hi), abs(lo)) * 0.2 or 1.0
    if span < min_span:
        middle = (hi + lo) / 2
        lo, hi = middle - min_span / 2, middle + min_span / 2
        if lo < 0 <= min(values):
            lo, hi = 0.0, hi - lo
        span = min_span
    lo -= span * 0.08
    hi += span * 0.08
    # Metrics are counts, ratios and durations: an axis below zero only wastes rows.
    if min(values) >= 0:
        lo = max(lo, 0.0)
    # Round outwards to a tidy step so tick labels read "0 / 50 / 100", not "1.77".
    # A scale across zero needs two intervals at least (a tick on each side of it).
    intervals = max(2 if lo < 0 < hi else 1, min(4, (rows - 1) // 2))
    step = nice_step((hi - lo) / intervals)
    # Rounding outwards can add an interval: then take the next tidy step up.
    for _ in range(8):
        if math.ceil(hi / step) - math.floor(lo / step) <= intervals:
            break
        step = nice_step(step * 1.001)
    lo, hi = math.floor(lo / step) * step, math.ceil(hi / step) * step
    count = round((hi - lo) / step)
    ticks = tuple(lo + i * step for i in range(count + 1))
    return Axes(xlim, (lo, hi), ticks)


def window_of(groups: Sequence[Points], window_s: float) -> tuple[float, float]:
    """[newest point - window_s, newest point]: the same for every chart of a view."""
    ends = [points[-1][0] for points in groups if points]
    if not ends:
        return (0.0, max(1.0, window_s))
    end = max(ends)
    return (end - window_s, end)


def runs(points: Points) -> list[Points]:
    """Split at holes: longer than 3.5 median steps between samples is no data, not a slope."""
    if len(points) < 3:
        return [points] if points else []
    steps = sorted(b[0] - a[0] for a, b in itertools.pairwise(points))
    limit = steps[len(steps) // 2] * 3.5
    out: list[Points] = []
    start = 0
    for i in range(1, len(points)):
        if points[i][0] - points[i - 1][0] > limit:
            out.append(points[start:i])
            start = i
    out.append(points[start:])
    return out


def x_ticks(xlim: tuple[float, float], columns: int) -> tuple[tuple[float, ...], tuple[str, ...]]:
    """Ticks at the window's start, middle (if there is room) and end: "-5m … now"."""
    start, end = xlim
    span = end - start
    first = f"-{format_duration(span)}"
    if columns >= 30:
        return (start, start + span / 2, end), (first, f"-{format_duration(span / 2)}", "now")
    return (start, end), (first, "now")


def plot_ansi(
    series: Sequence[Points],
    marker: Marker,
    rgb: RGB,
    axes: Axes,
    width: int,
    height: int,
) -> str:
    """plotext's build() of one side: the canvas, the y axis on the left, the x axis below."""
    import plotext as plt  # lazily: the list view never draws a chart

    xticks, xlabels = x_ticks(axes.xlim, width)
    with _LOCK:
        plt.clf()
        plt.theme("clear")  # no colours but ours: axes take the widget's own style
        plt.plot_size(width, height)
        plt.xaxes(True, False)
        plt.yaxes(True, False)
        plt.xlim(*axes.xlim)
        plt.ylim(*axes.ylim)
        plt.yticks(list(axes.yticks), [fmt_value(v) for v in axes.yticks])
        plt.xticks(list(xticks), list(xlabels))
        columns = max(1, width * marker.sub_columns)
        for index, points in enumerate(series):
            solid = index == len(series) - 1
            shown = tuple(p for p in points if axes.xlim[0] <= p[0] <= axes.xlim[1])
            for run in runs(shown):
                if solid:
                    thinned = thin(run, columns)
                    plt.plot([t for t, _ in thinned], [v for _, v in thinned], marker=marker.name,
                             color=rgb)  # fmt: skip
                else:
                    # A point every second cell: the dotted line of a secondary series.
                    thinned = thin(run, max(1, width // 2))
                    plt.scatter([t for t, _ in thinned], [v for _, v in thinned],
                                marker=marker.name, color=rgb)  # fmt: skip
        out: str = plt.build()
        plt.clf()
    return out


def strips_of(text: Text, width: int, base: Style) -> list[Strip]:
    """Lines of Rich Text -> Strips exactly `width` cells wide, on the widget's style."""
    out: list[Strip] = []
    for line in text.split("\n", allow_blank=True):
        line.no_wrap = True
        line.end = ""
        with _LOCK:  # one Console shared by the UI and builder threads
            segments = _merged(line.render(_CONSOLE))
        strip = Strip(segments).crop_extend(0, width, None).apply_style(base)
        out.append(strip)
    return out


def _merged(segments: Iterable[Segment]) -> list[Segment]:
    """Fewer, longer segments: blanks join the run before them, equal styles join up.

    plotext resets the colour after every glyph, so a dotted line is hundreds of
    tiny segments, and the compositor's cost grows with their number, not with
    the cells. A blank shows only the background, so its foreground may be any.
    """
    out: list[Segment] = []
    for segment in segments:
        if out and (segment.style == out[-1].style or not segment.text.strip(" ")):
            last = out[-1]
            out[-1] = Segment(last.text + segment.text, last.style)
        else:
            out.append(segment)
    return out


def side_lines(
    series: Sequence[Points],
    marker: Marker,
    rgb: RGB,
    axes: Axes,
    width: int,
    height: int,
) -> Text:
    """One side as Rich Text (Text.from_ansi of plotext's build)."""
    if width < 8 or height < 3:
        return Text("\n".join(" " * width for _ in range(height)))
    ansi = plot_ansi(series, marker, rgb, axes, width, height).removesuffix("\n")
    return Text.from_ansi(ansi, no_wrap=True, end="")


def centred(message: str, width: int, height: int, style: Style | None = None) -> Text:
    """`height` lines with `message` in the middle: for "no data" and errors."""
    lines = [" " * width for _ in range(height)]
    text = Text(no_wrap=True, end="")
    if height <= 0:
        return text
    if len(message) > width:
        message = message[: max(0, width - 1)] + "…"
    middle = height // 2
    for index, line in enumerate(lines):
        if index == middle:
            text.append(message.center(width), style)
        else:
            text.append(line)
        if index < height - 1:
            text.append("\n")
    return text


def rgb_of(style: Style) -> RGB:
    color = style.color
    if color is None:
        return (128, 128, 128)
    triplet = color.get_truecolor()
    return (triplet.red, triplet.green, triplet.blue)


def fit(candidates: Sequence[Text], width: int) -> Text:
    """The first candidate that fits `width` whole; else the last cut at a word boundary.

    Legends are shortened, never cut mid-word ("S v1.4.2", not "S stable v1.…").
    """
    for candidate in candidates:
        if candidate.cell_len <= width:
            return candidate
    last = candidates[-1].copy()
    plain = last.plain
    cut = plain.rfind(" ", 0, width + 1)
    last.truncate(max(0, cut), overflow="crop")
    return last


def join(*parts: Any) -> Text:
    return Text.assemble(*parts, no_wrap=True, end="")
