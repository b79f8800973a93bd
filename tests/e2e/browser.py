"""A served console in a real browser: Debian's chromium through selenium.

Nothing is downloaded: the driver is /usr/bin/chromedriver, named explicitly, so
Selenium Manager never runs. The terminal's text is read from xterm.js's own buffer
(the page keeps its Terminal in a closure, so a script added before the page's own
catches it as it is assigned), not from pixels.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tests.e2e.tmux import installed_binary

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WINDOW = (1400, 900)

#: Runs before the page's scripts: keeps the xterm.js Terminal the page creates as
#: `this.terminal = new Terminal(...)` in window.__xterm.
_CATCH_TERMINAL = """
Object.defineProperty(Object.prototype, 'terminal', {
  configurable: true,
  set(value) {
    Object.defineProperty(this, 'terminal', {
      value: value, writable: true, configurable: true, enumerable: true,
    });
    if (value && value.buffer && value.buffer.active) { window.__xterm = value; }
  },
});
"""

_READ_SCREEN = """
const t = window.__xterm;
if (!t) { return null; }
const buffer = t.buffer.active;
const rows = [];
for (let y = 0; y < t.rows; y++) {
  const line = buffer.getLine(buffer.viewportY + y);
  rows.push(line ? line.translateToString(true) : '');
}
return rows.join('\\n');
"""

_CELL_BACKGROUND = """
const t = window.__xterm;
const line = t && t.buffer.active.getLine(t.buffer.active.viewportY + arguments[0]);
const cell = line && line.getCell(arguments[1]);
return cell && cell.isBgRGB() ? cell.getBgColor() : -1;
"""


def need_chromium() -> None:
    """A machine without the browser fails here, with what to install (never a skip)."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        raise AssertionError(
            f"the browser tests need Debian's chromium and chromium-driver ({', '.join(missing)} "
            "missing): apt-get install chromium chromium-driver (tests/run does)"
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], Any], what: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.2)


class ServedConsole:
    """`rollout-console serve ARGS --port P` in its own process group."""

    def __init__(self, args: Sequence[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        full_env = dict(os.environ if env is None else env)
        full_env.setdefault("XDG_STATE_HOME", str(log.parent / "state"))
        self._log_file = log.open("wb")
        self.proc = subprocess.Popen(
            [installed_binary(), "serve", *args, f"--port={self.port}"],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=full_env,
            start_new_session=True,  # its consoles too: teardown kills the whole group
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        def answers() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode}: {self.output()}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    return bool(response.status == 200)
            except OSError:
                return False

        wait_until(answers, f"{self.url} to answer", timeout)

    def output(self) -> str:
        self._log_file.flush()
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # consoles that outlived the server
        self.proc.wait(10)
        self._log_file.close()


class Browser:
    """Headless chromium on one served page."""

    def __init__(self) -> None:
        need_chromium()
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (
            "--headless=new",
            "--no-sandbox",  # the tests run as root
            "--disable-dev-shm-usage",
            "--disable-gpu",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
            "--force-device-scale-factor=1",
        ):
            options.add_argument(flag)
        # The page asks Google for a font: do not wait for a network that may not be.
        options.page_load_strategy = "eager"
        self.driver = webdriver.Chrome(
            service=Service(executable_path=CHROMEDRIVER), options=options
        )
        self.driver.set_page_load_timeout(60)
        self.driver.execute_cdp_cmd(
            "Page.addScriptToEvaluateOnNewDocument", {"source": _CATCH_TERMINAL}
        )

    def open(self, url: str) -> None:
        self.driver.get(url)

    def screen(self) -> str:
        text = self.driver.execute_script(_READ_SCREEN)
        return text if isinstance(text, str) else ""

    def wait_text(self, *parts: str, timeout: float = 60.0) -> str:
        text: list[str] = [""]

        def shown() -> bool:
            text[0] = self.screen()
            return all(part in text[0] for part in parts)

        try:
            wait_until(shown, f"{parts} on the page", timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the page shows:\n{text[0]}") from None
        return text[0]

    def filter_for(self, text: str) -> None:
        """`/`, then the text once the filter box is up: keys typed before it has focus
        would go to the list (and `r`, `g`, `n` there are keys of their own)."""
        self.keys("/")
        self.wait_text("▔▔▔▔", "/ Filter")
        self.keys(text)
        self.wait_text(f"filter: {text}")

    def background_luminance(self, row: int, column: int) -> float:
        """0 (black) to 1 (white): the background colour of one cell as drawn."""
        rgb = self.driver.execute_script(_CELL_BACKGROUND, row, column)
        if not isinstance(rgb, int) or rgb < 0:
            raise AssertionError(f"no true-colour background at row {row}, column {column}")
        red, green, blue = (rgb >> 16) & 255, (rgb >> 8) & 255, rgb & 255
        return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255

    def keys(self, *keys: str) -> None:
        """Typed into xterm.js's input, as a viewer's keyboard would."""
        from selenium.webdriver.common.by import By

        target = self.driver.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea")
        for key in keys:
            target.send_keys(key)

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not self.driver.save_screenshot(str(path)):
            raise AssertionError(f"no screenshot saved to {path}")
        return path

    def close(self) -> None:
        self.driver.quit()


def copy_artefact(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
