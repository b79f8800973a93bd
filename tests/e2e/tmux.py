"""Drive a program in a real tmux pane, as a person over SSH would."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Callable


class TmuxSession:
    def __init__(self, command: list[str], width: int, height: int, env: dict[str, str]) -> None:
        if shutil.which("tmux") is None:
            raise RuntimeError("tmux is not installed; tests/run installs it with apt-get")
        self.name = f"rc-e2e-{uuid.uuid4().hex[:8]}"
        # A server of its own: a shared one sizes detached windows by its own
        # default-size and history, so the pane would not be width x height.
        self.tmux = ["tmux", "-L", self.name, "-f", "/dev/null"]
        exports = [f"{k}={v}" for k, v in env.items()]
        subprocess.run(
            [
                *self.tmux,
                "new-session",
                "-d",
                "-s",
                self.name,
                "-x",
                str(width),
                "-y",
                str(height),
                "env",
                *exports,
                *command,
            ],
            check=True,
            # The server's global environment is the starting client's: keep the
            # test runner's (COLUMNS=80, LINES=24 under pytest) out of the pane.
            env=env,
        )
        # Keep the pane after the program exits, so a crash can be read.
        subprocess.run(
            [*self.tmux, "set-option", "-t", self.name, "remain-on-exit", "on"], check=True
        )

    def screen(self) -> str:
        out = subprocess.run(
            [*self.tmux, "capture-pane", "-p", "-t", self.name], capture_output=True, text=True
        )
        return out.stdout

    def keys(self, *keys: str, literal: bool = False) -> None:
        args = [*self.tmux, "send-keys", "-t", self.name]
        if literal:
            args.append("-l")
        subprocess.run([*args, *keys], check=True)

    def wait_for(self, predicate: Callable[[str], bool], what: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if predicate(screen):
                return screen
            time.sleep(0.1)  # poll interval, bounded by the deadline
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; screen:\n{screen}")

    def wait_text(self, text: str, timeout: float = 30) -> str:
        return self.wait_for(lambda s: text in s, repr(text), timeout)

    def pane_dead(self) -> bool:
        out = subprocess.run(
            [*self.tmux, "display-message", "-p", "-t", self.name, "#{pane_dead}"],
            capture_output=True,
            text=True,
        )
        return out.stdout.strip() == "1"

    def pane_title(self) -> str:
        """The title the program set with OSC 0/2 (tmux's #{pane_title})."""
        out = subprocess.run(
            [*self.tmux, "display-message", "-p", "-t", self.name, "#{pane_title}"],
            capture_output=True,
            text=True,
        )
        return out.stdout.strip()

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True)


def installed_binary() -> str:
    """The installed console script, as a user would run it."""
    path = shutil.which("rollout-console")
    if path is None:
        raise AssertionError(
            "rollout-console is not installed on PATH; run tests/run (pip install -e .)"
        )
    return path
