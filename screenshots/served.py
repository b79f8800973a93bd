"""The served console's PNG for the README: `rollout-console serve` in headless chromium.

python screenshots/served.py      # writes screenshots/served.png

It serves the demo (seed 7) with the installed command, opens yolo-detector once the
guard has paused it, and saves what the browser shows. Needs chromium and
chromium-driver (Debian), as the browser test does; the clock is real, so ages and
chart noise differ from run to run.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

# Run as a script from anywhere: the repository root holds `console` and `tests`.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.browser import Browser, ServedConsole, copy_artefact

HERE = Path(__file__).resolve().parent
ENTER = "\ue007"


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        served = ServedConsole(["--demo", "--seed", "7", "--speed", "5"], Path(tmp) / "serve.log")
        try:
            served.wait_ready(timeout=90)
            browser = Browser()
            try:
                browser.open(served.url)
                browser.wait_text("Paused by guard", "yolo-detector", timeout=120)
                browser.filter_for("yolo-detector")
                browser.keys(ENTER)
                browser.wait_text("p Pause")
                browser.keys(ENTER)
                browser.wait_text("esc Back", "p99-vs-stable", "S stable", timeout=60)
                shot = browser.screenshot(Path(tmp) / "served.png")
            finally:
                browser.close()
        finally:
            served.stop()
        copy_artefact(shot, HERE / "served.png")
    print(HERE / "served.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
