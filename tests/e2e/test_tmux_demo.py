"""The installed `rollout-console --demo`, driven with keys in tmux like a person over SSH."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from tests.e2e.tmux import TmuxSession

pytestmark = pytest.mark.e2e


def _binary() -> str:
    path = shutil.which("rollout-console")
    if path is None:
        pytest.fail("rollout-console is not installed on PATH; run tests/run (pip install -e .)")
    return path


@pytest.fixture
def console_in_tmux(request: pytest.FixtureRequest) -> Iterator[TmuxSession]:
    args: list[str] = getattr(request, "param", [])
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/root"),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
    }
    session = TmuxSession([_binary(), "--demo", "--seed", "7", *args], 100, 30, env)
    try:
        yield session
    finally:
        session.close()


def test_every_key_through_tmux(console_in_tmux: TmuxSession) -> None:
    tmux = console_in_tmux
    tmux.wait_for(
        lambda s: all(
            t in s for t in ("yolo-detector", "tf-serving", "Paused", "Healthy", "Advance")
        ),
        "the rollout list, with its keys in the footer (the app is ready for keys)",
    )

    tmux.keys("/")
    tmux.keys("yolo", literal=True)
    tmux.wait_for(lambda s: "yolo-detector" in s and "tf-serving" not in s, "the filtered list")
    tmux.keys("Enter")
    tmux.wait_text("Advance")  # the list has the keys again: the filter box let go
    tmux.keys("Enter")
    tmux.wait_text("S stable")
    tmux.wait_text("latency")

    tmux.keys("p")
    tmux.wait_text("» pause:")
    tmux.keys("r")
    tmux.wait_text("» resume:")
    tmux.keys("a")
    tmux.wait_text("» advance:")
    tmux.keys("x")
    tmux.wait_text("any other key cancels")
    tmux.keys("n")
    tmux.wait_text("cancelled")
    tmux.keys("x")
    tmux.wait_text("any other key cancels")
    tmux.keys("y")
    tmux.wait_text("» rollback:")
    tmux.wait_text("aborted")

    tmux.keys("Escape")
    tmux.wait_for(lambda s: "NAMESPACE" in s, "the list")
    tmux.keys("Escape")  # clears the filter
    tmux.wait_text("tf-serving")
    tmux.keys("/")
    tmux.keys("tf-serving", literal=True)
    tmux.wait_for(lambda s: "tf-serving" in s and "yolo-detector" not in s, "tf-serving only")
    tmux.keys("Enter")
    tmux.wait_text("Advance")
    tmux.keys("Enter")
    tmux.wait_text("S stable")
    tmux.keys("A")
    tmux.wait_text("any other key cancels")
    tmux.keys("Escape")
    tmux.wait_text("cancelled")
    tmux.keys("A")
    tmux.wait_text("any other key cancels")
    tmux.keys("y")
    tmux.wait_text("» promote:")

    tmux.keys("?")
    tmux.wait_text("Press any key to close")
    tmux.keys("z")
    tmux.wait_for(lambda s: "Press any key" not in s, "the help to close")
    tmux.keys("q")
    tmux.wait_for(lambda _: tmux.pane_dead(), "the console to exit")


@pytest.mark.parametrize("console_in_tmux", [["--read-only"]], indirect=True)
def test_read_only_has_no_action_keys(console_in_tmux: TmuxSession) -> None:
    tmux = console_in_tmux
    screen = tmux.wait_text("READ-ONLY")
    assert "Pause" not in screen and "Rollback" not in screen
    tmux.keys("Enter")
    tmux.wait_text("S stable")
    tmux.keys("p", "x", "y")
    screen = tmux.wait_text("recent changes")
    assert "» " not in screen, "no action may run in read-only mode"
    tmux.keys("q")
    tmux.wait_for(lambda _: tmux.pane_dead(), "the console to exit")
