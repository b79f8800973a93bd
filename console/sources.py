"""Pick the data sources from the command line: the only place that knows them all.

The TUI, `serve`, `get` and the actions, `metrics`, `guard` and `verdict` all build their
backend and metrics source here, so the demo/cluster choice and the kubeconfig, namespace,
timeout and read-only options mean the same everywhere. Nothing here imports the command
line (console.cli) or textual: both directions are import-linter contracts."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from console.backend import MetricsSource, RolloutsBackend
from console.guard.verdicts import GuardStatus
from console.model import ConsoleError

if TYPE_CHECKING:
    from console.guard.loop import Guard
    from console.metrics.prometheus import PrometheusSource


#: The fastest a scenario's guard evaluates, in real seconds (at a --speed of 1000).
MIN_GUARD_EVERY_S = 0.25


def wants_kube(args: argparse.Namespace) -> bool:
    """The TUI's source: the demo unless a cluster option is given (or --demo wins)."""
    if args.demo:
        return False
    return bool(
        args.kube or args.context or args.namespace or args.all_namespaces or args.kubeconfig
    )


def make_sources(args: argparse.Namespace) -> tuple[RolloutsBackend, MetricsSource]:
    """The TUI's (and `serve`'s) sources: the demo by default, see wants_kube."""
    if not wants_kube(args):
        return demo_sources(args, read_only=args.read_only)

    return make_backend(args, demo=False, read_only=args.read_only), cluster_metrics(args)


def guard_sources(args: argparse.Namespace) -> tuple[RolloutsBackend, MetricsSource]:
    """`guard` and `verdict`: one cluster (the demo with --demo) and Prometheus, which
    they cannot do without: no metrics is an error here, not an empty chart."""
    demo = bool(getattr(args, "demo", False))
    if demo:
        return demo_sources(args)
    if len(args.context or []) > 1:
        raise ConsoleError("The guard watches one cluster: pass at most one --context.")
    # The API server is the judge of what the guard may do; no SSAR round trips.
    backend = make_backend(args, demo=False, check_access=False)
    if not prometheus_wanted(args):
        raise ConsoleError(
            "The guard judges metrics: give --prometheus URL or a config file with a "
            "prometheus section."
        )
    return backend, prometheus_source(args)


def demo_sources(
    args: argparse.Namespace, *, read_only: bool = False
) -> tuple[RolloutsBackend, MetricsSource]:
    """The simulated cluster: a backend and a metrics source sharing it."""
    from console.demo import make_demo

    return make_demo(
        seed=args.seed,
        speed=args.speed,
        read_only=read_only,
        scenario=getattr(args, "scenario", None),
    )


def make_backend(
    args: argparse.Namespace,
    *,
    demo: bool,
    read_only: bool = False,
    check_access: bool = True,
    namespace: str | None = None,
) -> RolloutsBackend:
    """The rollouts backend the options name: the demo, or the clusters of the kubeconfig.

    The TUI, the headless commands and the guard all come here; each says whether its
    default is the demo (the TUI) or a cluster (`get`, the actions, `guard`, `metrics`).
    `namespace` narrows a cluster backend to one namespace whatever -n/-A say (`metrics`
    names its rollout as NS/NAME)."""
    if demo:
        backend, _ = demo_sources(args, read_only=read_only)
        return backend
    from console.kube import make_kube_backend
    from console.metrics.config import read_only_contexts

    return make_kube_backend(
        kubeconfig=getattr(args, "kubeconfig", None),
        contexts=list(getattr(args, "context", None) or []),
        namespace=namespace or getattr(args, "namespace", None),
        all_namespaces=namespace is None and bool(getattr(args, "all_namespaces", False)),
        read_only=read_only,
        check_access=check_access,
        request_timeout=getattr(args, "request_timeout", None),
        read_only_contexts=read_only_contexts(getattr(args, "config", None)),
    )


def prometheus_wanted(args: argparse.Namespace) -> bool:
    """Whether --prometheus, --config or the default config file asks for Prometheus."""
    from console.metrics import prometheus_configured

    return prometheus_configured(getattr(args, "prometheus", None), getattr(args, "config", None))


def prometheus_source(args: argparse.Namespace, *, strict: bool = False) -> PrometheusSource:
    """The Prometheus the options name; ConsoleError (one sentence) when it cannot be
    built. `strict`: a Prometheus that does not answer is an error too (`metrics`)."""
    from console.metrics import make_prometheus_source

    return make_prometheus_source(
        url=getattr(args, "prometheus", None),
        config_path=getattr(args, "config", None),
        strict=strict,
    )


