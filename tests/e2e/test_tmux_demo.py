"""The installed `rollout-console --demo`, driven with keys in tmux like a person over SSH."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.e2e.tmux import TmuxSession, installed_binary

pytestmark = pytest.mark.e2e


@pytest.fixture
def console_in_tmux(request: pytest.FixtureRequest) -> Iterator[TmuxSession]:
    args: list[str] = getattr(request, "param", [])
    # Tall enough for the detail view's log of recent changes.
    height = 50 if "--read-only" in args else 30
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/root"),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
    }
    if "PYTHONPATH" in os.environ:  # the code under test, not whatever is installed
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    session = TmuxSession([installed_binary(), "--demo", "--seed", "7", *args], 100, height, env)
    try:
        yield session
    finally:
        session.close()


def footer_of(screen: str) -> str:
    lines = [line for line in screen.splitlines() if line.strip()]
    return lines[-1] if lines else ""


# The keys, not the guard: its pause of yolo-detector would race the "p" below
# (tests/e2e/test_tmux_guard.py drives the guard).
@pytest.mark.parametrize("console_in_tmux", [["--no-guard"]], indirect=True)
def test_every_key_through_tmux(console_in_tmux: TmuxSession) -> None:
    tmux = console_in_tmux
    tmux.wait_for(
        lambda s: (
            # "‖": a pause (at 100 columns a timed one shows its countdown, "‖ 45s").
            all(t in s for t in ("yolo-detector", "tf-serving", "‖", "Healthy"))
            and all(k in footer_of(s) for k in ("Promote step", "Pause", "Rollback"))
        ),
        "the rollout list, with its keys in the footer (the app is ready for keys)",
    )

    tmux.keys("/")
    # One burst, as typed fast or pasted: filter, leave the box, open the row.
    tmux.keys("yolo", literal=True)
    tmux.keys("Enter", "Enter")
    tmux.wait_text("S stable")
    tmux.wait_text("latency")

    tmux.keys("p")
    tmux.wait_text("Paused yolo-detector at weight")  # the notification
    # r (resume) is offered only once the view shows it paused: wait for the key.
    tmux.wait_for(lambda s: "r Resume" in footer_of(s), "r offered once it is paused")
    tmux.keys("r")
    tmux.wait_text("Resumed yolo-detector")
    tmux.keys("a")
    tmux.wait_text("Advanced yolo-detector to step")
    tmux.keys("x")
    tmux.wait_text("any other key cancels")
    tmux.keys("n")
    tmux.wait_text("cancelled")
    tmux.keys("x")
    tmux.wait_text("any other key cancels")
    tmux.keys("y")
    tmux.wait_text("Aborted yolo-detector")
    tmux.wait_text("aborted")

    tmux.keys("Escape")
    tmux.wait_for(lambda s: "AGE" in s and "S stable" not in s, "the list")
    tmux.keys("Escape")  # clears the filter
    tmux.wait_text("tf-serving")
    tmux.keys("/")
    tmux.keys("tf-serving", literal=True)
    tmux.wait_for(lambda s: "tf-serving" in s and "yolo-detector" not in s, "tf-serving only")
    tmux.keys("Enter")
    tmux.keys("Enter")
    tmux.wait_text("S stable")
    tmux.keys("A")
    tmux.wait_text("any other key cancels")
    tmux.keys("Escape")
    tmux.wait_text("cancelled")
    tmux.keys("A")
    tmux.wait_text("any other key cancels")
    tmux.keys("y")
    tmux.wait_text("Promoting tf-serving fully")

    tmux.keys("?")
    tmux.wait_text("Press any key to close")
    tmux.keys("z")
    tmux.wait_for(lambda s: "Press any key" not in s, "the help to close")
    tmux.keys("q")
    tmux.wait_for(lambda _: tmux.pane_dead(), "the console to exit")


@pytest.mark.parametrize("console_in_tmux", [["--read-only"]], indirect=True)
def test_read_only_has_no_action_keys(console_in_tmux: TmuxSession) -> None:
    tmux = console_in_tmux
    # Wait for the rows too: the table says "Paused", the footer must not offer it.
    screen = tmux.wait_for(
        lambda s: "READ-ONLY" in s and "yolo-detector" in s and "Help" in footer_of(s),
        "the read-only list with its footer",
    )
    footer = footer_of(screen)
    for label in ("Promote", "Pause", "Resume", "Rollback", "Retry", "Undo"):
        assert label not in footer, f"read-only footer offers {label!r}: {footer!r}"
    tmux.keys("/")
    tmux.keys("yolo", literal=True)
    tmux.keys("Enter", "Enter")
    tmux.wait_text("recent changes")
    # Keys are handled in order: once help is up, p, x and y have been seen.
    tmux.keys("p", "x", "y", "?")
    tmux.wait_text("Press any key to close")
    tmux.keys("z")
    screen = tmux.wait_for(lambda s: "Press any key" not in s, "the help to close")
    assert "Paused by an operator" not in screen and "Aborted" not in screen, screen
    assert "» " not in screen and "cancels" not in screen, "no action may run in read-only mode"
    tmux.keys("q")
    tmux.wait_for(lambda _: tmux.pane_dead(), "the console to exit")
