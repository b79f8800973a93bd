"""Where gate sets come from: the config file, a gates file, and each namespace's ConfigMap.

* the config file (``--config F`` or the default one) may carry a ``gates:`` section
  in the format of console.guard.gates (line numbers in errors are the file's);
* ``--gates FILE`` names a file holding that document alone (the in-cluster guard
  mounts its ConfigMap there); it wins over the config file's section;
* the ConfigMap ``rollout-console-gates`` (key ``gates.yaml``) in a rollout's own
  namespace, read through the kube client, cached for CONFIGMAP_TTL_S. A malformed
  one raises GateConfigError for that namespace's rollouts only (their verdict is
  ERROR); one that is absent, or that the identity may not read (403), adds nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from console.guard.gates import (
    BUILTIN,
    CONFIGMAP_KEY,
    CONFIGMAP_NAME,
    GateConfig,
    GateConfigError,
    GateResolver,
    StaticResolver,
    parse_gate_config,
    parse_gate_sets,
)
from console.guard.verdicts import GateSet
from console.kube.provider import ResourceType
from console.model import ConsoleError, Rollout
from console.untrusted import one_line

log = logging.getLogger(__name__)

CONFIGMAPS = ResourceType("", "v1", "configmaps", "ConfigMap")
CONFIGMAP_TTL_S = 30.0
#: Namespaces whose gate ConfigMap is kept (with its last good parse). Each
#: evaluation keeps only the namespaces that have a canary; this bounds the
#: one-at-a-time path too, where namespaces that come and go (one per pull
#: request) would otherwise each leave an entry for good.
NAMESPACES_KEPT = 1_000

NamespaceGates = tuple[dict[str, GateSet], str | None]


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) else None


class ConfigMapGates:
    """`namespace_sets` for StaticResolver: one namespace's ConfigMap, cached."""

    def __init__(
        self,
        api: Any,
        ttl_s: float = CONFIGMAP_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api  # console.kube.client.KubeClient
        self.ttl_s = ttl_s
        self.clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, NamespaceGates | GateConfigError]] = {}
        self._good: dict[str, NamespaceGates] = {}
        self._said_forbidden = False
        self._no_list = False

    def __call__(self, namespace: str) -> NamespaceGates:
        now = self.clock()
        with self._lock:
            hit = self._cache.get(namespace)
        if hit is not None and now - hit[0] < self.ttl_s:
            value = hit[1]
        else:
            value = self._read(namespace)
            with self._lock:
                if namespace not in self._cache and len(self._cache) >= NAMESPACES_KEPT:
                    # Oldest read first (dicts keep insertion order).
                    oldest = next(iter(self._cache))
                    del self._cache[oldest]
                    self._good.pop(oldest, None)
                self._cache[namespace] = (now, value)
                if not isinstance(value, GateConfigError):
                    self._good[namespace] = value
        if isinstance(value, GateConfigError):
            raise value
        return value

    def prefetch(self, namespaces: set[str]) -> None:
        """Read every namespace's ConfigMap with one LIST (field selector on the name),
        so 500 rollouts in 500 namespaces cost one request, not 500. Falls back to one
        GET per namespace (in __call__) when the identity may not list."""
        now = self.clock()
        with self._lock:
            # Namespaces without a canary any more (deleted, promoted) are not kept.
            for ns in [ns for ns in self._cache if ns not in namespaces]:
                del self._cache[ns]
                self._good.pop(ns, None)
            stale = {
                ns
                for ns in namespaces
                if ns not in self._cache or now - self._cache[ns][0] >= self.ttl_s
            }
        if not stale or self._no_list:
            return
        where = next(iter(stale)) if len(stale) == 1 else None
        try:
            data = self.api.request(
                "GET",
                CONFIGMAPS.path(where),
                [("fieldSelector", f"metadata.name={CONFIGMAP_NAME}")],
            )
        except Exception as exc:
            if _status(exc) == 403:
                self._no_list = True
            else:
                log.warning("could not list the gate ConfigMaps: %s", one_line(exc))
            return
        found = {
            str((cm.get("metadata") or {}).get("namespace") or ""): cm
            for cm in (data or {}).get("items") or []
        }
        with self._lock:
            for ns in stale:
                cm = found.get(ns)
                value = self._parse(ns, cm) if cm is not None else ({}, None)
                self._cache[ns] = (now, value)
                if not isinstance(value, GateConfigError):
                    self._good[ns] = value

    def _read(self, namespace: str) -> NamespaceGates | GateConfigError:
        source = f"ConfigMap {namespace}/{CONFIGMAP_NAME}"
        try:
            cm = self.api.get(CONFIGMAPS, namespace, CONFIGMAP_NAME)
        except Exception as exc:
            status = _status(exc)
            if status == 404:
                return {}, None
            if status == 403:
                if not self._said_forbidden:
                    self._said_forbidden = True
                    log.warning("may not read %s: namespace gate sets are not used", source)
                return {}, None
            # A blip of the API server: keep what was read last.
            log.warning("could not read %s: %s", source, one_line(exc))
            return self._good.get(namespace, ({}, None))
        return self._parse(namespace, cm)

    def _parse(self, namespace: str, cm: Mapping[str, Any]) -> NamespaceGates | GateConfigError:
        source = f"ConfigMap {namespace}/{CONFIGMAP_NAME}"
        data = cm.get("data") or {}
        text = data.get(CONFIGMAP_KEY) if isinstance(data, Mapping) else None
        if not isinstance(text, str):
            return GateConfigError(source, None, f"data.{CONFIGMAP_KEY}", "is missing")
        try:
            return parse_gate_sets(text, source)
        except GateConfigError as exc:
            return exc


