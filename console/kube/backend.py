"""KubeBackend: the RolloutsBackend for real clusters.

list(): one parallel list of every provider's resource and related resources
per cluster, then the providers turn dicts into Rollouts.

watch(): one thread per (cluster, resource type) runs list-then-watch with
resourceVersion, bookmarks, relist after 410 Gone and exponential backoff
after a disconnect. The threads feed one queue; the generator applies the
events to an in-memory store indexed by namespace, owner and UID
(console/kube/index.py), rebuilds only the rollouts the events touched (a Pod
finds its Rollout through its ReplicaSet), at most once per COALESCE_S, and
yields Upserted/Removed for those whose model changed (plus Snapshot after a
relist, ConnectionState while a cluster is unreachable). There is no polling loop per object.

act(): GET the object fresh, check RBAC and provider limits, let the provider
patch, then record a Kubernetes Event and an audit line. Failures become one
sentence (ActionError).
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from console import audit
from console.backend import check_available, check_seen, refuse_if_read_only
from console.kube.access import AccessChecker
from console.kube.client import DEFAULT_TIMEOUT, KubeClient
from console.kube.config import ClusterConfig
from console.kube.errors import action_error, describe_error, is_unavailable
from console.kube.events import EVENTS, EventCreator, reason_for
from console.kube.index import StoreIndex
from console.kube.inspect import KubeInspection
from console.kube.provider import (
    Obj,
    Provider,
    Related,
    ResourceType,
    created_at,
    dig,
    load_providers,
    meta,
)
from console.kube.retry import Backoff, jittered
from console.model import (
    Action,
    ActionError,
    ActionResult,
    ActionUnavailable,
    ConnectionState,
    ConsoleError,
    Notices,
    Removed,
    Rollout,
    RolloutRef,
    Seen,
    Snapshot,
    StreamEvent,
    UnavailableError,
    Upserted,
)
from console.untrusted import clean_line, clean_result, clean_rollout, clip

log = logging.getLogger(__name__)

WATCH_TIMEOUT_S = 240  # server-side watch timeout; the watch is simply reopened
BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 30.0
OPTIONAL_RETRY_S = 60.0  # a missing CRD is looked for again this often
FIRST_SNAPSHOT_WAIT_S = 15.0
#: Liveness: a watch on a hung server (SIGSTOP, a dead node behind a live load
#: balancer) reads nothing and errs nothing until its long read timeout. A ping
#: this often, with this timeout, marks the data stale within about 10 s.
HEARTBEAT_S = 5.0
HEARTBEAT_TIMEOUT_S = 5.0
#: The liveness probe's entry in `_Cluster.down`, beside the watched kinds.
LIVENESS = ResourceType("", "v1", "version", "Version")
#: Changes are rebuilt at most this often per rollout: the app redraws every 0.5 s
#: (console/app.py REDRAW_S), so a burst of events costs one rebuild, not one each.
COALESCE_S = 0.5
#: The first events after a quiet spell wait this long for the rest of their burst
#: (the controller writes a Rollout, its ReplicaSet and its Pod together).
BURST_S = 0.02


#: Annotations no provider reads that can be larger than the rest of the object.
_HEAVY_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)


#: Pod fields no reader of the store uses (providers, the tree, log targets read
#: metadata, containers' names/images/ports, nodeName and status): the service-account
#: volume and its mounts, tolerations and scheduling defaults are most of a Pod's size.
_POD_SPEC_UNREAD = (
    "volumes",
    "tolerations",
    "securityContext",
    "dnsPolicy",
    "schedulerName",
    "serviceAccount",
    "serviceAccountName",
    "enableServiceLinks",
    "preemptionPolicy",
    "priority",
    "terminationGracePeriodSeconds",
)
_CONTAINER_UNREAD = (
    "volumeMounts",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "imagePullPolicy",
)
#: A ReplicaSet's or Deployment's pod template as stored: providers read its labels
#: and its containers' names and images (the version and what it runs); undo and YAML
#: read the object fresh. Under churn ReplicaSets are most of the store.
_TEMPLATE_SPEC_KEPT = ("containers", "initContainers")
_TEMPLATE_CONTAINER_KEPT = ("name", "image", "ports")


def _slim_template(obj: Obj) -> None:
    template = dig(obj, "spec", "template")
    tspec = template.get("spec") if isinstance(template, dict) else None
    if not isinstance(tspec, dict):
        return
    for key in [k for k in tspec if k not in _TEMPLATE_SPEC_KEPT]:
        del tspec[key]
    for group in _TEMPLATE_SPEC_KEPT:
        containers = tspec.get(group)
        if isinstance(containers, list):
            tspec[group] = [
                {k: c[k] for k in _TEMPLATE_CONTAINER_KEPT if k in c} if isinstance(c, dict) else c
                for c in containers
            ]


def slim(obj: Obj, rt: ResourceType | None = None) -> Obj:
    """The object as stored: without managedFields and the last-applied copy, which
    no provider reads and which are most of a small object's size (thousands of
    stored objects stay bounded); a Pod (`rt`) also without the spec fields no
    reader of the store uses, a ReplicaSet or Deployment with only the part of its
    pod template that providers read. YAML, describe and undo read the object fresh."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        return obj
    metadata.pop("managedFields", None)
    annotations = metadata.get("annotations")
    if isinstance(annotations, dict):
        for key in _HEAVY_ANNOTATIONS:
            annotations.pop(key, None)
    spec = obj.get("spec")
    if rt is not None and rt.group == "apps" and rt.kind in ("ReplicaSet", "Deployment"):
        _slim_template(obj)
    if rt is not None and rt.kind == "Pod" and rt.is_core and isinstance(spec, dict):
        for key in _POD_SPEC_UNREAD:
            spec.pop(key, None)
        for group in ("containers", "initContainers"):
            for container in spec.get(group) or ():
                if isinstance(container, dict):
                    for key in _CONTAINER_UNREAD:
                        container.pop(key, None)
    return obj


