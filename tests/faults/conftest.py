"""Fixtures of the fault suite: the lab's (tests/conftest.py plugins) plus a fault proxy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.lab.prom import PrometheusLab
from tests.metrics.fault_proxy import FaultProxy


@pytest.fixture
def proxy(prom_lab: PrometheusLab) -> Iterator[FaultProxy]:
    """A loopback proxy in front of the lab Prometheus that misbehaves on demand."""
    with FaultProxy(prom_lab.url) as p:
        yield p


@pytest.fixture(autouse=True)
def _no_user_config(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never read the developer's own ~/.config/rollout-console/config.yaml."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg")))
