"""The TUI on the lab, as a viewer whose Role covers only the Argo kinds.

Every other kind the console reads answers 403. The console must keep running,
say so in one sentence, and keep saying it where it can be read again.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

import pytest
from textual.widgets import Static

from console.app import RolloutConsoleApp
from console.kube import make_kube_backend
from console.metrics.none import NoMetrics
from console.screens.help import HelpScreen
from console.screens.status_line import StatusLine
from tests.kube.test_watch_lab import ARGO_READER
from tests.lab.kube import KubeLab

pytestmark = pytest.mark.lab

T = TypeVar("T")


async def until(check: Callable[[], T | None], what: str, timeout: float) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(0.1)  # poll interval, bounded by the deadline
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def test_forbidden_kinds_are_said_once_and_listed_in_help(kube_lab: KubeLab) -> None:
    ns = f"tui-notice-{uuid.uuid4().hex[:6]}"
    try:
        kubeconfig = kube_lab.create_service_account_kubeconfig(ns, "viewer", ARGO_READER)
        backend = make_kube_backend(str(kubeconfig), [], ns, False, False)
        app = RolloutConsoleApp(backend, NoMetrics("no metrics in this test"))
        async with app.run_test(size=(80, 24)) as pilot:

            def status() -> str:
                return str(app.screen.query_one("#status", StatusLine).render())

            await until(lambda: "⚠ 1 notice (? lists them)" in status(), "the notice count", 30)
            toasts = [n.message for n in app._notifications]
            [toast] = [t for t in toasts if t.startswith("Forbidden:")]
            assert "canaries.flagger.app" in toast and "virtualservices" in toast, toast
            await pilot.press("question_mark")
            await until(lambda: isinstance(app.screen, HelpScreen), "the help", 10)
            shown = str(app.screen.query_one(Static).render())
            assert f"⚠ {toast}" in " ".join(shown.split()), shown
            assert app.is_running
    finally:
        kube_lab.kubectl("delete", "namespace", ns, "--wait=false")