@dataclass
class _Cluster:
    config: ClusterConfig
    client: KubeClient
    scope: str | None  # namespace, or None for all namespaces
    access: AccessChecker
    # Raw objects by resource type, then (namespace, name).
    store: dict[ResourceType, dict[tuple[str, str], Obj]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    # Rollouts currently shown, by (namespace, name, provider kind).
    shown: dict[tuple[str, str, str], Rollout] = field(default_factory=dict)
    down: dict[ResourceType, tuple[float, str]] = field(default_factory=dict)
    missing: set[ResourceType] = field(default_factory=set)
    # Kinds the identity may not list (403), with the sentence that says so.
    forbidden: dict[ResourceType, str] = field(default_factory=dict)
    # The notices last yielded, so a change is yielded once.
    notices: tuple[str, ...] = ()
    # The newest sentence about the outage in `down` (the banner shows the current one).
    down_message: str = ""
    # Namespace, owner and UID indexes over `store` (every write goes through it).
    index: StoreIndex = field(init=False)

    def __post_init__(self) -> None:
        self.index = StoreIndex(self.store)

    @property
    def name(self) -> str:
        return self.config.name


@dataclass
class _Dirty:
    """What a batch of events touched, per provider (by position in `providers`):
    single objects, and whole namespaces for providers that match by selector."""

    keys: set[tuple[int, str, str]] = field(default_factory=set)
    namespaces: set[tuple[int, str]] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.keys or self.namespaces)


def _same_but_version(old: Obj, new: Obj) -> bool:
    """The object is unchanged but for its resourceVersion (a re-sent or touched object)."""
    if old.keys() != new.keys():
        return False
    for k, v in new.items():
        if k != "metadata":
            if old[k] != v:
                return False
            continue
        om, nm = old[k], v
        if not isinstance(om, Mapping) or not isinstance(nm, Mapping) or om.keys() != nm.keys():
            return False
        if any(mk != "resourceVersion" and om[mk] != mv for mk, mv in nm.items()):
            return False
    return True


