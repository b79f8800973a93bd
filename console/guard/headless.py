"""`rollout-console guard` (the long-running loop) and `rollout-console verdict` (one answer).

    rollout-console guard [-A | -n NS] [--context C] [--kubeconfig F]
        [--prometheus URL | --config F] [--gates F] [--interval 30s] [--dry-run]
        [--lease-namespace NS] [--identity ID] [-v]
    rollout-console guard --print-manifests [-n NS] [--image IMG] [--prometheus URL]
    rollout-console verdict NS/NAME [--context C] [--prometheus URL] [-o table|json]
        [--watch] [--interval 30s]

Both also run on the demo cluster (`--demo`). No textual here.

guard: every interval, one list and one evaluation; one log line per decision
(sanitised), plus leadership changes and errors. SIGTERM or SIGINT: the current
evaluation ends, the Lease is released, exit 0.

verdict exit codes: 0 PASS, 1 FAIL, 2 INCONCLUSIVE, 3 NO_DATA, STALE, ERROR, or no
such rollout / no metrics (one sentence on stderr). `-o json` and every `--watch`
line carry "apiVersion": VERDICT_JSON_VERSION.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from console.backend import RolloutsBackend
from console.guard.loop import Guard, GuardReport
from console.guard.verdicts import (
    VERDICT_JSON_VERSION,
    Decision,
    GateResult,
    GateState,
    Verdict,
)
from console.model import ConsoleError, Rollout, RolloutRef
from console.timestamps import rfc3339
from console.untrusted import one_line

log = logging.getLogger("rollout-console.guard")

EXIT_CODES = {
    GateState.PASS: 0,
    GateState.FAIL: 1,
    GateState.INCONCLUSIVE: 2,
    GateState.NO_DATA: 3,
    GateState.STALE: 3,
    GateState.ERROR: 3,
}
EXIT_USAGE = 3  # the verdict's "error" code: nothing could be judged


def _err(message: str) -> None:
    print(f"rollout-console: {one_line(message, 2000)}", file=sys.stderr)


def parse_interval(text: str, what: str = "--interval") -> float:
    from console.metrics.config import parse_duration

    value = parse_duration(text, what)
    if value <= 0:
        raise ConsoleError(f"{what} must be longer than 0s.")
    return value


# --- output -------------------------------------------------------------------------------


def _num(value: float | None) -> float | None:
    import math

    return value if value is not None and math.isfinite(value) else None


def result_json(r: GateResult) -> dict[str, Any]:
    g = r.gate
    return {
        "name": g.name,
        "kind": g.kind.value,
        "metric": g.metric.value if g.metric is not None else None,
        "state": r.state.value,
        "symbol": r.state.symbol,
        "canary": _num(r.canary),
        "stable": _num(r.stable),
        "threshold": g.bound_text,
        "n": r.n,
        "needed": r.needed,
        "effect": _num(r.effect),
        "pValue": _num(r.p_value),
        "breaches": r.breaches,
        "debounce": f"{g.debounce_k}/{g.debounce_n}",
        "critical": g.critical,
        "pausesIn": r.pauses_in,
        "reason": r.reason,
        "query": r.query,
    }


def verdict_json(v: Verdict) -> dict[str, Any]:
    return {
        "apiVersion": VERDICT_JSON_VERSION,
        "kind": "Verdict",
        "cluster": v.ref.cluster,
        "namespace": v.ref.namespace,
        "name": v.ref.name,
        "state": v.state.value,
        "symbol": v.state.symbol,
        "gateSet": v.gate_set,
        "at": rfc3339(v.at) if v.at else None,
        "error": v.error,
        "note": getattr(v, "note", ""),
        "gates": [result_json(r) for r in v.results],
    }


def _fig(value: float | None) -> str:
    v = _num(value)
    return "-" if v is None else f"{v:.4g}"


def verdict_table(v: Verdict) -> str:
    head = f"{v.ref.short}: {v.state.value} ({v.state.symbol})"
    if v.gate_set:
        head += f", gate set {v.gate_set}"
    lines = [head]
    if v.error:
        lines.append(f"  {v.error}")
    note = getattr(v, "note", "")
    if note:
        lines.append(f"  {note}")
    if not v.results:
        return "\n".join(lines)
    rows = [["GATE", "STATE", "CANARY", "STABLE", "THRESHOLD", "N", "BREACHES", "REASON"]]
    for r in v.results:
        n = f"{r.n}/{r.needed}" if r.state is GateState.NO_DATA and r.needed else str(r.n)
        rows.append(
            [
                r.gate.name,
                r.state.value,
                _fig(r.canary),
                _fig(r.stable),
                r.gate.bound_text,
                n,
                f"{r.breaches}/{r.gate.debounce_n}",
                r.reason,
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [one_line(c, 200).ljust(w) for c, w in zip(row, widths, strict=True)]
        lines.append(("  " + "  ".join(cells)).rstrip())
    return "\n".join(lines)


def decision_line(d: Decision) -> str:
    return one_line(f"{rfc3339(d.at)} {d.kind.value} {d.text}", 4000)


# --- signals ----------------------------------------------------------------------------


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An Event set by SIGTERM/SIGINT while inside; the previous handlers come back after."""
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        stop.set()

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)


# --- guard ------------------------------------------------------------------------------


