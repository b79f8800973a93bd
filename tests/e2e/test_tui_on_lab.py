"""The TUI on the lab: real kube-apiserver, real Argo controller, real Prometheus.

An operator opens the lab's canary, sees live per-version figures from the
traffic lab, and drives it with single keys. Each key must change the Rollout
the way `kubectl argo rollouts` does, the controller must follow, and the
charts must move with the traffic the controller shifts.

Driven with Textual's Pilot; every wait polls with a deadline.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from console.app import RolloutConsoleApp
from console.kube import make_kube_backend
from console.metrics import make_prometheus_source
from console.model import Metric, MetricsState, Role, RolloutMetrics
from console.screens.confirm import ConfirmScreen
from console.screens.rollout_detail import RolloutDetailScreen
from console.screens.rollout_list import RolloutListScreen
from tests.lab import sample
from tests.lab.kube import KubeLab
from tests.lab.prom import PrometheusLab
from tests.metrics.helpers import latest
from widgets.metric_summary import MetricSummary

pytestmark = pytest.mark.lab

T = TypeVar("T")


async def until(check: Callable[[], T | None], what: str, timeout: float) -> T:
    """Poll `check` while the app keeps running; fail with `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(0.2)  # poll interval, bounded by the deadline
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def canary_share(m: RolloutMetrics) -> float | None:
    stable = latest(m, Role.STABLE, Metric.REQUEST_RATE)
    canary = latest(m, Role.CANARY, Metric.REQUEST_RATE)
    if not stable or canary is None:
        return None
    return canary / (stable + canary)


async def test_operator_drives_a_live_canary_with_keys(
    kube_lab: KubeLab, prom_lab: PrometheusLab, tmp_path: Path
) -> None:
    ns = f"tui-{uuid.uuid4().hex[:6]}"
    sample.wait_at_indefinite_pause(kube_lab, ns)

    def ro() -> dict[str, Any]:
        return sample.get_rollout(kube_lab, ns)

    backend = make_kube_backend(str(kube_lab.kubeconfig), [], ns, False, False)
    probe = next(r for r in backend.list() if r.ref.name == sample.NAME)
    assert probe.canary is not None and probe.canary.label == "v2"

    traffic = sample.serve_bad_canary(
        kube_lab,
        prom_lab,
        ns,
        probe.stable.pods,
        probe.canary.pods,
        tmp_path / "traffic",
        job=f"tui-{ns}",
        duration=600,
    )
    try:
        metrics = make_prometheus_source(url=prom_lab.url)
        app = RolloutConsoleApp(backend, metrics, metrics_every_s=2.0, window_s=120.0)
        async with app.run_test(size=(160, 48)) as pilot:
            key = await until(
                lambda: next((k for k in app.store.rollouts if k.endswith(sample.NAME)), None),
                "the rollout in the list",
                30,
            )
            list_screen = app.screen
            assert isinstance(list_screen, RolloutListScreen)
            await until(lambda: list_screen.table.row_count, "the list drawn", 10)
            await pilot.press("enter")
            await until(lambda: isinstance(app.screen, RolloutDetailScreen), "the detail", 10)

            def live() -> RolloutMetrics | None:
                m = app.store.metrics.get(key)
                if m is None or m.state is not MetricsState.OK:
                    return None
                errors = latest(m, Role.CANARY, Metric.ERROR_PCT) or 0
                return (
                    m if (latest(m, Role.CANARY, Metric.REQUEST_RATE) or 0) > 2 and errors else None
                )

            m = await until(live, "live per-version metrics in the app", 150)
            p99_stable = latest(m, Role.STABLE, Metric.LATENCY_P99)
            p99_canary = latest(m, Role.CANARY, Metric.LATENCY_P99)
            assert p99_stable is not None and p99_canary is not None and p99_canary > p99_stable
            shown = app.screen.query_one(MetricSummary).text
            assert "no data" not in shown and "unavailable" not in shown, shown
            share_before = canary_share(m)
            assert share_before is not None and share_before < 0.45, share_before

            # a: promote past the indefinite pause; the controller sets 60 % and the
            # load generator follows the VirtualService, so the canary's share grows.
            await pilot.press("a")
            await until(
                lambda: (
                    (ro().get("status", {}).get("currentStepIndex") or 0)
                    > sample.INDEFINITE_PAUSE_STEP
                ),
                "the controller to move past the pause",
                60,
            )
            await until(
                lambda: sample.canary_weight(kube_lab, ns) == 60, "VirtualService at 60 %", 60
            )

            def grown() -> float | None:
                share = canary_share(app.store.metrics[key])
                return share if share is not None and share > 0.45 else None

            await until(grown, "the canary's request share to follow the new weight", 150)

            # p: spec.paused, at once, no confirmation; r: unpause.
            assert not app.store.rollouts[key].paused, "not operator-paused before p"
            await pilot.press("p")
            await until(lambda: ro()["spec"].get("paused") is True, "spec.paused=true", 20)
            await until(lambda: app.store.rollouts[key].paused, "the app to show it paused", 20)
            await pilot.press("r")
            await until(lambda: not ro()["spec"].get("paused"), "spec.paused cleared", 20)

            # x then y: status.abort; the controller sends the canary weight to 0.
            await pilot.press("x")
            await until(lambda: isinstance(app.screen, ConfirmScreen), "the confirmation", 10)
            await pilot.press("y")
            await until(lambda: ro().get("status", {}).get("abort") is True, "status.abort", 20)
            await until(lambda: sample.canary_weight(kube_lab, ns) == 0, "weight 0", 60)
            await until(lambda: app.store.rollouts[key].aborted, "the app to show it aborted", 30)
    finally:
        traffic.stop()
        kube_lab.kubectl("delete", "namespace", ns, "--wait=false", check=False)
