"""console.sources picks every command's sources: the guard's rules live there too."""

from __future__ import annotations

import pytest

from console.cli import build_parser
from console.demo import DemoBackend, DemoMetrics
from console.model import ConsoleError
from console.sources import guard_sources, make_sources


def test_the_guard_watches_one_cluster() -> None:
    args = build_parser().parse_args(["guard", "--context", "a", "--context", "b"])
    with pytest.raises(ConsoleError, match="one cluster"):
        guard_sources(args)


def test_the_guard_on_the_demo_uses_the_same_simulated_cluster_as_the_tui() -> None:
    guard = guard_sources(build_parser().parse_args(["guard", "--demo", "--seed", "3"]))
    tui = make_sources(build_parser().parse_args(["--demo", "--seed", "3"]))
    for backend, metrics in (guard, tui):
        assert isinstance(backend, DemoBackend) and isinstance(metrics, DemoMetrics)
    assert [r.ref for r in guard[0].list()] == [r.ref for r in tui[0].list()]