def run_guard(args: argparse.Namespace) -> int:
    if args.print_manifests:
        from console.guard.lease import DEFAULT_NAMESPACE
        from console.guard.manifests import render

        sys.stdout.write(
            render(
                namespace=args.namespace or DEFAULT_NAMESPACE,
                image=args.image,
                prometheus=args.prometheus,
                interval=args.interval,
            )
        )
        return 0
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    try:
        interval = parse_interval(args.interval)
        from console.sources import guard_sources

        backend, metrics = guard_sources(args)
        from console.guard.sources import make_resolver

        resolver = make_resolver(backend, args.gates, args.config)
    except ConsoleError as exc:
        _err(str(exc))
        return 2
    out = sys.stdout
    with stop_on_signals() as stop:
        elector = _elector(args, backend, out)
        is_leader: Callable[[], bool] = elector.is_leader if elector else (lambda: True)
        guard = Guard(backend, metrics, resolver, dry_run=args.dry_run, is_leader=is_leader)
        thread = elector.start(stop, on_change=_say_leader(out, elector)) if elector else None
        mode = " (dry run: nothing is written)" if args.dry_run else ""
        _say(out, f"guard started on {backend.description}, every {args.interval}{mode}")
        try:
            _loop(guard, backend, interval, stop, out, elector, verbose=args.verbose)
        finally:
            stop.set()
            if thread is not None:
                thread.join(timeout=10)  # releases the Lease
            close = getattr(metrics, "close", None)
            if close is not None:
                close()
        _say(out, "guard stopped" + (", lease released" if elector else ""))
    return 0


def _say(out: TextIO, text: str) -> None:
    now = rfc3339()
    out.write(one_line(f"{now} {text}", 4000) + "\n")
    out.flush()


def _say_leader(out: TextIO, elector: Any) -> Callable[[bool], None]:
    def said(leader: bool) -> None:
        if leader:
            _say(out, f"leader: {elector.identity} holds lease {elector.namespace}/{elector.name}")
        else:
            _say(out, f"follower: {elector.identity} does not hold the lease; judging only")

    return said


def _elector(args: argparse.Namespace, backend: RolloutsBackend, out: TextIO) -> Any:
    clusters = getattr(backend, "clusters", None)
    if not clusters:
        return None  # the demo: nobody else to agree with
    from console.guard.lease import LeaseElector, default_namespace, env_identity

    c = next(iter(clusters.values()))
    return LeaseElector(
        c.client,
        args.lease_namespace or default_namespace(),
        args.identity or env_identity(),
        dry_run=args.dry_run,
    )


def _loop(
    guard: Guard,
    backend: RolloutsBackend,
    interval: float,
    stop: threading.Event,
    out: TextIO,
    elector: Any,
    *,
    verbose: bool,
) -> None:
    while not stop.is_set():
        began = time.monotonic()
        try:
            rollouts = backend.list()
        except ConsoleError as exc:
            _say(out, f"error: {exc}")
            stop.wait(max(0.0, interval - (time.monotonic() - began)))
            continue
        report = guard.evaluate(rollouts)
        if elector is not None:
            elector.note_evaluation(report.at)
        for d in report.decisions:
            out.write(decision_line(d) + "\n")
        if verbose:
            _say(out, _summary(report, time.monotonic() - began))
        out.flush()
        stop.wait(max(0.0, interval - (time.monotonic() - began)))


def _summary(report: GuardReport, seconds: float) -> str:
    counts: dict[str, int] = {}
    for v in report.verdicts.values():
        counts[v.state.value] = counts.get(v.state.value, 0) + 1
    states = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no canaries"
    n = len(report.verdicts)
    return f"evaluated {n} rollouts: {states} ({report.queries} queries, {seconds:.2f}s)"


# --- verdict ----------------------------------------------------------------------------


def run_verdict(args: argparse.Namespace) -> int:
    from console.metrics.headless import parse_target

    try:
        namespace, name = parse_target(args.target, args.namespace)
        interval = parse_interval(args.interval)
        from console.sources import guard_sources

        backend, metrics = guard_sources(args)
        from console.guard.sources import make_resolver

        resolver = make_resolver(backend, args.gates, args.config)
    except ConsoleError as exc:
        _err(str(exc))
        return EXIT_USAGE
    guard = Guard(backend, metrics, resolver, dry_run=True, is_leader=lambda: False)
    code = EXIT_USAGE
    with stop_on_signals() as stop:
        while True:
            began = time.monotonic()
            try:
                rollout = _find(backend, namespace, name)
            except ConsoleError as exc:
                _err(str(exc))
                return EXIT_USAGE
            verdict = _judge(guard, rollout)
            code = EXIT_CODES[verdict.state]
            try:
                if args.watch:
                    sys.stdout.write(
                        json.dumps(verdict_json(verdict), separators=(",", ":")) + "\n"
                    )
                elif args.output == "json":
                    sys.stdout.write(json.dumps(verdict_json(verdict), indent=2) + "\n")
                else:
                    sys.stdout.write(verdict_table(verdict) + "\n")
                sys.stdout.flush()
            except BrokenPipeError:
                return code
            if not args.watch or stop.wait(max(0.0, interval - (time.monotonic() - began))):
                break
    return code


def _find(backend: RolloutsBackend, namespace: str, name: str) -> Rollout:
    clusters = getattr(backend, "clusters", None)
    if clusters:
        cluster = next(iter(clusters))
        found = getattr(backend, "rollout")(RolloutRef(cluster, namespace, name))  # noqa: B009
        if found is None:
            raise ConsoleError(f"No rollout {namespace}/{name} on cluster {cluster!r}.")
        return found  # type: ignore[no-any-return]
    for r in backend.list():
        if r.ref.namespace == namespace and r.ref.name == name:
            return r
    raise ConsoleError(f"No rollout {namespace}/{name}.")


def _judge(guard: Guard, rollout: Rollout) -> Verdict:
    report = guard.evaluate([rollout])
    verdict = report.verdicts.get(rollout.ref.key)
    if verdict is None:  # no canary: nothing to judge, which passes
        return Verdict(rollout.ref, GateState.PASS, at=report.at, note="no canary")
    return verdict
