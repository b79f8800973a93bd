"""Pick the data sources from the command line: the only place that knows them all."""

from __future__ import annotations

import argparse

from console.backend import MetricsSource, RolloutsBackend
from console.cli import wants_kube


def make_sources(args: argparse.Namespace) -> tuple[RolloutsBackend, MetricsSource]:
    if not wants_kube(args):
        from console.demo import make_demo

        return make_demo(seed=args.seed, speed=args.speed, read_only=args.read_only)

    from console.kube import make_kube_backend

    backend = make_kube_backend(
        kubeconfig=args.kubeconfig,
        contexts=list(args.context),
        namespace=args.namespace,
        all_namespaces=args.all_namespaces,
        read_only=args.read_only,
        request_timeout=getattr(args, "request_timeout", None),
    )
    from console.metrics import make_prometheus_source, prometheus_configured

    metrics: MetricsSource
    if prometheus_configured(args.prometheus, args.config):
        metrics = make_prometheus_source(url=args.prometheus, config_path=args.config)
    else:
        from console.metrics.none import NoMetrics

        metrics = NoMetrics("no --prometheus URL or config file given")
    return backend, metrics
