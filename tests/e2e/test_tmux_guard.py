"""The installed `rollout-console --demo --speed 10`: its guard pauses yolo-detector,
and the list says so, as a person over SSH would see it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.e2e.tmux import TmuxSession, installed_binary

pytestmark = pytest.mark.e2e


@pytest.fixture
def demo_at_speed_10() -> Iterator[TmuxSession]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/root"),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
    }
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]  # a worktree's code, not the install's
    command = [installed_binary(), "--demo", "--seed", "7", "--speed", "10"]
    session = TmuxSession(command, 120, 30, env)
    try:
        yield session
    finally:
        session.close()


def _row(screen: str, name: str) -> str:
    return next((line for line in screen.splitlines() if f" {name} " in line), "")


def test_guard_pauses_yolo_detector_and_the_list_shows_it(demo_at_speed_10: TmuxSession) -> None:
    tmux = demo_at_speed_10
    tmux.wait_for(lambda s: "yolo-detector" in s and "GATES" in s, "the list with its verdicts")
    # Speed 10, a guard evaluation every 5 s, 3 of 5 failing: about 15 s; a loaded
    # 2-core machine gets a generous deadline.
    screen = tmux.wait_for(
        lambda s: "✖" in _row(s, "yolo-detector") and "Paused by guard" in _row(s, "yolo-detector"),
        "the guard's pause of yolo-detector on the list",
        timeout=120,
    )
    row = _row(screen, "yolo-detector")
    assert "✖ fail" in row, row
    assert "guard" in screen.splitlines()[0], "the status line says a guard runs"
    tmux.keys("q")
    tmux.wait_for(lambda _: tmux.pane_dead(), "the console to exit")
