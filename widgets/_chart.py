"""A small line-chart renderer: time series to Rich Text, no plotext.

plotext's build() has a fixed cost of ~4-7 ms per chart whatever its size, and
the detail view shows eight charts, which would blow the 30 ms refresh budget
on its own. Drawing into a braille/quadrant grid here costs well under 1 ms.

Two glyph families keep stable and canary apart without colour: stable is
drawn in braille (fine dots), canary in quadrant blocks (coarser solid
blocks). Within one chart the most important (last) series is solid and the
others are dashed, so p50 and p99 differ by texture as well.
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Sequence

from rich.style import Style

from console.model import format_duration

Points = tuple[tuple[float, float], ...]


class Family(enum.Enum):
    BRAILLE = "braille"  # 2x4 dots per cell
    QUADRANT = "quadrant"  # 2x2 blocks per cell

    @property
    def rows_per_cell(self) -> int:
        return 4 if self is Family.BRAILLE else 2

    def glyph(self, mask: int) -> str:
        if self is Family.BRAILLE:
            return chr(0x2800 + mask)
        return _QUADRANTS[mask]

    def legend(self, solid: bool) -> str:
        """A two-cell sample of the line texture, for the chart legend."""
        if self is Family.BRAILLE:
            return "⠤⠤" if solid else "⠤ "
        return "▄▄" if solid else "▄ "


# Index = bit mask: 1 upper-left, 2 upper-right, 4 lower-left, 8 lower-right.
_QUADRANTS = " ▘▝▀▖▌▞▛▗▚▐▜▄▙▟█"
# Braille dot bits by (sub-column, sub-row).
_BRAILLE_BITS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
_QUADRANT_BITS = ((1, 4), (2, 8))

AXIS = Style(dim=True)


def fmt_value(value: float) -> str:
    """Compact tick label: at most ~5 characters for values a console shows."""
    magnitude = abs(value)
    if magnitude >= 10_000:
        text = f"{value / 1000:.0f}k"
    elif magnitude >= 1000:
        text = f"{value / 1000:.1f}k"
    elif magnitude >= 100:
        text = f"{value:.0f}"
    elif magnitude >= 10:
        text = f"{value:.1f}"
    elif magnitude >= 1:
        text = f"{value:.2f}"
    elif magnitude == 0:
        return "0"
    else:
        text = f"{value:.2g}"
    if "." in text and "e" not in text:
        head, _, tail = text.partition(".")
        suffix = "k" if tail.endswith("k") else ""
        tail = tail.removesuffix("k").rstrip("0")
        text = f"{head}.{tail}{suffix}" if tail else f"{head}{suffix}"
    return text


def shared_ylim(groups: Sequence[Points], *, pad: float = 0.08) -> tuple[float, float]:
    """Y limits covering every series, padded, with a minimum span.

    The minimum span stops a flat line (a 0% error rate, a constant GPU memory)
    from being stretched into noise across the full height.
    """
    values = [v for points in groups for _, v in points]
    if not values:
        return (0.0, 1.0)
    lo, hi = min(values), max(values)
    span = hi - lo
    min_span = max(abs(hi), abs(lo)) * 0.2 or 1.0
    if span < min_span:
        middle = (hi + lo) / 2
        lo, hi = middle - min_span / 2, middle + min_span / 2
        if lo < 0 <= min(values):
            lo, hi = 0.0, hi - lo
        span = min_span
    lo -= span * pad
    hi += span * pad
    # Metrics are counts, ratios and durations: an axis below zero only wastes rows.
    if min(values) >= 0:
        lo = max(lo, 0.0)
    # Round outwards to a tidy step so tick labels read "0 / 50 / 100", not "1.77".
    step = _nice_step((hi - lo) / 4)
    return (math.floor(lo / step) * step, math.ceil(hi / step) * step)


def _nice_step(raw: float) -> float:
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def shared_xlim(groups: Sequence[Points]) -> tuple[float, float]:
    times = [t for points in groups if points for t in (points[0][0], points[-1][0])]
    if not times:
        return (0.0, 1.0)
    return (min(times), max(times))


def _max_gap(points: Points) -> float:
    """Longer than this between samples is a hole in the data, not a slope."""
    if len(points) < 3:
        return float("inf")
    steps = sorted(b[0] - a[0] for a, b in itertools.pairwise(points))
    return steps[len(steps) // 2] * 3.5


def _rasterise(
    points: Points,
    cols: int,
    rows: int,
    family: Family,
    xlim: tuple[float, float],
    ylim: tuple[float, float],
    dashed: bool,
) -> list[int]:
    sub_rows = family.rows_per_cell
    dots_x, dots_y = cols * 2, rows * sub_rows
    t0, t1 = xlim
    lo, hi = ylim
    x_scale = (dots_x - 1) / (t1 - t0) if t1 > t0 else 0.0
    y_scale = (dots_y - 1) / (hi - lo) if hi > lo else 0.0
    bits = _BRAILLE_BITS if family is Family.BRAILLE else _QUADRANT_BITS
    grid = [0] * (cols * rows)
    gap = _max_gap(points)

    def plot(x: int, y: int) -> None:
        if dashed and (x // 2) % 2:
            return
        y = min(max(y, 0), dots_y - 1)
        grid[(y // sub_rows) * cols + x // 2] |= bits[x % 2][y % sub_rows]

    previous: tuple[int, int, float] | None = None
    for t, v in points:
        x = dots_x - 1 if x_scale == 0.0 else round((t - t0) * x_scale)
        x = min(max(x, 0), dots_x - 1)
        y = round((hi - v) * y_scale)
        if previous is not None and t - previous[2] <= gap and x > previous[0]:
            px, py, _ = previous
            # Fill each sub-column from the previous height to this one, so
            # steep changes stay connected instead of becoming scattered dots.
            y_from = py
            for xi in range(px + 1, x + 1):
                y_to = py + round((y - py) * (xi - px) / (x - px))
                step = 1 if y_to >= y_from else -1
                start = y_from if y_to == y_from else y_from + step
                for yy in range(start, y_to + step, step):
                    plot(xi, yy)
                y_from = y_to
        else:
            plot(x, y)
        previous = (x, y, t)
    return grid


Run = tuple[str, Style | None]
"""A stretch of text in one style; a line is a list of runs (no Rich Text:
Textual's Text-to-strip conversion costs more than drawing the chart)."""

_BRAILLE = [chr(0x2800 + mask) for mask in range(256)]


def render_plot(
    series: Sequence[Points],
    styles: Sequence[Style],
    *,
    family: Family,
    width: int,
    height: int,
    xlim: tuple[float, float],
    ylim: tuple[float, float],
) -> list[list[Run]]:
    """Exactly `height` lines of `width` cells: y axis, plot area, x axis."""
    lo, hi = ylim
    plot_rows = max(1, height - 1)
    labels = {0: fmt_value(hi), plot_rows - 1: fmt_value(lo)}
    if plot_rows >= 4:
        # The midpoint value on the row that contains it: identical on both
        # sides of a pair whatever the glyph family's vertical resolution.
        labels[min(plot_rows - 2, max(1, plot_rows // 2))] = fmt_value((hi + lo) / 2)
    label_width = max(len(text) for text in labels.values())
    cols = max(1, width - label_width - 1)
    table = _BRAILLE if family is Family.BRAILLE else _QUADRANTS
    last = len(series) - 1
    grids = [
        _rasterise(points, cols, plot_rows, family, xlim, ylim, dashed=index < last)
        for index, points in enumerate(series)
    ]
    blank = " " * cols
    lines: list[list[Run]] = []
    for row in range(plot_rows):
        label = labels.get(row)
        runs: list[Run] = [
            (f"{label:>{label_width}}┤" if label is not None else " " * label_width + "│", AXIS)
        ]
        base = row * cols
        slices = [grid[base : base + cols] for grid in grids]
        if not any(any(part) for part in slices):
            runs.append((blank, None))
            lines.append(runs)
            continue
        chars: list[str] = []
        owners: list[int] = []
        for masks in zip(*slices, strict=True):
            # The last series is the solid, most important one: it wins a shared cell.
            for index in range(last, -1, -1):
                if masks[index]:
                    chars.append(table[masks[index]])
                    owners.append(index)
                    break
            else:
                chars.append(" ")
                owners.append(-1)
        start = 0
        for i in range(1, cols + 1):
            if i == cols or owners[i] != owners[start]:
                owner = owners[start]
                runs.append(("".join(chars[start:i]), styles[owner] if owner >= 0 else None))
                start = i
        lines.append(runs)
    lines.append(_x_axis(label_width, cols, xlim))
    return lines[:height]


def _x_axis(label_width: int, cols: int, xlim: tuple[float, float]) -> list[Run]:
    span = xlim[1] - xlim[0]
    axis = ["─"] * cols

    def put(at: int, text: str) -> None:
        for i, char in enumerate(text):
            if 0 <= at + i < cols:
                axis[at + i] = char

    if span > 0:
        put(0, f"-{format_duration(span)}")
        if cols >= 26:
            middle = f"-{format_duration(span / 2)}"
            put(cols // 2 - len(middle) // 2, middle)
    put(cols - 3, "now")
    return [(" " * label_width + "└" + "".join(axis), AXIS)]


def centred(message: str, width: int, height: int, style: Style | None = None) -> list[list[Run]]:
    """`height` lines with `message` in the middle: for "no data" and errors."""
    lines: list[list[Run]] = [[(" " * width, None)] for _ in range(height)]
    if height <= 0:
        return lines
    if len(message) > width:
        message = message[: max(0, width - 1)] + "…"
    lines[height // 2] = [(message.center(width), style)]
    return lines
