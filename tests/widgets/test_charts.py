"""Golden tests of the charts, through plotext: known series in, exact rows, labels,
gaps and legends out."""

from __future__ import annotations

import pytest
from rich.style import Style
from rich.text import Text

from widgets._plot import (
    BLOCKS,
    BRAILLE,
    Axes,
    fit,
    runs,
    shared_axes,
    side_lines,
    strips_of,
    window_of,
    x_ticks,
)

T0 = 1_800_000_000.0
WINDOW = (T0, T0 + 300.0)
AXES = Axes(WINDOW, (0.0, 100.0), (0.0, 50.0, 100.0))
BLUE = (86, 180, 233)
WIDTH, HEIGHT = 40, 7  # 5 canvas rows, then the x axis and its labels


def flat(value: float, start: float = 0.0, end: float = 300.0, step: float = 5.0) -> tuple:
    n = int((end - start) / step) + 1
    return tuple((T0 + start + i * step, value) for i in range(n))


def lines(series: list[tuple], axes: Axes = AXES, marker=BRAILLE) -> list[str]:  # type: ignore[no-untyped-def]
    text = side_lines(series, marker, BLUE, axes, WIDTH, HEIGHT)
    out = text.plain.split("\n")
    assert len(out) == HEIGHT and all(len(line) == WIDTH for line in out)
    return out


def marks(line: str) -> list[int]:
    """Columns of the canvas (right of the y axis) that hold a plotted glyph."""
    canvas = line.split("┤", 1)[1] if "┤" in line else line.split("│", 1)[1]
    return [i for i, c in enumerate(canvas) if c != " "]


def is_braille(c: str) -> bool:
    return 0x2800 < ord(c) <= 0x28FF


def test_y_axis_labels_sit_on_their_rows() -> None:
    out = lines([flat(50.0)])
    labels = [line.split("┤")[0].strip() if "┤" in line else "" for line in out[:5]]
    # 5 canvas rows for 0..100: ticks on the top, middle and bottom rows only.
    assert labels == ["100", "", "50", "", "0"]
    assert out[5].lstrip().startswith("└")
    assert out[6].split() == ["-5m", "-2m30s", "now"]


def test_a_constant_lands_on_its_row_across_the_whole_window() -> None:
    out = lines([flat(50.0)])
    row = marks(out[2])  # the "50" row
    assert row and min(row) <= 1 and max(row) >= WIDTH - len("50┤") - 2
    assert all(is_braille(out[2].split("┤")[1][i]) for i in row)
    for other in (0, 1, 3, 4):
        assert marks(out[other]) == [], out[other]


def test_a_single_spike_is_at_its_time_and_height() -> None:
    points = tuple((t, 100.0 if t == T0 + 150 else 0.0) for t, _ in flat(0.0))
    out = lines([points])
    top = marks(out[0])
    canvas_width = WIDTH - len("100┤")
    middle = canvas_width / 2
    assert top and all(abs(col - middle) <= 2 for col in top), (top, out)
    assert marks(out[4])  # the zero line on the bottom row


def test_a_hole_in_the_data_is_left_blank() -> None:
    points = flat(50.0, 0, 100) + flat(50.0, 200, 300)
    assert len(runs(points)) == 2
    row = marks(lines([points])[2])
    canvas_width = WIDTH - len("100┤")
    third = canvas_width // 3
    hole = [c for c in row if third + 2 <= c <= 2 * third - 2]
    assert hole == [], row
    assert any(c < third for c in row) and any(c > 2 * third for c in row)


def test_solid_and_dotted_series_and_the_two_markers() -> None:
    p50, p99 = flat(25.0, step=2.0), flat(75.0, step=2.0)
    stable = lines([p50, p99])
    canary = lines([p50, p99], marker=BLOCKS)
    # p99 (the last series) is a line: every canvas column; p50 is points only: gaps.
    canvas_width = WIDTH - len("100┤")
    solid = marks(stable[1]) + marks(stable[0])
    dotted = marks(stable[3]) + marks(stable[4])
    assert len(set(solid)) >= canvas_width - 2
    assert 0 < len(set(dotted)) <= canvas_width * 0.7
    # Stable is braille, canary quadrant blocks: the sides differ without colour.
    body = "".join(stable[:5])
    assert any(is_braille(c) for c in body)
    assert not any(c in "▀▄▌▐▖▗▘▝▙▛▜▟▚▞█" for c in body)
    blocks = "".join(canary[:5])
    assert any(c in "▀▄▌▐▖▗▘▝▙▛▜▟▚▞█" for c in blocks)
    assert not any(is_braille(c) for c in blocks)


