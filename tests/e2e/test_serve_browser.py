"""`rollout-console serve` in a real browser: headless chromium, as a viewer sees it.

The installed command serves the demo; chromium opens the page, the test types into
xterm.js and reads the terminal's text back from its buffer. A screenshot of the page
is kept as the test's artefact (under pytest's tmp dir).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browser import Browser, ServedConsole, wait_until
from tests.lab import sample
from tests.lab.kube import KubeLab

pytestmark = [pytest.mark.e2e]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ENTER = "\ue007"  # selenium's Keys.ENTER


@pytest.fixture
def served_demo(tmp_path: Path) -> Iterator[ServedConsole]:
    served = ServedConsole(["--demo", "--seed", "7"], tmp_path / "serve.log")
    try:
        served.wait_ready(timeout=90)
        yield served
    finally:
        served.stop()


@pytest.fixture
def browser() -> Iterator[Browser]:
    opened = Browser()
    try:
        yield opened
    finally:
        opened.close()


def _row(text: str, namespace: str, name: str) -> str:
    """The list's row of a rollout (the filter box above it names it too)."""
    return next((line for line in text.splitlines() if f" {namespace}  {name} " in line), "")


def test_pause_a_rollout_in_the_served_page(
    served_demo: ServedConsole, browser: Browser, tmp_path: Path
) -> None:
    browser.open(served_demo.url)
    # The console drew its list in the page's terminal.
    browser.wait_text("6 rollouts", "tf-serving", "yolo-detector", timeout=90)
    # Served, the console is light (projectors): a blank cell's background is bright.
    assert browser.background_luminance(row=20, column=5) > 0.8

    browser.filter_for("tf-serving")
    browser.wait_text("1 of 6 rollouts", "filter: tf-serving")
    browser.keys(ENTER)
    # The list has the keys again (while typing, the footer offers only "/ Filter").
    browser.wait_text("filter: tf-serving", "p Pause")
    browser.keys("p")

    # A timed pause counts down ("‖ Paused 20s"); an operator's pause is the bare word.
    paused = re.compile(r"tf-serving\s+‖ Paused\s{2}")
    wait_until(
        lambda: paused.search(_row(browser.screen(), "ml-serving", "tf-serving")),
        "tf-serving's row to read ‖ Paused",
        60,
    )
    png = browser.screenshot(tmp_path / "served.png")
    assert png.read_bytes().startswith(PNG_MAGIC) and png.stat().st_size > 10_000


def test_a_served_scenario_reaches_its_point_within_a_minute_at_speed_10(
    browser: Browser, tmp_path: Path
) -> None:
    """The promise to a presenter, in wall time: the GPU gate fires well within 60 s."""
    served = ServedConsole(
        ["--demo", "--scenario", "gpu-leak", "--speed", "10"], tmp_path / "serve.log"
    )
    try:
        served.wait_ready(timeout=90)
        browser.open(served.url)
        browser.wait_text("1 rollouts", "facefusion", timeout=90)
        opened = time.monotonic()
        # The row, and the toast's evidence (one word: a wrapped toast cannot split it).
        text = browser.wait_text("Paused by guard", "gpu-memory:", timeout=60)
        assert time.monotonic() - opened < 60
        assert "yolo-detector" not in text, "the story alone on the cluster"
    finally:
        served.stop()


@pytest.mark.lab
def test_served_cluster_is_read_only_without_allow_actions(
    kube_lab: KubeLab, browser: Browser, tmp_path: Path
) -> None:
    ns = f"serve-{uuid.uuid4().hex[:6]}"
    sample.wait_at_indefinite_pause(kube_lab, ns)
    served = ServedConsole(
        ["--kube", "-n", ns, f"--kubeconfig={kube_lab.kubeconfig}"], tmp_path / "serve.log"
    )
    try:
        served.wait_ready(timeout=90)
        assert "read-only" in served.output()

        def spec_and_abort() -> tuple[Any, Any, Any]:
            ro: dict[str, Any] = sample.get_rollout(kube_lab, ns)
            status = ro.get("status", {})
            return ro["spec"].get("paused"), status.get("abort"), status.get("promoteFull")

        before = spec_and_abort()
        browser.open(served.url)
        browser.wait_text(sample.NAME, "READ-ONLY", "Paused, waiting", timeout=90)
        # Every action key, in the list and in the detail view: none is bound, so none
        # acts and none asks (no "y confirms" prompt to answer).
        actions = ("p", "x", "a", "A", "r", "R", "u")
        browser.keys(*actions)
        browser.keys(ENTER)
        text = browser.wait_text("S stable", timeout=60)  # the detail view opened
        assert "read-only" in text.lower()
        browser.keys(*actions)
        text = browser.wait_text("S stable", "esc Back")
        assert "any other key cancels" not in text
        footer = text.rstrip().splitlines()[-1]
        assert "p Pause" not in footer and "x Rollback" not in footer, footer
        # Nothing reached the cluster: not now, and not in the next few seconds.
        settle = time.monotonic() + 5
        while time.monotonic() < settle:
            assert spec_and_abort() == before
    finally:
        served.stop()
        kube_lab.kubectl("delete", "namespace", ns, "--wait=false", check=False)
