"""Pytest fixtures for the Prometheus half of the lab (load with ``pytest_plugins``).

``prom_lab``       one real Prometheus per session, in a temporary directory.
``stage_traffic``  starts model servers and a load generator for one test and
                   stops them afterwards; each call gets its own scrape job.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from tests.lab.proc import GiveUp
from tests.lab.prom import PrometheusLab, PrometheusLabError, check_installed
from tests.lab.traffic import ServerSpec, TrafficLab

StageTraffic = Callable[..., TrafficLab]


@pytest.fixture(scope="session")
def prom_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusLab]:
    try:
        check_installed()
        lab = PrometheusLab(tmp_path_factory.mktemp("prometheus"))
        lab.start()
    except PrometheusLabError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield lab
    lab.close()


@pytest.fixture
def stage_traffic(prom_lab: PrometheusLab, tmp_path: Path) -> Iterator[StageTraffic]:
    """Returns ``stage(specs, weights=... | virtualservice=..., kubeconfig=..., rps=, duration=)``.

    The servers are scraped by ``prom_lab`` before the load starts, so the
    first requests are already counted. Without weights or a VirtualService
    no load is sent (the DCGM gauges are exported anyway). ``scrape_labels``
    and ``honor_labels`` go to the scrape job, e.g. to stage the
    ``exported_pod`` relabelling of a DCGM exporter.
    """
    labs: list[TrafficLab] = []
    counter = itertools.count()

    def stage(
        specs: Sequence[ServerSpec],
        *,
        weights: Mapping[str, int] | None = None,
        virtualservice: str | None = None,
        kubeconfig: Path | None = None,
        route: str | None = None,
        rps: float = 20.0,
        duration: float = 120.0,
        scrape_labels: Mapping[str, str] | None = None,
        honor_labels: bool = False,
    ) -> TrafficLab:
        n = next(counter)
        lab = TrafficLab(tmp_path / f"traffic-{n}", prom_lab, job=f"traffic-{tmp_path.name}-{n}")
        labs.append(lab)
        try:
            lab.start_servers(specs, scrape_labels=scrape_labels, honor_labels=honor_labels)
            if weights is not None or virtualservice is not None:
                lab.start_loadgen(
                    weights=weights,
                    virtualservice=virtualservice,
                    kubeconfig=kubeconfig,
                    route=route,
                    rps=rps,
                    duration=duration,
                )
        except (TimeoutError, GiveUp, PrometheusLabError) as exc:
            pytest.fail(f"lab: traffic could not be staged: {exc}", pytrace=False)
        return lab

    yield stage
    for lab in labs:
        lab.stop()