def test_colour_comes_from_the_caller_and_axes_from_the_widget_style() -> None:
    text = side_lines([flat(50.0)], BRAILLE, BLUE, AXES, WIDTH, HEIGHT)
    base = Style(color="#ffffff", bgcolor="#101010")
    strips = strips_of(text, WIDTH, base)
    data = [s for s in strips[2] if any(is_braille(c) for c in s.text)]
    assert data and all(s.style is not None and s.style.color is not None for s in data)
    triplet = data[0].style.color.get_truecolor()  # type: ignore[union-attr]
    assert (triplet.red, triplet.green, triplet.blue) == BLUE
    axis = [s for s in strips[0] if "┤" in s.text]
    assert axis and axis[0].style is not None and axis[0].style.bgcolor is not None
    assert all(strip.cell_length == WIDTH for strip in strips)


def test_shared_axes_cover_both_sides_with_tidy_ticks() -> None:
    stable, canary = flat(40.0), flat(150.0)
    axes = shared_axes([stable, canary], WINDOW, rows=5)
    assert axes.ylim[0] == 0.0 and axes.ylim[1] >= 150.0
    assert axes.yticks[0] == axes.ylim[0] and axes.yticks[-1] == axes.ylim[1]
    assert len(axes.yticks) <= 3  # at most a tick every second row of 5
    # A flat 0 % error rate is not stretched into noise.
    zero = shared_axes([flat(0.0)], WINDOW, rows=7)
    assert zero.ylim[0] == 0.0 and 1.0 <= zero.ylim[1] <= 2.0


def test_window_is_the_newest_point_back_and_labelled() -> None:
    late = flat(1.0, 100, 400)
    assert window_of([flat(1.0), late], 300.0) == (T0 + 100, T0 + 400)
    assert x_ticks((0.0, 120.0), 40)[1] == ("-2m", "-1m", "now")
    assert x_ticks((0.0, 300.0), 20)[1] == ("-5m", "now")
    # Points before the window are not drawn.
    axes = Axes((T0 + 150, T0 + 450), (0.0, 100.0), (0.0, 50.0, 100.0))
    out = lines([flat(50.0, 0, 300)], axes)
    row = marks(out[2])
    assert row and max(row) <= (WIDTH - 4) // 2 + 2


def test_legends_shorten_whole_words() -> None:
    long = Text("latency ms S stable v1.4.2 ⠒⠒p99 ⠂⠂p50")
    short = Text("latency ms S v1.4.2 ⠒⠒p99 ⠂⠂p50")
    bare = Text("latency ms S v1.4.2")
    assert fit([long, short, bare], 60).plain == long.plain
    assert fit([long, short, bare], 32).plain == short.plain
    assert fit([long, short, bare], 20).plain == bare.plain
    assert fit([long, short, bare], 12).plain == "latency ms S"
    assert fit([long, short, bare], 11).plain == "latency ms"


def test_builds_on_several_threads_equal_builds_on_one() -> None:
    """plotext draws on one global figure: concurrent builds must not mix their plots."""
    from concurrent.futures import ThreadPoolExecutor

    cases = [([flat(10.0 * i)], BRAILLE if i % 2 else BLOCKS) for i in range(1, 9)]
    expected = [
        side_lines(series, marker, BLUE, AXES, WIDTH, HEIGHT).plain for series, marker in cases
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(3):
            got = list(
                pool.map(
                    lambda case: side_lines(case[0], case[1], BLUE, AXES, WIDTH, HEIGHT).plain,
                    cases * 4,
                )
            )
            assert got == expected * 4


@pytest.mark.parametrize("size", [(1, 1), (6, 3), (20, 5), (39, 8), (200, 13)])
@pytest.mark.parametrize(
    "values",
    [[], [0.0], [-5.0, 300.0], [-6.0, -4.0], [1e-9, 2e-9], [6e11, 6e11], [0.0, 100.0] * 30],
    ids=["empty", "one", "across-zero", "negative", "tiny", "huge-flat", "zigzag"],
)
def test_any_data_at_any_size_gives_exactly_the_widget_size(
    size: tuple[int, int], values: list[float]
) -> None:
    from widgets._palette import _palette
    from widgets.version_chart import _Request, build_lines

    width, height = size
    series = tuple((T0 + 5.0 * i, v) for i, v in enumerate(values))
    colours = _palette("test", ("",) * 7)
    request = _Request(
        "latency", "ms", (series, series), (series,), ("p50", "p99"), "v1", "v2", "", None,
        None, width, height, colours, Style(),
    )  # fmt: skip
    lines, (lo, hi) = build_lines(request)
    assert len(lines) == height and all(line.cell_length == width for line in lines)
    assert lo < hi
    if values:
        assert lo <= min(values) and hi >= max(values)
