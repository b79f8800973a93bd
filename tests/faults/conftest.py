"""Fixtures of the fault suite: the lab's (tests/conftest.py plugins), and the metrics
tests' fault proxy and config isolation (defined once, in tests/metrics/conftest.py)."""

from __future__ import annotations

from tests.metrics.conftest import _no_user_config, proxy

__all__ = ["_no_user_config", "proxy"]
