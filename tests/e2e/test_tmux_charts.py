"""The detail view's charts in a real terminal (tmux) at 80x24 and 120x40: a plot body
in view without scrolling, and at 120x40 every chart whole."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.e2e.tmux import TmuxSession, installed_binary

pytestmark = pytest.mark.e2e

BRAILLE = {chr(c) for c in range(0x2801, 0x2900)}
BLOCKS = set("▀▄▌▐▖▗▘▝▙▛▜▟▚▞█")


@pytest.fixture(params=[(80, 24), (120, 40)], ids=["80x24", "120x40"])
def detail_in_tmux(request: pytest.FixtureRequest) -> Iterator[tuple[TmuxSession, int, int]]:
    width, height = request.param
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/root"),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
    }
    if "PYTHONPATH" in os.environ:  # the code under test, not whatever is installed
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    session = TmuxSession([installed_binary(), "--demo", "--seed", "7"], width, height, env)
    try:
        session.wait_for(lambda s: "yolo-detector" in s and "Filter" in s, "the rollout list")
        session.keys("/")
        session.keys("yolo-detector", literal=True)
        session.keys("Enter", "Enter")
        yield session, width, height
    finally:
        session.close()


def _plotted(screen: str, glyphs: set[str]) -> int:
    """Rows of the screen with a y-axis tick and a plotted glyph of the given family."""
    return sum(1 for line in screen.splitlines() if "┤" in line and set(line) & glyphs)


def test_a_chart_body_is_in_view_without_scrolling(
    detail_in_tmux: tuple[TmuxSession, int, int],
) -> None:
    tmux, width, height = detail_in_tmux

    def drawn(screen: str) -> bool:
        return (
            "latency ms" in screen
            and screen.count("now") >= 2  # the x axis of both sides: the plot is whole
            and _plotted(screen, BRAILLE) >= 1  # stable's points
            and _plotted(screen, BLOCKS) >= 1  # canary's
        )

    screen = tmux.wait_for(drawn, f"the latency chart pair with a plot body at {width}x{height}")
    lines = screen.splitlines()
    assert len(lines) <= height and all(len(line) <= width for line in lines)
    header = next(line for line in lines if "latency ms" in line)
    assert "…" not in header  # legends shorten, never cut
    if (width, height) == (120, 40):
        for title in ("latency ms", "errors %", "GPU util %", "GPU memory GiB"):
            assert title in screen, title
        # Every chart whole: each of the 8 plots shows its x axis labels.
        tmux.wait_for(lambda s: s.count("-5m") == 8 and s.count("now") >= 8, "8 whole plots")
    else:
        assert "errors %" not in screen  # short terminals: latency only, the table has the rest
        assert "p99 ms" in screen  # ... and the summary table starts right under it
