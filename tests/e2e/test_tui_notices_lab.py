"""The TUI on the lab, as a viewer whose Role covers only the Argo kinds.

Every other kind the console reads answers 403. The console must keep running,
say so in one sentence, and keep saying it where it can be read again.
"""

from __future__ import annotations

import uuid

import pytest
from textual.widgets import Static

from console.app import RolloutConsoleApp
from console.kube import make_kube_backend
from console.metrics.none import NoMetrics
from console.screens.help import HelpScreen
from console.screens.status_line import StatusLine
from tests.kube.helpers import ARGO_READER
from tests.lab.kube import KubeLab
from tests.ui.drive import notifications, until

pytestmark = pytest.mark.lab


async def test_forbidden_kinds_are_said_once_and_listed_in_help(kube_lab: KubeLab) -> None:
    ns = f"tui-notice-{uuid.uuid4().hex[:6]}"
    try:
        kubeconfig = kube_lab.create_service_account_kubeconfig(ns, "viewer", ARGO_READER)
        backend = make_kube_backend(str(kubeconfig), [], ns, False, False)
        app = RolloutConsoleApp(backend, NoMetrics("no metrics in this test"))
        async with app.run_test(size=(80, 24)) as pilot:

            def status() -> str:
                return str(app.screen.query_one("#status", StatusLine).render())

            await until(pilot, lambda: "⚠ 1 notice (? lists them)" in status(), "the count", 30)
            [toast] = [t for t in notifications(app) if t.startswith("Forbidden:")]
            assert "canaries.flagger.app" in toast and "virtualservices" in toast, toast
            await pilot.press("question_mark")
            await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help", 10)
            shown = str(app.screen.query_one(Static).render())
            assert f"⚠ {toast}" in " ".join(shown.split()), shown
            assert app.is_running
    finally:
        kube_lab.kubectl("delete", "namespace", ns, "--wait=false")
