"""Regenerate the SVG screenshots from the demo (seed 7, frozen clock, guard on).

python screenshots/generate.py            # writes screenshots/*.svg
python screenshots/generate.py --png DIR  # also PNGs to look at (rsvg-convert)
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import time
from pathlib import Path

# Run as a script from anywhere: the repository root holds `console` and `tests`.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from console.demo_app import frozen_demo_app
from tests.ui.drive import charts_settled

HERE = Path(__file__).resolve().parent
SIZES = ((80, 24), (160, 48))
DETAIL_OF = "yolo-detector"  # the canary that regresses: the story worth a picture


async def _shoot(size: tuple[int, int], out: Path) -> list[Path]:
    # The guard evaluated through the warm-up: the verdict column, and yolo-detector
    # paused by it with the evidence in the gates panel.
    app, _ = frozen_demo_app(guard=True)
    written: list[Path] = []
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        path = out / f"list-{size[0]}x{size[1]}.svg"
        app.save_screenshot(path.name, str(out))
        written.append(path)
        await pilot.press("slash", *DETAIL_OF, "enter", "enter")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            key = getattr(app.screen, "key", None)
            if key is not None and key in app.store.metrics:
                break
            await pilot.pause(0.05)
        else:
            raise SystemExit(f"the detail view of {DETAIL_OF} did not get metrics in 10s")
        app.redraw_if_changed()
        await pilot.pause()
        while time.monotonic() < deadline and not charts_settled(app):
            await pilot.pause(0.05)
        await pilot.pause()
        path = out / f"detail-{size[0]}x{size[1]}.svg"
        app.save_screenshot(path.name, str(out))
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--png", metavar="DIR", help="also write PNGs here (needs rsvg-convert)")
    args = parser.parse_args()
    for size in SIZES:
        for svg in asyncio.run(_shoot(size, HERE)):
            print(svg.relative_to(HERE.parent))
            if args.png:
                if shutil.which("rsvg-convert") is None:
                    raise SystemExit("rsvg-convert is missing: apt-get install librsvg2-bin")
                Path(args.png).mkdir(parents=True, exist_ok=True)
                png = Path(args.png) / svg.with_suffix(".png").name
                subprocess.run(["rsvg-convert", "-o", str(png), str(svg)], check=True)
                print(png)


if __name__ == "__main__":
    main()