def cluster_metrics(args: argparse.Namespace) -> MetricsSource:
    """Prometheus when configured, else a source that says why there are no metrics."""
    if prometheus_wanted(args):
        return prometheus_source(args)
    from console.metrics.none import NoMetrics

    return NoMetrics("no --prometheus URL or config file given")


def app_clock(backend: RolloutsBackend) -> Callable[[], float] | None:
    """The clock the console must read ages and countdowns on: the demo's simulated
    one (at --speed 30 a step's 60 s pass in 2 s, so ages must too); None = wall time."""
    from console.demo import DemoBackend

    if isinstance(backend, DemoBackend):
        return backend.cluster.clock.now
    return None


@dataclass
class GuardWiring:
    """What the TUI needs to run (or only watch) a guard."""

    guard: Guard | None = None
    every_s: float = 5.0
    status: Callable[[], GuardStatus] | None = None
    statuses: Callable[[], list[GuardStatus]] | None = None
    clock: Callable[[], float] | None = None  # the guard's clock, when not wall time
    stop: threading.Event = field(default_factory=threading.Event)
    #: The Lease elector of a --guard console: joined on exit so the release is sent.
    lease_thread: threading.Thread | None = None

    def close(self, timeout: float = 5.0) -> None:
        """Stop the guard; a --guard console gives its Lease up before the process ends
        (the elector is a daemon thread: unjoined, the release races the exit)."""
        self.stop.set()
        if self.lease_thread is not None:
            self.lease_thread.join(timeout)


def make_guard(
    args: argparse.Namespace, backend: RolloutsBackend, metrics: MetricsSource
) -> GuardWiring:
    """The demo runs its guard unless --no-guard; a cluster only with --guard, and then
    behind the same Lease as the in-cluster guard, so it never acts beside one.
    Read-only: the guard evaluates and shows verdicts, and never acts (dry-run)."""
    read_only = bool(args.read_only or backend.read_only)
    if not wants_kube(args):
        if args.no_guard:
            return GuardWiring()
        from console.demo import DemoBackend, DemoMetrics
        from console.demo.gates import demo_guard

        assert isinstance(backend, DemoBackend) and isinstance(metrics, DemoMetrics)
        clock = backend.cluster.clock.now
        guard = demo_guard(backend, metrics, clock, dry_run=read_only)
        if getattr(args, "scenario", None):
            # A presenter's story judges on simulated time, so it reaches its point at the
            # same simulated second at any --speed (every 0.5 s of real time at --speed 10).
            from console.demo.stories import GUARD_EVERY_S

            every_s = max(MIN_GUARD_EVERY_S, GUARD_EVERY_S / args.speed)
            return GuardWiring(guard=guard, clock=clock, every_s=every_s)
        return GuardWiring(guard=guard, clock=clock)

    from console.guard.lease import guard_statuses

    if not args.guard:
        # Someone else's guard: show whether it holds each cluster's Lease.
        lease_ns = getattr(args, "lease_namespace", None)
        return GuardWiring(statuses=lambda: guard_statuses(backend, lease_ns))

    from console.guard.lease import LeaseElector, default_namespace, env_identity
    from console.guard.loop import Guard
    from console.guard.sources import make_resolver

    # The config file's gates and each namespace's ConfigMap, as the in-cluster guard.
    resolver = make_resolver(backend, None, args.config)

    clusters = getattr(backend, "clusters", {})
    first = next(iter(clusters.values()))
    # A context the config file marks read-only: the guard only says what it would do.
    read_only = read_only or first.name in getattr(backend, "read_only_clusters", frozenset())
    lease_ns = getattr(args, "lease_namespace", None) or default_namespace()
    elector = LeaseElector(first.client, lease_ns, env_identity(), dry_run=read_only)
    wiring = GuardWiring()
    wiring.lease_thread = elector.start(wiring.stop)

    def status() -> GuardStatus:
        # Active means a guard holds the Lease: this console, or the one it follows.
        leader = elector.is_leader()
        holder = elector.identity if leader else elector.holder
        return GuardStatus(
            active=bool(holder), holder=holder, dry_run=read_only, cluster=first.name
        )

    # Its own metrics source: the guard's window and step differ from the charts', and
    # one shared range cache would refetch everything for each of them in turn.
    wiring.guard = Guard(
        backend, cluster_metrics(args), resolver, dry_run=read_only, is_leader=elector.is_leader
    )
    wiring.every_s = 30.0
    wiring.status = status
    return wiring
