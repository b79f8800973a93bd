"""TERM=dumb gets no colour at all (it used to get 24-bit colour)."""

from __future__ import annotations

import os
import re
import subprocess
import time

import pytest

from tests.e2e.tmux import TmuxSession, installed_binary

pytestmark = pytest.mark.e2e

#: Any SGR colour: 16/256/24-bit foreground or background (39/49, "default", is none).
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")


def test_a_dumb_terminal_gets_no_colour() -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/root"),
        "TERM": "dumb",
        "LANG": "C.UTF-8",
    }
    if "PYTHONPATH" in os.environ:  # the code under test, not whatever is installed
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    tmux = TmuxSession([installed_binary(), "--demo", "--seed", "7", "--no-guard"], 120, 30, env)
    try:
        tmux.wait_for(lambda s: "yolo-detector" in s and "Quit" in s, "the rollout list")
        deadline = time.monotonic() + 10
        styled = ""
        while time.monotonic() < deadline:  # the screen as drawn, escape codes and all
            styled = subprocess.run(
                [*tmux.tmux, "capture-pane", "-e", "-p", "-t", tmux.name],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            if "yolo-detector" in styled:
                break
            time.sleep(0.1)  # poll interval, bounded by the deadline
        assert "yolo-detector" in styled
        found = COLOUR.findall(styled)
        assert not found, f"colour codes on a dumb terminal: {found[:5]}"
    finally:
        tmux.close()
