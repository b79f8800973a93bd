"""Prometheus down, slow, failing, garbage, refusing credentials: a clear state, no
exception out of fetch(), the last good data kept with its time, and recovery
by itself once the real server answers again.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pytest

from console import exit_codes
from console.metrics import make_prometheus_source
from console.model import (
    ConsoleError,
    Metric,
    MetricsState,
    Role,
    Rollout,
)
from tests.lab.history import known_pair, openmetrics_history
from tests.lab.proc import free_port
from tests.lab.prom import PrometheusLab
from tests.metrics.fault_proxy import FaultProxy
from tests.metrics.helpers import Clock, latest, make_source, pair_rollout

pytestmark = pytest.mark.lab

NS = "metrics-faults"
TOKEN = "tok-7c1d9e5a-never-shown"


def _history_text() -> tuple[str, float, Rollout]:
    stable, canary = known_pair(namespace=NS)
    end = math.floor(time.time() / 60) * 60 - 900.0
    text = openmetrics_history([stable, canary], end - 1800, end, extra_labels={"job": NS})
    rollout = pair_rollout(NS, stable, canary)
    return text, end - 600, rollout


@pytest.fixture(scope="module")
def faults_history(prom_lab: PrometheusLab) -> dict[str, Any]:
    text, at, rollout = _history_text()
    prom_lab.backfill(text)
    return {"at": at, "rollout": rollout}


def _ok(source: Any, rollout: Rollout, clock: Clock) -> float:
    clock.t += 15
    m = source.fetch([rollout], window_s=300, step_s=15, force=True)[rollout.ref.key]
    assert m.state is MetricsState.OK, m.reason
    assert latest(m, Role.CANARY, Metric.LATENCY_P99) == pytest.approx(95.0, rel=1e-4)
    taken: float = m.taken_at
    return taken


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("5xx", "{url} answered HTTP 503: store gateway down"),
        ("garbage", "malformed answer from {url} (not Prometheus API JSON)"),
        ("slow", "no answer from {url} within 1s"),
    ],
)
@pytest.mark.parametrize("concurrency", [6, 1], ids=["thread-pool", "sequential"])
def test_failing_server_gives_unavailable_keeps_last_data_and_recovers(
    proxy: FaultProxy,
    faults_history: dict[str, Any],
    mode: str,
    reason: str,
    concurrency: int,
) -> None:
    rollout = faults_history["rollout"]
    clock = Clock(faults_history["at"])
    source = make_source(proxy.url, clock, timeout_s=1.0, max_concurrency=concurrency)
    good_at = _ok(source, rollout, clock)

    proxy.mode, proxy.delay = mode, 3.0
    clock.t += 15
    began = time.monotonic()
    m = source.fetch([rollout], window_s=300, step_s=15, force=True)[rollout.ref.key]
    elapsed = time.monotonic() - began
    assert m.state is MetricsState.UNAVAILABLE
    assert m.reason == reason.format(url=proxy.url)
    assert m.taken_at == good_at  # the UI shows how stale the kept data is
    assert latest(m, Role.CANARY, Metric.LATENCY_P99) == pytest.approx(95.0, rel=1e-4)
    if mode == "slow":  # timeouts bound the refresh: 5 queries, at most ~1 s each
        limit = 2.5 if concurrency > 1 else 5 * 1.0 + 2.5
        assert elapsed < limit, elapsed

    proxy.mode = "pass"
    assert _ok(source, rollout, clock) > good_at  # recovered by itself


def test_prometheus_stopped_then_restarted(tmp_path: Path) -> None:
    text, at, rollout = _history_text()
    lab = PrometheusLab(tmp_path / "prom")
    try:
        lab.backfill(text)
        lab.start()
        clock = Clock(at)
        source = make_source(lab.url, clock)
        good_at = _ok(source, rollout, clock)

        lab.stop()
        clock.t += 15
        m = source.fetch([rollout], window_s=300, step_s=15, force=True)[rollout.ref.key]
        assert m.state is MetricsState.UNAVAILABLE
        assert f"{m.state.value}: {m.reason}" == (
            f"metrics unavailable: connection refused to {lab.url}"
        )
        assert m.taken_at == good_at
        assert latest(m, Role.STABLE, Metric.REQUEST_RATE) == pytest.approx(40.0, rel=1e-4)

        lab.start()
        assert _ok(source, rollout, clock) > good_at
    finally:
        lab.close()


def test_startup_check_strict_and_lenient() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ConsoleError) as info:
        make_prometheus_source(url=url, strict=True)
    assert str(info.value) == f"Prometheus is not usable: connection refused to {url}."
    # Lenient (the TUI): starts anyway, says why per rollout, no exception.
    source = make_prometheus_source(url=url)
    assert source.startup_problem == str(info.value)
    rollout = _history_text()[2]
    m = source.fetch([rollout], window_s=300, step_s=15)[rollout.ref.key]
    assert m.state is MetricsState.UNAVAILABLE and m.reason == f"connection refused to {url}"
    assert m.taken_at == 0.0 and not m.stable.series


def test_credentials_and_path_prefix(prom_lab: PrometheusLab, tmp_path: Path) -> None:
    with FaultProxy(prom_lab.url, prefix="/prometheus") as proxy:
        proxy.mode, proxy.token = "auth", TOKEN
        # No token: refused credentials is a configuration problem, fatal even when lenient.
        with pytest.raises(ConsoleError) as info:
            make_prometheus_source(url=proxy.url)
        assert str(info.value) == (
            f"Prometheus is not usable: {proxy.url} refused the credentials (HTTP 401)."
        )
        # A wrong token is echoed back by the server: it must not reach the message.
        config = tmp_path / "config.yaml"
        config.write_text(f"prometheus:\n  url: {proxy.url}\n  bearer_token: wrong-{TOKEN}\n")
        with pytest.raises(ConsoleError) as info:
            make_prometheus_source(config_path=config)
        assert TOKEN not in str(info.value)
        # The right token through the config file, under a Mimir-style path prefix.
        config.write_text(f"prometheus:\n  url: {proxy.url}\n  bearer_token: {TOKEN}\n")
        source = make_prometheus_source(config_path=config)
        assert source.server_version.startswith("2.")
        assert source.scrape_interval_s == 1.0  # read from /api/v1/status/config
        assert TOKEN not in repr(source.config) and TOKEN not in source.description
        # Wrong prefix: one sentence that says where to look.
        proxy.mode = "pass"
        wrong = proxy.url.removesuffix("/prometheus") + "/mimir"
        with pytest.raises(ConsoleError, match=r"has no Prometheus API at /api/v1 \(HTTP 404\)"):
            make_prometheus_source(url=wrong)


def test_bad_query_in_a_profile_is_reported_not_raised(
    prom_lab: PrometheusLab, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"prometheus: {{url: '{prom_lab.url}'}}\n"
        "profiles:\n  istio: {selector: 'reporter=\"destination\"))'}\n"
    )
    source = make_prometheus_source(config_path=config)
    rollout = _history_text()[2]
    m = source.fetch([rollout], window_s=300, step_s=15)[rollout.ref.key]
    assert m.state is MetricsState.UNAVAILABLE
    assert m.reason.startswith(f"{prom_lab.url} rejected a query (HTTP 400): ")


@pytest.mark.parametrize("concurrency", [6, 1], ids=["thread-pool", "sequential"])
def test_credentials_echoed_by_a_failing_server_are_redacted(
    proxy: FaultProxy, faults_history: dict[str, Any], tmp_path: Path, concurrency: int
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"prometheus:\n  url: {proxy.url}\n  bearer_token: {TOKEN}\n"
        f"metrics: {{max_concurrency: {concurrency}}}\n"
    )
    source = make_prometheus_source(config_path=config)
    proxy.mode = "echo5xx"
    rollout = faults_history["rollout"]
    m = source.fetch([rollout], window_s=300, step_s=15)[rollout.ref.key]
    assert m.state is MetricsState.UNAVAILABLE
    assert (
        m.reason == f"{proxy.url} answered HTTP 500: upstream failed for Authorization: Bearer ***"
    )
    assert TOKEN not in m.reason
    with pytest.raises(ConsoleError) as info:
        source.check()
    assert TOKEN not in str(info.value) and "Bearer ***" in str(info.value)


def test_headless_metrics_with_prometheus_down_says_so_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import argparse

    from console.metrics.headless import run_metrics

    url = f"http://127.0.0.1:{free_port()}"
    args = argparse.Namespace(
        target=f"{NS}/detector",
        prometheus=url,
        config=None,
        output="table",
        window="5m",
        version_label=["stable=v1", "canary=v2"],
    )
    # Unavailable (3), not a config error (2): issue 9's runbooks branch on it.
    assert run_metrics(args) == exit_codes.UNAVAILABLE
    err = capsys.readouterr().err
    assert err == f"rollout-console: Prometheus is not usable: connection refused to {url}.\n"


@pytest.mark.parametrize("concurrency", [6, 1], ids=["thread-pool", "sequential"])
def test_tls_needs_the_ca_bundle_or_an_explicit_insecure_flag(
    prom_lab: PrometheusLab, faults_history: dict[str, Any], tmp_path: Path, concurrency: int
) -> None:
    from tests.lab import pki

    certs = pki.generate(tmp_path / "pki", {})
    serving = (str(certs.apiserver.cert), str(certs.apiserver.key))
    rollout = faults_history["rollout"]
    with FaultProxy(prom_lab.url, tls=serving) as proxy:
        assert proxy.url.startswith("https://")
        with pytest.raises(ConsoleError) as info:  # fatal even when lenient: config problem
            make_prometheus_source(url=proxy.url)
        assert str(info.value) == (
            f"Prometheus is not usable: TLS verification failed for {proxy.url} "
            "(set ca_file, or insecure_skip_verify explicitly)."
        )
        config = tmp_path / "config.yaml"
        for tls in (f"ca_file: {certs.ca.cert}", "insecure_skip_verify: true"):
            config.write_text(
                f"prometheus:\n  url: {proxy.url}\n  {tls}\n"
                f"metrics: {{max_concurrency: {concurrency}}}\n"
            )
            source = make_prometheus_source(config_path=config)
            source.clock = Clock(faults_history["at"])
            m = source.fetch([rollout], window_s=300, step_s=15)[rollout.ref.key]
            assert m.state is MetricsState.OK, (tls, m.reason)
            assert latest(m, Role.CANARY, Metric.ERROR_PCT) == pytest.approx(2.0, rel=1e-4)
            source.close()