class ClusterResolver:
    """Per cluster: the file's sets plus that cluster's namespace ConfigMaps."""

    def __init__(self, by_cluster: Mapping[str, GateResolver], fallback: GateResolver) -> None:
        self.by_cluster = dict(by_cluster)
        self.fallback = fallback

    def for_rollout(self, rollout: Rollout) -> GateSet:
        return self.by_cluster.get(rollout.ref.cluster, self.fallback).for_rollout(rollout)

    def prefetch(self, rollouts: Sequence[Rollout]) -> None:
        """One LIST of the gate ConfigMaps per cluster before an evaluation."""
        wanted: dict[str, set[str]] = {}
        for r in rollouts:
            wanted.setdefault(r.ref.cluster, set()).add(r.ref.namespace)
        for cluster, namespaces in wanted.items():
            resolver = self.by_cluster.get(cluster)
            source = getattr(resolver, "namespace_sets", None)
            prefetch = getattr(source, "prefetch", None)
            if prefetch is not None:
                prefetch(namespaces)


def read_gate_file(gates_file: str | None, config_path: str | None) -> tuple[GateConfig, str]:
    """The file-level gate document and where it came from. Raises GateConfigError or
    ConsoleError (an unreadable file) with one sentence."""
    if gates_file:
        path = Path(gates_file).expanduser()
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConsoleError(
                f"Cannot read the gates file {path}: {exc.strerror or exc}."
            ) from None
        return parse_gate_config(text, f"gates file {path}"), f"gates file {path}"
    from console.metrics.config import default_config_path

    path = Path(config_path).expanduser() if config_path else default_config_path()
    if not path.is_file():
        return GateConfig(), ""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConsoleError(f"Cannot read the config file {path}: {exc.strerror or exc}.") from None
    source = f"config file {path}"
    return parse_gate_config(text, source, under="gates"), source


def make_resolver(
    backend: object, gates_file: str | None = None, config_path: str | None = None
) -> GateResolver:
    """The resolver for a backend: the file's sets, and for a kube backend each cluster's
    namespace ConfigMaps. Raises GateConfigError / ConsoleError for a bad file."""
    config, source = read_gate_file(gates_file, config_path)
    clusters = getattr(backend, "clusters", None) or {}
    base = StaticResolver.from_config(config, source=source or "the config file")
    if not clusters:
        return base
    return ClusterResolver(
        {
            name: StaticResolver.from_config(
                config, ConfigMapGates(c.client), source=source or "the config file"
            )
            for name, c in clusters.items()
        },
        base,
    )


def builtin_document() -> str:
    """The built-in gate set as a gate document (the manifests' ConfigMap)."""
    return dump_gate_sets({BUILTIN.name: BUILTIN}, BUILTIN.name)


def dump_gate_sets(sets: Mapping[str, GateSet], default: str | None = None) -> str:
    """Gate sets in the YAML format parse_gate_sets reads (round-trips)."""
    import yaml

    from console.guard.verdicts import GateKind

    def duration(seconds: float) -> str:
        return f"{seconds:g}s"

    out: dict[str, Any] = {}
    if default:
        out["default"] = default
    out_sets: dict[str, Any] = {}
    for name, gs in sets.items():
        gates: list[dict[str, Any]] = []
        for g in gs.gates:
            item: dict[str, Any] = {"name": g.name, "kind": g.kind.value}
            if g.metric is not None and g.kind is not GateKind.CUSTOM:
                item["metric"] = g.metric.value
            if g.kind in (GateKind.ABSOLUTE, GateKind.CUSTOM):
                item["op"] = g.comparison.value
                item["threshold"] = g.threshold
            if g.kind is GateKind.CUSTOM:
                item["query"] = g.query
            if g.kind is GateKind.RELATIVE:
                item["op"] = g.comparison.value
                item["ratio" if g.relative == "ratio" else "difference"] = g.threshold
            if g.kind is GateKind.COMPARED:
                item["allowed_increase"] = g.allowed_increase
                item["confidence"] = g.confidence
            else:
                item["aggregate"] = g.aggregate.value
            item["critical"] = g.critical
            item["debounce"] = f"{g.debounce_k}/{g.debounce_n}"
            item["window"] = duration(g.window_s)
            item["warmup"] = duration(g.warmup_s)
            item["min_points"] = g.min_points
            item["min_requests"] = g.min_requests
            gates.append(item)
        out_sets[name] = {"hold": duration(gs.hold_s), "gates": gates}
    out["sets"] = out_sets
    return yaml.safe_dump(out, sort_keys=False)
