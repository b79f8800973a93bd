"""Fixtures of the fault suite: the lab's (tests/conftest.py plugins), the metrics
tests' fault proxy and config isolation (defined once, in tests/metrics/conftest.py),
and `fault`, the row each test gives tests/faults/report.

Every test here is marked ``@pytest.mark.fault(scenario, expected)`` (collection
fails otherwise) and records what it saw with ``fault.observed(...)``. The report
reads these properties from pytest's JUnit XML; whether the row holds is the
test's outcome, never something the test writes.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from console.model import Rollout
from tests.kube.helpers import proxied_kubeconfig
from tests.kube.tcp_proxy import TcpProxy
from tests.lab.history import known_pair, openmetrics_history
from tests.lab.kube import KubeLab
from tests.lab.prom import PrometheusLab
from tests.metrics.conftest import _no_user_config, proxy
from tests.metrics.helpers import pair_rollout

__all__ = [
    "Fault",
    "NanHistory",
    "_no_user_config",
    "api_proxy",
    "fault",
    "nan_history",
    "proxy",
]

SCENARIO, EXPECTED, OBSERVED = "fault_scenario", "fault_expected", "fault_observed"


class Fault:
    """The report row of one test: the marker's scenario and expectation, what was seen."""

    def __init__(self, item: pytest.Item) -> None:
        self._item = item

    def _set(self, name: str, value: str) -> None:
        props = [(k, v) for k, v in self._item.user_properties if k != name]
        self._item.user_properties[:] = [*props, (name, value)]

    def observed(self, text: str) -> None:
        self._set(OBSERVED, text)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in item.nodeid and item.get_closest_marker("fault") is None:
            raise pytest.UsageError(
                f"{item.nodeid}: every fault test needs @pytest.mark.fault(scenario, expected)"
            )
    # Tests that kill and restart the session's API server go last: the controllers
    # (Argo's above all) take a while to settle after it, and other tests need them.
    items.sort(key=lambda item: "restartable" in getattr(item, "fixturenames", ()))


@pytest.fixture(autouse=True)
def fault(request: pytest.FixtureRequest) -> Fault:
    row = Fault(request.node)
    marker = request.node.get_closest_marker("fault")
    if marker is not None:
        scenario, expected = marker.args
        param = getattr(request.node, "callspec", None)
        if param is not None:
            scenario = f"{scenario} [{param.id}]"
        row._set(SCENARIO, scenario)
        row._set(EXPECTED, expected)
    return row


# --- a path to the API server that can be cut or frozen --------------------------------


@pytest.fixture
def api_proxy(kube_lab: KubeLab, tmp_path: Path) -> Iterator[tuple[TcpProxy, Path]]:
    """A copy of the lab's kubeconfig whose path to the API server goes through a
    TcpProxy, which a test can cut or freeze."""
    proxy, path = proxied_kubeconfig(kube_lab, tmp_path)
    try:
        yield proxy, path
    finally:
        proxy.thaw()
        proxy.close()


# --- a Prometheus history that turns NaN-only -------------------------------------------

NAN_NS = "faults-nan"
_SAMPLE = re.compile(r"^(?P<head>[^#].*\s)(?P<value>\S+)\s(?P<t>\S+)$")


def nan_after(text: str, cut: float) -> str:
    """OpenMetrics text with every sample at or after `cut` replaced by NaN."""

    def one(line: str) -> str:
        m = _SAMPLE.match(line)
        if m is None or float(m["t"]) < cut:
            return line
        return f"{m['head']}NaN {m['t']}"

    return "\n".join(one(line) for line in text.split("\n"))


@dataclass(frozen=True)
class NanHistory:
    rollout: Rollout
    #: Real figures before, NaN (an exporter gone bad) from here on.
    cut: float


@pytest.fixture(scope="session")
def nan_history(prom_lab: PrometheusLab) -> NanHistory:
    """30 min of a stable/canary pair in the lab Prometheus, NaN-only for the last 10."""
    stable, canary = known_pair(namespace=NAN_NS)
    end = math.floor(time.time() / 60) * 60 - 900.0
    cut = end - 600
    text = openmetrics_history([stable, canary], end - 1800, end, extra_labels={"job": NAN_NS})
    prom_lab.backfill(nan_after(text, cut))
    rollout = pair_rollout(NAN_NS, stable, canary)
    return NanHistory(rollout, cut)
