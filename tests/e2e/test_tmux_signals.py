"""SIGTERM, and SIGHUP from a dropped SSH session, leave the terminal as `q` does."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.e2e.tmux import TmuxSession, installed_binary

pytestmark = pytest.mark.e2e


def pane_format(tmux: TmuxSession, fmt: str) -> str:
    out = subprocess.run(
        [*tmux.tmux, "display-message", "-p", "-t", tmux.name, fmt],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_signal_restores_the_terminal_and_exits(sig: signal.Signals) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/root"),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
    }
    # In a shell that stays, as over SSH: the modes are read from the live pane after
    # the console has gone (a dead pane's flags are tmux's, not the program's).
    script = f"'{installed_binary()}' --demo --seed 7; echo \"console exited $?\"; exec sleep 120"
    tmux = TmuxSession(["sh", "-c", script], 160, 30, env)
    try:
        tmux.wait_for(
            lambda s: "yolo-detector" in s and "Help" in s, "the rollout list and its footer"
        )
        modes = "#{alternate_on} #{cursor_flag} #{mouse_any_flag}"
        assert pane_format(tmux, modes) == "1 0 1", "the app should own the terminal by now"
        shell = pane_format(tmux, "#{pane_pid}")
        console = subprocess.run(
            ["pgrep", "-P", shell], capture_output=True, text=True, check=True
        ).stdout.split()
        assert len(console) == 1, f"expected the console alone under the shell: {console}"
        started = time.monotonic()
        os.kill(int(console[0]), sig)
        tmux.wait_text(f"console exited {128 + sig}", timeout=10)
        assert time.monotonic() - started < 10
        # Out of the alternate screen, cursor shown, mouse reporting off.
        assert pane_format(tmux, modes) == "0 1 0"
    finally:
        tmux.close()
