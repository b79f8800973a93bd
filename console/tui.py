"""Start the console in this terminal: the one module of the command line that
imports textual (through console.app).

console.cli imports it only inside main(), once the options ask for the TUI, so
`get`, the actions, `metrics`, `guard`, `verdict` and `serve` never load textual
(an import-linter contract and a test check both).
"""

from __future__ import annotations

import argparse
import sys
import time

from console.app import RolloutConsoleApp
from console.backend import MetricsSource, RolloutsBackend
from console.sources import GuardWiring, app_clock, make_guard, make_sources
from console.untrusted import clean_line


def run_tui(args: argparse.Namespace) -> int:
    """Build the sources and the guard the options name, run the app, return its exit code."""
    try:
        backend, metrics = make_sources(args)
    except Exception as exc:  # one sentence, never a traceback, for bad config
        print(f"rollout-console: {clean_line(str(exc))}", file=sys.stderr)
        return 2

    try:
        wiring = make_guard(args, backend, metrics)
    except Exception as exc:  # e.g. a malformed gate config: one sentence
        print(f"rollout-console: {exc}", file=sys.stderr)
        return 2

    app = build_app(args, backend, metrics, wiring)
    from console.memory import limit_arenas

    limit_arenas()  # before the app's worker threads start
    app.settle_heap = True
    try:
        app.run()
    finally:
        wiring.close()  # releases the Lease of a --guard console
    return app.return_code or 0


def build_app(
    args: argparse.Namespace,
    backend: RolloutsBackend,
    metrics: MetricsSource,
    wiring: GuardWiring,
) -> RolloutConsoleApp:
    return RolloutConsoleApp(
        backend,
        metrics,
        # The demo's simulated clock for everything (AGE, countdowns, guard ages).
        clock=app_clock(backend) or time.time,
        read_only=args.read_only,
        theme=args.theme or "rollout-dark",
        guard=wiring.guard,
        guard_every_s=wiring.every_s,
        guard_status=wiring.status,
        guard_statuses=wiring.statuses,
        guard_clock=wiring.clock,
        handle_signals=True,
    )
