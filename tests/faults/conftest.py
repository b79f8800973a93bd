"""Fixtures of the fault suite: the lab's (tests/conftest.py plugins), the metrics
tests' fault proxy and config isolation (defined once, in tests/metrics/conftest.py),
and `fault`, the row each test gives tests/faults/report.

Every test here is marked ``@pytest.mark.fault(scenario, expected)`` (collection
fails otherwise) and records what it saw with ``fault.observed(...)``. The report
reads these properties from pytest's JUnit XML; whether the row holds is the
test's outcome, never something the test writes.
"""

from __future__ import annotations

import pytest

from tests.metrics.conftest import _no_user_config, proxy

__all__ = ["Fault", "_no_user_config", "fault", "proxy"]

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
