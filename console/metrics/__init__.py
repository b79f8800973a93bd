"""Metrics sources: per-version series behind console.backend.MetricsSource."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from console.metrics.prometheus import PrometheusSource


def make_prometheus_source(
    url: str | None = None,
    config_path: str | os.PathLike[str] | None = None,
    *,
    strict: bool = False,
    **overrides: Any,
) -> PrometheusSource:
    """Build and check the Prometheus source. Raises ConsoleError (one sentence).

    Configuration problems always raise: a bad URL or config file, refused
    credentials, TLS failure, no Prometheus API at the URL, a bad profile.
    A Prometheus that is down, slow or failing (connection refused, timeout,
    5xx) raises only with `strict` (the headless command); otherwise the
    source starts anyway, reports "metrics unavailable: <reason>" and recovers
    by itself when the server comes back.

    `overrides` are PrometheusConfig fields (window_s, step_s, refresh_s,
    profile, gpu_profile, quantiles, max_concurrency, ...).
    """
    from console.metrics.config import load_config
    from console.metrics.prometheus import PrometheusSource, QueryError
    from console.model import ConsoleError, UnavailableError

    config = load_config(url=url, config_path=config_path, **overrides)
    source = PrometheusSource(config)
    try:
        source.check()
    except ConsoleError as exc:
        cause = source.check_error
        down = isinstance(cause, QueryError) and cause.transient
        if strict or not down:
            source.close()
            # Down, slow or failing is "unavailable" (exit 3), not a config error.
            raise (UnavailableError(str(exc)) if down else exc) from None
        source.startup_problem = str(exc)
    return source


def prometheus_configured(url: str | None, config_path: str | os.PathLike[str] | None) -> bool:
    """Whether a Prometheus source is asked for: --prometheus, --config, or the default file.

    The default file ($XDG_CONFIG_HOME/rollout-console/config.yaml) counts only
    when it has a ``prometheus:`` section, so a config file used for other
    settings does not switch metrics on.
    """
    if url or config_path:
        return True
    from console.metrics.config import default_config_path

    path = default_config_path()
    try:
        import yaml

        data = yaml.safe_load(path.read_text()) if path.is_file() else None
    except (OSError, yaml.YAMLError):
        return True  # let make_prometheus_source say what is wrong with it
    return isinstance(data, dict) and bool(data.get("prometheus"))