class KubeBackend(KubeInspection):  # tree, YAML, describe, logs: console/kube/inspect.py
    def __init__(
        self,
        clusters: Sequence[ClusterConfig],
        *,
        namespace: str | None = None,
        all_namespaces: bool = False,
        read_only: bool = False,
        providers: Sequence[Provider] | None = None,
        check_access: bool = True,
        request_timeout: float | None = None,
        read_only_contexts: frozenset[str] = frozenset(),
    ) -> None:
        if not clusters:
            raise ConsoleError("No cluster to connect to.")
        #: Contexts marked read-only in the config file (k9s' per-context read-only).
        self.read_only_clusters = frozenset(
            c.name for c in clusters if c.name in read_only_contexts
        )
        # Every context read-only is the whole console read-only.
        self.read_only = read_only or len(self.read_only_clusters) == len(clusters)
        self.check_access = check_access
        self.providers: list[Provider] = list(providers) if providers else load_providers()
        self.clusters: dict[str, _Cluster] = {}
        for cfg in clusters:
            scope = None if all_namespaces else (namespace or cfg.namespace)
            client = KubeClient(
                cfg.name, cfg.connection, cfg.user, request_timeout or DEFAULT_TIMEOUT
            )
            self.clusters[cfg.name] = _Cluster(
                cfg, client, scope, AccessChecker(client, cfg.name, cfg.user)
            )
        self.description = "kube: " + ", ".join(self.clusters)
        #: Per-cluster failures of the last list(), one sentence each (headless prints them).
        self.last_errors: list[str] = []
        #: Kinds the identity may not list (403), one sentence each: shown, not fatal.
        self.notes: list[str] = []
        self._types: list[ResourceType] = []
        for p in self.providers:
            for rt in (p.resource, *p.related):
                if rt not in self._types:
                    self._types.append(rt)

    # --- computing rollouts -----------------------------------------------------------

    def _owned(self, provider: Provider) -> tuple[ResourceType, ...]:
        """The provider's related kinds that it matches by owner reference only (Argo:
        ReplicaSets, Pods, AnalysisRuns); the others it matches by namespace/selector."""
        owned = getattr(provider, "owned", ())
        return tuple(rt for rt in provider.related if rt in owned)

    def _by_owner(self, provider: Provider) -> bool:
        return set(self._owned(provider)) == set(provider.related)

    def _build(
        self, c: _Cluster, provider: Provider, objects: Sequence[Obj], related: Related
    ) -> builtins.list[Rollout]:
        try:
            rollouts = self._to_rollouts(provider, objects, related, c.name)
        except Exception as exc:  # a provider bug must not blank the screen
            log.exception("provider %s failed", provider.kind)
            self.last_errors.append(
                f"{provider.kind} provider failed on {c.name}: {clip(clean_line(str(exc)))}"
            )
            return []
        return [self._with_access(c, provider, r) for r in rollouts]

    def _build_each(
        self, c: _Cluster, provider: Provider, objects: Sequence[Obj]
    ) -> builtins.list[Rollout]:
        """One build per object with only what it owns: cost per object, not per namespace."""
        out: builtins.list[Rollout] = []
        types = self._owned(provider)
        for obj in objects:
            related = c.index.descendants(obj, provider.resource.kind, types)
            out.extend(self._build(c, provider, [obj], related))
        return out

    def _compute(
        self, c: _Cluster, namespaces: set[str] | None
    ) -> dict[tuple[str, str, str], Rollout]:
        """Rollouts of `namespaces` (None = all) from the cluster's store."""
        dirty = _Dirty()
        for pi, provider in enumerate(self.providers):
            for ns in c.index.namespaces(provider.resource) if namespaces is None else namespaces:
                dirty.namespaces.add((pi, ns))
        return self._compute_dirty(c, dirty)

    def _compute_dirty(self, c: _Cluster, dirty: _Dirty) -> dict[tuple[str, str, str], Rollout]:
        """The rollouts `dirty` names, built from the indexes only."""
        out: dict[tuple[str, str, str], Rollout] = {}
        for pi, provider in enumerate(self.providers):
            namespaces = {ns for i, ns in dirty.namespaces if i == pi}
            keys = {(ns, name) for i, ns, name in dirty.keys if i == pi and ns not in namespaces}
            bucket = c.store.get(provider.resource, {})
            if not bucket:
                continue
            rollouts: builtins.list[Rollout]
            if self._by_owner(provider):
                objects = [
                    o for ns in namespaces for o in c.index.in_namespace(provider.resource, ns)
                ]
                objects += [bucket[k] for k in keys if k in bucket]
                rollouts = self._build_each(c, provider, objects)
            else:
                # Matched by selector within a namespace: the namespace is the unit.
                namespaces |= {ns for ns, _ in keys}
                objects = [
                    o for ns in namespaces for o in c.index.in_namespace(provider.resource, ns)
                ]
                if not objects:
                    continue
                whole = getattr(provider, "cluster_wide", ())
                related = {
                    rt: list(c.store.get(rt, {}).values())
                    if rt in whole
                    else [o for ns in namespaces for o in c.index.in_namespace(rt, ns)]
                    for rt in provider.related
                }
                rollouts = self._build(c, provider, objects, related)
            for r in rollouts:
                out[(r.ref.namespace, r.ref.name, str(r.provider))] = r
        return out

    def _mark(
        self, c: _Cluster, rt: ResourceType, new: Obj | None, old: Obj | None, dirty: _Dirty
    ) -> None:
        """Which rollouts an event on `rt` touches: O(1) through the owner index."""
        objs = [o for o in (new, old) if o is not None]
        for pi, provider in enumerate(self.providers):
            if rt == provider.resource:
                for o in objs:
                    dirty.keys.add((pi, *meta(o)))
            if rt not in provider.related:
                continue
            owned = self._owned(provider)
            if rt in owned:
                for o in objs:
                    for ns, name in c.index.owners(o, provider.resource, owned):
                        dirty.keys.add((pi, ns, name))
            else:
                for o in objs:
                    dirty.namespaces.add((pi, meta(o)[0]))

    @staticmethod
    def _to_rollouts(
        provider: Provider, objects: Sequence[Obj], related: Related, cluster: str
    ) -> builtins.list[Rollout]:
        """The provider's Rollouts with every text made safe to show.

        The one place raw objects become the model: names, messages, images,
        annotations echoed in warnings all come through here, so nothing from
        the cluster reaches the screen, a log, the audit log or headless output
        with a control sequence or a bidi override. (Markup is left as typed: the
        screens show cluster text literally.)
        """
        return [clean_rollout(r) for r in provider.to_rollouts(objects, related, cluster)]

    def _with_access(self, c: _Cluster, provider: Provider, r: Rollout) -> Rollout:
        have = {a for a, _ in r.unavailable}
        extra: list[tuple[Action, str]] = [
            (a, f"not supported for {provider.kind} objects")
            for a in Action
            if a not in provider.actions and a not in have
        ]
        if self.check_access:
            extra += [
                (a, why)
                for a, why in c.access.unavailable(provider, r.ref.namespace)
                if a not in have
            ]
        if not extra:
            return r
        return replace(r, unavailable=r.unavailable + tuple(extra))

    def _prefetch_access(self, c: _Cluster) -> None:
        if not self.check_access:
            return
        namespaces = {ns for p in self.providers for (ns, _) in c.store.get(p.resource, {})}
        c.access.prefetch(self.providers, namespaces)

    # --- list ---------------------------------------------------------------------------

    def _list_cluster(self, c: _Cluster, pool: ThreadPoolExecutor) -> None:
        futures = {rt: pool.submit(c.client.list_with_version, rt, c.scope) for rt in self._types}
        forbidden: dict[ResourceType, str] = {}
        missing: set[ResourceType] = set()
        for rt, fut in futures.items():
            try:
                items, _ = fut.result()
            except ConsoleError:
                raise  # already its sentence: the exec credential plugin's, a config error
            except Exception as exc:
                status = getattr(exc, "status", None)
                if status == 404 and rt.optional:
                    c.index.replace(rt, ())
                    missing.add(rt)
                    continue
                text = describe_error(
                    exc, what=f"list {rt.key}", cluster=c.name, user=c.config.user
                )
                if status == 403:
                    # A viewer without rights on one kind (say Flagger canaries) still
                    # sees the others: that kind is shown as empty, with a note.
                    c.index.replace(rt, ())
                    forbidden[rt] = text
                    continue
                raise (UnavailableError if is_unavailable(exc) else ConsoleError)(text) from None
            c.index.replace(rt, (slim(o, rt) for o in items))
        c.forbidden = forbidden
        self.notes.extend(self._notices(c, forbidden, missing))
        if (
            forbidden
            and all(p.resource in forbidden or p.resource.optional for p in self.providers)
            and any(p.resource in forbidden and not p.resource.optional for p in self.providers)
        ):
            # The required kinds (Argo Rollouts) could not be listed: an error, not a note.
            raise ConsoleError(next(iter(forbidden.values())))

    def _notices(
        self, c: _Cluster, forbidden: dict[ResourceType, str], missing: set[ResourceType]
    ) -> tuple[str, ...]:
        """One sentence per standing problem of a cluster, in a stable order."""
        # Two providers may read one kind (pods, with different selectors): name it once.
        denied = list({rt.key: rt for rt in self._types if rt in forbidden}.values())
        out: list[str] = []
        if len(denied) == 1:
            out.append(forbidden[denied[0]])  # with the server's own words
        elif denied:
            # A narrow Role (say Argo only) forbids several kinds: one sentence, not six.
            who = f"user {c.config.user!r}" if c.config.user else "you"
            out.append(
                f"Forbidden: {who} may not list {', '.join(rt.key for rt in denied)} "
                f"on cluster {c.name!r}; those are shown as none."
            )
        if all(p.resource in missing for p in self.providers):
            kinds = ", ".join(sorted({p.resource.kind for p in self.providers}))
            out.append(
                f"Cluster {c.name!r} has none of the canary resources the console reads "
                f"({kinds}): their CRDs are not installed."
            )
        return tuple(out)

    def list(self) -> list[Rollout]:
        self.last_errors = []
        self.notes = []
        out: list[Rollout] = []
        errors: list[str] = []
        failures: list[ConsoleError] = []
        # A worker per cluster (it waits on its kinds) plus one per kind: on a hung
        # server every request times out at once instead of in rounds.
        workers = len(self.clusters) * (len(self._types) + 1)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            cluster_futs = {
                name: pool.submit(self._list_cluster, c, pool) for name, c in self.clusters.items()
            }
            for name, fut in cluster_futs.items():
                try:
                    fut.result()
                except ConsoleError as exc:
                    errors.append(str(exc))
                    failures.append(exc)
                    continue
                c = self.clusters[name]
                self._prefetch_access(c)
                c.shown = self._compute(c, None)
                out.extend(c.shown.values())
        self.last_errors.extend(errors)
        if errors and len(errors) == len(self.clusters):
            if len(failures) == 1:
                raise failures[0]
            raise ConsoleError(" ".join(errors))
        return sorted(out, key=lambda r: (r.ref.cluster, r.ref.namespace, r.ref.name))

    # --- watch --------------------------------------------------------------------------

    def watch(self, stop: threading.Event) -> Iterator[StreamEvent]:
        q: queue.Queue[tuple[Any, ...]] = queue.Queue()
        watchers: list[Any] = []
        threads = [
            threading.Thread(
                target=self._watch_loop,
                args=(c, rt, q, stop, watchers),
                name=f"watch-{c.name}-{rt.key}",
                daemon=True,
            )
            for c in self.clusters.values()
            for rt in self._types
        ]
        threads += [
            threading.Thread(
                target=self._heartbeat_loop,
                args=(c, q, stop),
                name=f"heartbeat-{c.name}",
                daemon=True,
            )
            for c in self.clusters.values()
        ]
        for t in threads:
            t.start()
        try:
            yield from self._consume(q, stop, len(threads))
        finally:
            stop.set()
            for w in list(watchers):
                # stop() shuts the socket down: blocked reads return at once.
                with contextlib.suppress(Exception):
                    w.stop()

    def _consume(
        self, q: queue.Queue[tuple[Any, ...]], stop: threading.Event, n_threads: int
    ) -> Iterator[StreamEvent]:
        # First snapshot: wait until every (cluster, type) listed once or failed.
        pending = {(c.name, rt) for c in self.clusters.values() for rt in self._types}
        deadline = time.monotonic() + FIRST_SNAPSHOT_WAIT_S
        early: list[tuple[Any, ...]] = []
        while pending and not stop.is_set() and time.monotonic() < deadline:
            try:
                item = q.get(timeout=0.1)
            except queue.Empty:
                continue
            early.append(item)
            if item[0] in ("relist", "down", "missing"):
                pending.discard((item[1], item[2]))
        states: list[StreamEvent] = []
        for item in early:
            self._apply(item, dirty=defaultdict(_Dirty), relisted=set(), states=states)
        snapshot: list[Rollout] = []
        for c in self.clusters.values():
            self._prefetch_access(c)
            c.shown = self._compute(c, None)
            snapshot.extend(c.shown.values())
        yield Snapshot(tuple(sorted(snapshot, key=lambda r: r.ref.key)))
        yield from states
        yield from self._changed_notices()

        todo: dict[str, _Dirty] = defaultdict(_Dirty)
        last_flush = 0.0
        while not stop.is_set():
            waiting = any(todo.values())
            wait = max(0.0, last_flush + COALESCE_S - time.monotonic()) if waiting else 0.25
            batch: builtins.list[tuple[Any, ...]] = []
            with contextlib.suppress(queue.Empty):
                batch.append(q.get(timeout=wait) if wait > 0 else q.get_nowait())
            if batch and not waiting and time.monotonic() >= last_flush + COALESCE_S:
                # About to rebuild at once: let the rest of this burst arrive first.
                time.sleep(BURST_S)
            while True:
                try:
                    batch.append(q.get_nowait())
                except queue.Empty:
                    break
            relisted: set[str] = set()
            states = []
            for item in batch:
                self._apply(item, todo, relisted, states)
            yield from states
            for name in relisted:
                c = self.clusters[name]
                todo.pop(name, None)
                self._prefetch_access(c)
                c.shown = self._compute(c, None)
                yield Snapshot(
                    tuple(sorted(c.shown.values(), key=lambda r: r.ref.key)), cluster=name
                )
            if any(todo.values()) and time.monotonic() >= last_flush + COALESCE_S:
                last_flush = time.monotonic()
                for name, dirty in list(todo.items()):
                    del todo[name]
                    yield from self._recompute(self.clusters[name], dirty)
            yield from self._changed_notices()

    def _changed_notices(self) -> Iterator[Notices]:
        for c in self.clusters.values():
            notices = self._notices(c, c.forbidden, c.missing)
            if notices != c.notices:
                c.notices = notices
                yield Notices(notices, cluster=c.name)

    def _recompute(self, c: _Cluster, dirty: _Dirty) -> Iterator[StreamEvent]:
        fresh = self._compute_dirty(c, dirty)
        # What may have gone: the touched objects, and every object of a touched
        # namespace (a deleted one was touched itself). Never a walk of all shown.
        maybe_gone: set[tuple[str, str, str]] = set()
        for pi, ns, name in dirty.keys:
            maybe_gone.add((ns, name, str(self.providers[pi].kind)))
        for pi, ns in dirty.namespaces:
            provider = self.providers[pi]
            kind = str(provider.kind)
            for obj in c.index.in_namespace(provider.resource, ns):
                maybe_gone.add((ns, meta(obj)[1], kind))
        for key in maybe_gone:
            old = c.shown.get(key)
            if old is not None and key not in fresh:
                del c.shown[key]
                yield Removed(old.ref)
        for key, new in fresh.items():
            shown = c.shown.get(key)
            if shown != new:
                c.shown[key] = new
                yield Upserted(new)
            elif shown is not None and shown.extra != new.extra:
                # `extra` is not part of equality (nothing on screen reads it): keep
                # the newest for headless readers, without a redraw.
                c.shown[key] = new

    def _apply(
        self,
        item: tuple[Any, ...],
        dirty: dict[str, _Dirty],
        relisted: set[str],
        states: builtins.list[StreamEvent],
    ) -> None:
        kind, name, rt = item[0], item[1], item[2]
        c = self.clusters[name]
        was_down = bool(c.down)
        if kind == "relist":
            c.index.replace(rt, (slim(o, rt) for o in item[3]))
            c.down.pop(rt, None)
            c.missing.discard(rt)
            c.forbidden.pop(rt, None)
            relisted.add(name)
        elif kind == "missing":
            # Empty either way; a 403 carries the sentence, a 404 (no CRD) does not.
            forbidden = item[3]
            if c.store.get(rt):
                relisted.add(name)  # what was shown of this kind is gone
            c.index.replace(rt, ())
            c.down.pop(rt, None)
            if forbidden:
                c.forbidden[rt] = forbidden
                c.missing.discard(rt)
            else:
                c.forbidden.pop(rt, None)
                c.missing.add(rt)
        elif kind == "event":
            etype, obj = item[3], item[4]
            if etype == "DELETED":
                old = c.index.delete(rt, meta(obj))
                self._mark(c, rt, None, old or obj, dirty[name])
            else:
                new = slim(obj, rt)
                old = c.index.put(rt, new)
                if old is None or not _same_but_version(old, new):
                    self._mark(c, rt, new, old, dirty[name])
        elif kind == "down":
            # The age counts from the last good data when the sender knows it, and
            # from the start of the outage; the sentence is the newest one.
            since = item[4] if len(item) > 4 else time.time()
            first = c.down.get(rt)
            c.down[rt] = (min(since, first[0]) if first else since, item[3])
            c.down_message = item[3]
        elif kind == "up":
            c.down.pop(rt, None)
        if c.down and (not was_down or kind == "down"):
            since = min(s for s, _ in c.down.values())
            message = c.down_message or min(c.down.values())[1]
            states.append(ConnectionState(False, message, since, cluster=name))
        elif was_down and not c.down:
            states.append(ConnectionState(True, "reconnected", time.time(), cluster=name))

    def _watch_loop(
        self,
        c: _Cluster,
        rt: ResourceType,
        q: queue.Queue[tuple[Any, ...]],
        stop: threading.Event,
        watchers: builtins.list[Any],
    ) -> None:
        backoff = Backoff(BACKOFF_START_S, BACKOFF_MAX_S)
        rv = ""
        while not stop.is_set():
            try:
                if not rv:
                    items, rv = c.client.list_with_version(rt, c.scope)
                    q.put(("relist", c.name, rt, items))
                for event in c.client.watch_events(
                    rt, c.scope, rv, WATCH_TIMEOUT_S, on_open=watchers.append
                ):
                    if stop.is_set():
                        return
                    backoff.reset()
                    etype = event.get("type")
                    obj = event.get("object") or {}
                    new_rv = (obj.get("metadata") or {}).get("resourceVersion")
                    if new_rv:
                        rv = str(new_rv)
                    if etype in ("ADDED", "MODIFIED", "DELETED"):
                        q.put(("event", c.name, rt, etype, obj))
                # The server's timeout, or silence past the read timeout: just rewatch.
                backoff.reset()
            except Exception as exc:
                if stop.is_set():
                    return
                status = getattr(exc, "status", None)
                if status == 410:
                    rv = ""  # expired: relist, then watch from the new version
                    continue
                if (status == 404 and rt.optional) or status == 403:
                    # A missing CRD or a kind this identity may not list: empty, and
                    # looked at again later (a CRD or a RoleBinding may appear).
                    rv = ""
                    forbidden = (
                        describe_error(
                            exc, what=f"list {rt.key}", cluster=c.name, user=c.config.user
                        )
                        if status == 403
                        else None
                    )
                    q.put(("missing", c.name, rt, forbidden))
                    stop.wait(jittered(OPTIONAL_RETRY_S))
                    continue
                message = describe_error(
                    exc, what=f"watch {rt.key}", cluster=c.name, user=c.config.user
                )
                q.put(("down", c.name, rt, message))
                # Relist on reconnect: the successful list is the proof the cluster is
                # back, and the Snapshot replaces data that went stale meanwhile.
                rv = ""
                stop.wait(backoff.next())

    def _heartbeat_loop(
        self, c: _Cluster, q: queue.Queue[tuple[Any, ...]], stop: threading.Event
    ) -> None:
        last_ok = time.time()
        failing = False
        while not stop.wait(HEARTBEAT_S):
            try:
                c.client.ping(HEARTBEAT_TIMEOUT_S)
            except Exception as exc:
                if stop.is_set():
                    return
                message = describe_error(
                    exc, what="reach the API server", cluster=c.name, user=c.config.user
                )
                q.put(("down", c.name, LIVENESS, message, last_ok))
                failing = True
                continue
            last_ok = time.time()
            if failing:
                failing = False
                q.put(("up", c.name, LIVENESS))

    def finish_owed_writes(self) -> builtins.list[str]:
        """Let providers finish actions they started (Flagger: reset skipAnalysis).

        Called by the guard's leader only (console.backend.OwedWrites), never from
        the watch: a console that is merely open does not write. Providers mark what
        they owe on the object itself, so this reads only the stored objects.
        """
        done: builtins.list[str] = []
        if self.read_only:
            return done
        for c in self.clusters.values():
            if c.name in self.read_only_clusters:
                continue
            for provider in self.providers:
                follow_up = getattr(provider, "follow_up", None)
                wants = getattr(provider, "wants_follow_up", None)
                if follow_up is None or wants is None:
                    continue
                for obj in list(c.store.get(provider.resource, {}).values()):
                    if wants(obj):
                        done.extend(self._follow_up(c, provider, follow_up, obj))
        return done

    def _follow_up(
        self, c: _Cluster, provider: Provider, follow_up: Any, obj: Obj
    ) -> builtins.list[str]:
        ns, name = meta(obj)
        ref = RolloutRef(c.name, ns, name)
        try:
            rollout = self.rollout_of(c, provider, obj)
            if rollout is None:
                return []
            result = follow_up(c.client, rollout, obj)
        except Exception as exc:
            # The next evaluation tries again; say why in the log only.
            text = describe_error(exc, what=f"follow up {ref.short}", cluster=c.name)
            log.warning("%s", text)
            return []
        if result is None:
            return []
        result = clean_result(result)
        EventCreator(c.client).record(obj, result.action, result.before, result.after)
        self._audit(
            c, ref, result.action, provider, "ok", result.message, result.before, result.after
        )
        return [result.message]

    # --- actions --------------------------------------------------------------------

    def _find(self, c: _Cluster, ref: RolloutRef) -> tuple[Provider, Obj, Rollout | None]:
        """The provider, fresh object and rollout behind `ref`.

        Providers are tried in order; one that has an object of that name but does
        not drive it (a Flagger canary's own VirtualService is not a mesh canary)
        passes to the next.
        """
        first: Exception | None = None
        found: tuple[Provider, Obj] | None = None
        for provider in self.providers:
            try:
                obj = c.client.get(provider.resource, ref.namespace, ref.name)
            except Exception as exc:
                if getattr(exc, "status", None) == 404:
                    # Report the first (Argo) miss: "rollouts ... not found" reads best.
                    first = first or exc
                    continue
                raise
            found = found or (provider, obj)
            rollout = self.rollout_of(c, provider, obj)
            if rollout is not None:
                return provider, obj, rollout
        if found is not None:
            return found[0], found[1], None
        assert first is not None
        raise first

    def rollout_of(self, c: _Cluster, provider: Provider, obj: Obj) -> Rollout | None:
        ns, name = meta(obj)
        related = {rt: c.client.list(rt, ns, rt.label_selector) for rt in provider.related}
        rollouts = self._to_rollouts(provider, [obj], related, c.name)
        for r in rollouts:
            if r.ref.name == name:
                return self._with_access(c, provider, r)
        return None

    def _refuse_read_only_context(self, ref: RolloutRef, action: Action) -> None:
        if ref.cluster in self.read_only_clusters:
            raise ActionUnavailable(
                ref,
                action,
                f"{action.value} refused: the context {ref.cluster} is read-only "
                "(contexts in the config file).",
            )

    def act(
        self, ref: RolloutRef, action: Action, *, note: str = "", seen: Seen | None = None
    ) -> ActionResult:
        refuse_if_read_only(self, ref, action)
        self._refuse_read_only_context(ref, action)
        c = self.clusters.get(ref.cluster)
        if c is None:
            raise ActionError(ref, action, f"Unknown cluster {ref.cluster!r}.")
        what = f"{action.value} {ref.short}"
        obj: Obj | None = None
        provider: Provider | None = None
        try:
            provider, obj, rollout = self._find(c, ref)
            if rollout is None:
                raise ActionUnavailable(
                    ref, action, f"{ref.short} is not a canary the console can drive."
                )
            check_available(rollout, action)
            check_seen(rollout, action, seen)
            # The sentence and before/after may quote the object (paused by ...).
            result = clean_result(provider.act(c.client, rollout, obj, action))
        except ActionError as exc:
            self._audit(
                c,
                ref,
                action,
                provider,
                "refused" if isinstance(exc, ActionUnavailable) else "error",
                str(exc),
            )
            if obj is not None and not isinstance(exc, ActionUnavailable):
                EventCreator(c.client).record(obj, action, "", "", failed=str(exc))
            raise
        except Exception as exc:
            err = action_error(exc, ref, action, what=what, user=c.config.user)
            self._audit(c, ref, action, provider, "error", str(err))
            if obj is not None and getattr(exc, "status", None) not in (403, 404):
                EventCreator(c.client).record(obj, action, "", "", failed=str(err))
            raise err from None
        failed = EventCreator(c.client).record(obj, action, result.before, result.after, note=note)
        said = f"{result.message} ({note})" if note else result.message
        self._audit(c, ref, action, provider, "ok", said, result.before, result.after)
        if failed:
            result = replace(result, message=f"{result.message} (event not recorded: {failed})")
        return result

    def rollout(self, ref: RolloutRef) -> Rollout | None:
        """One rollout read fresh from the API (the guard checks its pause took effect);
        None when it is gone. Raises ConsoleError (one sentence) for other failures."""
        c = self.clusters.get(ref.cluster)
        if c is None:
            return None
        try:
            _provider, _obj, rollout = self._find(c, ref)
        except Exception as exc:
            if getattr(exc, "status", None) == 404:
                return None
            raise ConsoleError(
                describe_error(exc, what=f"get {ref.short}", cluster=c.name, user=c.config.user)
            ) from None
        return rollout

    def last_resume(self, ref: RolloutRef) -> tuple[float, str] | None:
        """(time, user) of the newest RolloutConsoleResume Event on the rollout, if any."""
        c = self.clusters.get(ref.cluster)
        if c is None:
            return None
        selector = f"involvedObject.name={ref.name},reason={reason_for(Action.RESUME)}"
        data = c.client.request("GET", EVENTS.path(ref.namespace), [("fieldSelector", selector)])
        best: tuple[float, str] | None = None
        for event in (data or {}).get("items") or []:
            message = str(event.get("message") or "")
            who, sep, _ = message.partition(f": {Action.RESUME.value}: ")
            if not sep:
                continue
            at = created_at(
                {
                    "metadata": {
                        "creationTimestamp": event.get("lastTimestamp")
                        or event.get("eventTime")
                        or (event.get("metadata") or {}).get("creationTimestamp")
                    }
                }
            )
            if best is None or at >= best[0]:
                best = (at, who)
        return best

    def annotate(self, ref: RolloutRef, changes: Mapping[str, str | None]) -> None:
        """JSON merge patch of the rollout object's annotations (the guard's records)."""
        refuse_if_read_only(self, ref, Action.PAUSE)
        self._refuse_read_only_context(ref, Action.PAUSE)
        c = self.clusters.get(ref.cluster)
        if c is None:
            raise ConsoleError(f"Unknown cluster {ref.cluster!r}.")
        try:
            provider, _obj, _rollout = self._find(c, ref)
            c.client.merge_patch(
                provider.resource,
                ref.namespace,
                ref.name,
                {"metadata": {"annotations": dict(changes)}},
            )
        except ConsoleError:
            raise
        except Exception as exc:
            raise ConsoleError(
                describe_error(
                    exc, what=f"annotate {ref.short}", cluster=c.name, user=c.config.user
                )
            ) from None

    def _audit(
        self,
        c: _Cluster,
        ref: RolloutRef,
        action: Action,
        provider: Provider | None,
        result: str,
        message: str,
        before: str = "",
        after: str = "",
    ) -> None:
        try:
            audit.append(
                audit.AuditRecord(
                    who=c.config.user,
                    cluster=ref.cluster,
                    namespace=ref.namespace,
                    name=ref.name,
                    action=action.value,
                    result=result,
                    before=before,
                    after=after,
                    message=message,
                    provider=str(provider.kind) if provider else "",
                )
            )
        except OSError as exc:  # a read-only home must not block an incident action
            log.warning("audit log not written: %s", exc)
