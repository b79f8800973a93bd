"""Defect 11: at --speed 30 the console reads AGE, countdowns and guard ages on the
demo's simulated clock, not on wall time."""

from __future__ import annotations

from console import cli, tui
from console.sources import app_clock, make_guard, make_sources


def built(*argv: str):  # type: ignore[no-untyped-def]
    args = cli.build_parser().parse_args(list(argv))
    backend, metrics = make_sources(args)
    wiring = make_guard(args, backend, metrics)
    return backend, tui.build_app(args, backend, metrics, wiring)


def test_the_demo_app_runs_on_the_simulated_clock() -> None:
    for argv in (("--demo", "--speed", "30", "--no-guard"), ("--demo", "--speed", "30")):
        backend, app = built(*argv)
        simulated = backend.cluster.clock.now  # type: ignore[attr-defined]
        assert app.clock == simulated, argv
        assert app.store.clock == simulated
        assert app.guard_now == simulated


def test_only_the_demo_has_its_own_clock() -> None:
    class Other:
        pass

    assert app_clock(Other()) is None  # type: ignore[arg-type]
