"""Tree, YAML, describe and logs of one rollout on a real cluster (console/inspection.py).

`KubeInspection` is a mixin of KubeBackend: the tree is built from the objects its
watch already keeps (ReplicaSets and Pods for Argo, Deployments and Pods for mesh
and Flagger canaries), with no request; YAML, describe (conditions and the events
API's Events) and logs (GET pods/{name}/log?follow=true) are read on demand.
Everything that comes from the cluster leaves here through console/untrusted.py.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import yaml

from console.inspection import LogTarget
from console.kube.errors import describe_error, status_message
from console.kube.provider import Obj, Provider, ResourceType, created_at, dig, meta
from console.model import ConsoleError, ProviderKind, Role, Rollout, RolloutRef
from console.timestamps import human_duration, parse_rfc3339
from console.tree import PodNode, RevisionNode, RolloutTree, WorkloadNode
from console.untrusted import clean, clean_line, clip

if TYPE_CHECKING:
    from console.kube.backend import _Cluster
    from console.kube.client import WatchHandle

REVISION_ANNOTATION = "rollout.argoproj.io/revision"
# Argo's v1alpha1.DefaultReplicaSetScaleDownDeadlineAnnotationKey.
SCALE_DOWN_ANNOTATION = "scale-down-deadline"
POD_TEMPLATE_HASH = "rollouts-pod-template-hash"
EVENTS = ResourceType("", "v1", "events", "Event")
#: The last lines of a log to start from: a long-lived pod's whole log is not wanted.
LOG_TAIL_LINES = 500
LOG_CONNECT_TIMEOUT_S = 15.0
#: kubectl leaves this out of `get -o yaml` unless asked; it is noise for an operator.
_HIDDEN_METADATA = ("managedFields",)


def _ts(value: Any) -> float:
    return parse_rfc3339(value) or 0.0


def _name(text: Any) -> str:
    return clip(clean_line(str(text or "")), 253)


# --- the tree, from watched objects (pure) ---------------------------------------------


def pod_status(pod: Obj) -> tuple[str, int, int, int]:
    """(status word, ready containers, containers, restarts) as the plugin computes them."""
    spec_containers = dig(pod, "spec", "containers", default=[]) or []
    init_specs = dig(pod, "spec", "initContainers", default=[]) or []
    status = pod.get("status") or {}
    reason = str(status.get("reason") or status.get("phase") or "")
    restarts = 0
    ready = 0
    initializing = False
    sidecars = {
        str(c.get("name")): c.get("restartPolicy") == "Always"
        for c in init_specs
        if isinstance(c, Mapping)
    }
    for i, c in enumerate(status.get("initContainerStatuses") or []):
        restarts += int(c.get("restartCount") or 0)
        state = c.get("state") or {}
        term, waiting = state.get("terminated"), state.get("waiting")
        if term and int(term.get("exitCode") or 0) == 0:
            continue
        if term:
            if term.get("reason"):
                reason = f"Init:{term['reason']}"
            elif term.get("signal"):
                reason = f"Init:Signal:{term['signal']}"
            else:
                reason = f"Init:ExitCode:{term.get('exitCode')}"
        elif sidecars.get(str(c.get("name"))) and c.get("started"):
            if c.get("ready"):
                continue
            reason = f"Init:{i}/{len(init_specs)}"
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = f"Init:{waiting['reason']}"
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break
    if not initializing:
        restarts = 0
        running = False
        for c in reversed(status.get("containerStatuses") or []):
            restarts += int(c.get("restartCount") or 0)
            state = c.get("state") or {}
            term, waiting = state.get("terminated"), state.get("waiting")
            if waiting and waiting.get("reason"):
                reason = str(waiting["reason"])
            elif term and term.get("reason"):
                reason = str(term["reason"])
            elif term:
                reason = (
                    f"Signal:{term['signal']}"
                    if term.get("signal")
                    else f"ExitCode:{term.get('exitCode')}"
                )
            elif c.get("ready") and state.get("running") is not None:
                running = True
                ready += 1
        if reason == "Completed" and running:
            reason = "Running"
    if dig(pod, "metadata", "deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return reason, ready, len(spec_containers), restarts


def pod_node(pod: Obj) -> PodNode:
    status, ready, total, restarts = pod_status(pod)
    containers = tuple(
        _name(c.get("name"))
        for c in dig(pod, "spec", "containers", default=[]) or []
        if isinstance(c, Mapping)
    )
    return PodNode(
        name=_name(meta(pod)[1]),
        status=_name(status) or "Unknown",
        ready=f"{ready}/{total}",
        restarts=restarts,
        created_at=created_at(pod),
        node=_name(dig(pod, "spec", "nodeName")),
        containers=containers,
    )


def replicaset_status(rs: Obj) -> str:
    """Healthy, Progressing, ReplicaFailure or ScaledDown, as the plugin decides."""
    generation = int(dig(rs, "metadata", "generation", default=0) or 0)
    observed = int(dig(rs, "status", "observedGeneration", default=0) or 0)
    if generation > observed:
        return "Progressing"
    for cond in dig(rs, "status", "conditions", default=[]) or []:
        if cond.get("type") == "ReplicaFailure" and cond.get("status") == "True":
            return "ReplicaFailure"
    replicas = dig(rs, "spec", "replicas")
    available = int(dig(rs, "status", "availableReplicas", default=0) or 0)
    if isinstance(replicas, int) and available < replicas:
        return "Progressing"
    if replicas == 0:
        return "ScaledDown"
    return "Healthy"


def _owned_by(obj: Obj, uids: set[str]) -> str | None:
    for ref in dig(obj, "metadata", "ownerReferences", default=[]) or []:
        if isinstance(ref, Mapping) and ref.get("uid") in uids:
            return str(ref["uid"])
    return None


def _pods_by_owner(pods: Iterable[Obj], uids: set[str]) -> dict[str, list[PodNode]]:
    out: dict[str, list[tuple[float, str, PodNode]]] = {}
    for pod in pods:
        owner = _owned_by(pod, uids)
        if owner is not None:
            node = pod_node(pod)
            out.setdefault(owner, []).append((node.created_at, node.name, node))
    return {k: [n for _, _, n in sorted(v, key=lambda t: (t[0], t[1]))] for k, v in out.items()}


def argo_tree(ro: Obj, replicasets: Iterable[Obj], pods: Iterable[Obj], status: str) -> RolloutTree:
    """Rollout → revisions (newest first) → ReplicaSets (tagged) → Pods."""
    uid = dig(ro, "metadata", "uid")
    mine = [rs for rs in replicasets if uid and _owned_by(rs, {uid})]
    by_pod = _pods_by_owner(pods, {str(dig(rs, "metadata", "uid")) for rs in mine})
    canary = dig(ro, "spec", "strategy", "canary") is not None
    blue_green = dig(ro, "spec", "strategy", "blueGreen") is not None
    stable_hash = dig(ro, "status", "stableRS")
    current_hash = dig(ro, "status", "currentPodHash")
    active = dig(ro, "status", "blueGreen", "activeSelector")
    preview = dig(ro, "status", "blueGreen", "previewSelector")
    nodes: list[tuple[int, str, WorkloadNode]] = []
    for rs in mine:
        annotations = dig(rs, "metadata", "annotations", default={}) or {}
        try:
            revision = int(annotations.get(REVISION_ANNOTATION, 0))
        except (TypeError, ValueError):
            revision = 0
        pod_hash = dig(rs, "metadata", "labels", POD_TEMPLATE_HASH)
        tags: list[str] = []
        if canary:
            if pod_hash and pod_hash == stable_hash:
                tags.append("stable")
            elif pod_hash and pod_hash == current_hash:
                tags.append("canary")
        if blue_green:
            if pod_hash and pod_hash == stable_hash:
                tags.append("stable")
            if pod_hash and pod_hash == active:
                tags.append("active")
            elif pod_hash and pod_hash == preview:
                tags.append("preview")
        deadline = annotations.get(SCALE_DOWN_ANNOTATION)
        name = _name(meta(rs)[1])
        nodes.append(
            (
                revision,
                name,
                WorkloadNode(
                    kind="ReplicaSet",
                    name=name,
                    status=replicaset_status(rs),
                    created_at=created_at(rs),
                    tags=tuple(tags),
                    scale_down_at=_ts(deadline) if deadline else None,
                    pods=tuple(by_pod.get(str(dig(rs, "metadata", "uid")), ())),
                ),
            )
        )
    nodes.sort(key=lambda t: (-t[0], t[1]))
    revisions: list[RevisionNode] = []
    for revision, _, node in nodes:
        if revisions and revisions[-1].revision == revision:
            last = revisions[-1]
            revisions[-1] = RevisionNode(revision, (*last.workloads, node))
        else:
            revisions.append(RevisionNode(revision, (node,)))
    return RolloutTree(
        kind="Rollout",
        name=_name(meta(ro)[1]),
        status=status,
        created_at=created_at(ro),
        revisions=tuple(revisions),
    )


def deployment_status(d: Obj) -> str:
    replicas = dig(d, "spec", "replicas")
    available = int(dig(d, "status", "availableReplicas", default=0) or 0)
    if replicas == 0:
        return "ScaledDown"
    if int(dig(d, "metadata", "generation", default=0) or 0) > int(
        dig(d, "status", "observedGeneration", default=0) or 0
    ):
        return "Progressing"
    if isinstance(replicas, int) and available < replicas:
        return "Progressing"
    return "Healthy"


def deployments_tree(
    rollout: Rollout,
    kind: str,
    obj: Obj | None,
    deployments: Mapping[str, Obj],
    pods: Mapping[str, Obj],
) -> RolloutTree:
    """A mesh or Flagger canary: the route (or Canary) → its two Deployments → Pods."""
    workloads: list[WorkloadNode] = []
    for tag, version in (("stable", rollout.stable), ("canary", rollout.canary)):
        if version is None or not version.workload:
            continue
        d = deployments.get(version.workload)
        found = sorted(
            (pod_node(pods[p]) for p in version.pods if p in pods),
            key=lambda n: (n.created_at, n.name),
        )
        workloads.append(
            WorkloadNode(
                kind="Deployment",
                name=version.workload,
                status=deployment_status(d) if d is not None else "Unknown",
                created_at=created_at(d) if d is not None else 0.0,
                tags=(tag,),
                pods=tuple(found),
            )
        )
    return RolloutTree(
        kind=kind,
        name=rollout.ref.name,
        status=rollout.phase.value,
        created_at=created_at(obj) if obj is not None else rollout.created_at,
        workloads=tuple(workloads),
    )


# --- describe (pure) ---------------------------------------------------------------------


def _age(ts: float, now: float) -> str:
    return human_duration(now - ts) if ts else "<unknown>"


def _table(rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return [
        (
            indent + "  ".join(c.ljust(widths[i]) for i, c in enumerate(r[:-1])) + "  " + r[-1]
        ).rstrip()
        for r in rows
    ]


def event_time(e: Obj) -> float:
    return max(
        _ts(e.get("lastTimestamp")),
        _ts(e.get("eventTime")),
        _ts(dig(e, "series", "lastObservedTime")),
        _ts(dig(e, "metadata", "creationTimestamp")),
    )


def describe_text(obj: Obj, events: Sequence[Obj], now: float) -> str:
    """`kubectl describe`'s head, the object's conditions and its Events, oldest first."""
    md = obj.get("metadata") or {}
    lines = [
        f"Name:         {md.get('name', '')}",
        f"Namespace:    {md.get('namespace', '')}",
        f"Kind:         {obj.get('kind', '')} ({obj.get('apiVersion', '')})",
        f"Created:      {md.get('creationTimestamp', '')} "
        f"({_age(_ts(md.get('creationTimestamp')), now)} ago)",
    ]
    for title, values in (("Labels:", md.get("labels")), ("Annotations:", md.get("annotations"))):
        pairs = sorted((values or {}).items())
        pairs = [
            (k, v) for k, v in pairs if k != "kubectl.kubernetes.io/last-applied-configuration"
        ]
        if not pairs:
            lines.append(f"{title:<14}<none>")
        for i, (k, v) in enumerate(pairs):
            lines.append(f"{title if i == 0 else '':<14}{k}={clip(str(v), 200)}")
    status = obj.get("status") or {}
    for key in ("phase", "message"):
        if status.get(key):
            lines.append(f"{key.capitalize() + ':':<14}{status[key]}")
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, Mapping)]
    lines.append("Conditions:")
    if conditions:
        rows = [("Type", "Status", "Reason", "Age", "Message")] + [
            (
                str(c.get("type", "")),
                str(c.get("status", "")),
                str(c.get("reason", "")),
                _age(_ts(c.get("lastTransitionTime")), now),
                str(c.get("message", "")),
            )
            for c in conditions
        ]
        lines.extend(_table(rows))
    else:
        lines.append("  <none>")
    lines.append("Events:")
    if events:
        rows = [
            ("Type", "Reason", "Age", "From", "Message"),
            ("----", "------", "----", "----", "-------"),
        ]
        for e in sorted(events, key=event_time):
            count = int(e.get("count") or dig(e, "series", "count", default=0) or 0)
            first = _ts(e.get("firstTimestamp")) or event_time(e)
            age = _age(event_time(e), now)
            if count > 1:
                age += f" (x{count} over {_age(first, now)})"
            source = (
                dig(e, "source", "component")
                or e.get("reportingComponent")
                or e.get("reportingController")
                or ""
            )
            rows.append(
                (
                    str(e.get("type", "")),
                    str(e.get("reason", "")),
                    age,
                    str(source),
                    clean_line(str(e.get("message") or e.get("note") or "")),
                )
            )
        lines.extend(_table(rows))
    else:
        lines.append("  <none>")
    return clean("\n".join(clean_line(line) for line in lines))


def manifest_text(obj: Obj) -> str:
    shown = dict(obj)
    md = dict(shown.get("metadata") or {})
    for key in _HIDDEN_METADATA:
        md.pop(key, None)
    shown["metadata"] = md
    return clean(yaml.safe_dump(shown, sort_keys=False, allow_unicode=True, width=100))


# --- the KubeBackend capability -----------------------------------------------------------


def _copy(store: Mapping[tuple[str, str], Obj] | None) -> dict[tuple[str, str], Obj]:
    """A snapshot of one store bucket: the watch thread may write it meanwhile."""
    for _ in range(5):
        try:
            return dict(store or {})
        except RuntimeError:  # changed size during the copy: copy again
            continue
    return {}


class KubeInspection:
    """Mixin of KubeBackend (console/kube/backend.py): the Inspector capability."""

    clusters: dict[str, _Cluster]
    providers: list[Provider]

    def _cluster_of(self, ref: RolloutRef) -> _Cluster:
        c = self.clusters.get(ref.cluster)
        if c is None:
            raise ConsoleError(f"Unknown cluster {ref.cluster!r}.")
        return c

    def _shown(self, c: _Cluster, ref: RolloutRef) -> tuple[Rollout, Provider] | None:
        for (ns, name, kind), rollout in list(c.shown.items()):
            if ns == ref.namespace and name == ref.name:
                for p in self.providers:
                    if str(p.kind) == kind:
                        return rollout, p
        return None

    def _bucket(self, c: _Cluster, plural: str, namespace: str) -> dict[str, Obj]:
        """Watched objects of every resource type named `plural` in `namespace`, by name."""
        out: dict[str, Obj] = {}
        for rt in list(c.store):
            if rt.plural == plural:
                for (ns, name), obj in _copy(c.store.get(rt)).items():
                    if ns == namespace:
                        out[name] = obj
        return out

    def tree(self, ref: RolloutRef) -> RolloutTree | None:
        c = self.clusters.get(ref.cluster)
        if c is None:
            return None
        found = self._shown(c, ref)
        if found is None:
            return None
        rollout, provider = found
        obj = _copy(c.store.get(provider.resource)).get((ref.namespace, ref.name))
        if provider.kind is ProviderKind.ARGO:
            if obj is None:
                return None  # deleted under us: the next redraw says so
            replicasets = self._bucket(c, "replicasets", ref.namespace).values()
            pods = self._bucket(c, "pods", ref.namespace).values()
            return argo_tree(obj, replicasets, pods, rollout.phase.value)
        return deployments_tree(
            rollout,
            provider.resource.kind,
            obj,
            self._bucket(c, "deployments", ref.namespace),
            self._bucket(c, "pods", ref.namespace),
        )

    def _fresh(self, c: _Cluster, ref: RolloutRef, what: str) -> dict[str, Any]:
        found = self._shown(c, ref)
        rt = found[1].resource if found else self.providers[0].resource
        try:
            return c.client.get(rt, ref.namespace, ref.name)
        except Exception as exc:
            raise ConsoleError(
                describe_error(exc, what=f"{what} {ref.short}", cluster=c.name, user=c.config.user)
            ) from None

    def manifest(self, ref: RolloutRef) -> str:
        c = self._cluster_of(ref)
        return manifest_text(self._fresh(c, ref, "read"))

    def describe(self, ref: RolloutRef) -> str:
        c = self._cluster_of(ref)
        obj = self._fresh(c, ref, "describe")
        selector = ",".join(
            f"involvedObject.{k}={v}"
            for k, v in (
                ("name", ref.name),
                ("namespace", ref.namespace),
                ("kind", obj.get("kind", "")),
                ("uid", dig(obj, "metadata", "uid", default="")),
            )
            if v
        )
        try:
            events = c.client.request(
                "GET", EVENTS.path(ref.namespace), [("fieldSelector", selector)]
            )
            items = list((events or {}).get("items") or [])
            note = ""
        except Exception as exc:
            # The object is still worth showing: say why the Events are missing.
            items = []
            note = describe_error(
                exc, what=f"list events of {ref.short}", cluster=c.name, user=c.config.user
            )
        text = describe_text(obj, items, time.time())
        return f"{text}\n  ({note})" if note else text

    def log_targets(self, ref: RolloutRef) -> list[LogTarget]:
        tree = self.tree(ref)
        if tree is None:
            return []
        out: list[LogTarget] = []
        seen: set[str] = set()
        # Blue-green: the preview ReplicaSet is the new version, the active one the old.
        for role, tags in (
            (Role.CANARY, {"canary", "preview"}),
            (Role.STABLE, {"stable", "active"}),
        ):
            for w in tree.all_workloads():
                if tags & set(w.tags):
                    for p in w.pods:
                        if p.containers and p.name not in seen:
                            seen.add(p.name)
                            out.append(LogTarget(role, p.name, p.containers))
        return out

    def logs(
        self, ref: RolloutRef, pod: str, container: str, stop: threading.Event
    ) -> Iterator[str]:
        c = self._cluster_of(ref)
        path = f"/api/v1/namespaces/{ref.namespace}/pods/{pod}/log"
        query = [
            ("follow", "true"),
            ("container", container),
            ("tailLines", str(LOG_TAIL_LINES)),
        ]
        handles: list[WatchHandle] = []
        lock = threading.Lock()

        def stop_all() -> None:
            with lock:
                for h in handles:
                    with contextlib.suppress(Exception):
                        h.stop()

        def opened(handle: WatchHandle) -> None:
            # Stopped before the stream even opened (a quick n/t/s, or quitting): close
            # it at once, or its read would block until that pod writes a line.
            with lock:
                handles.append(handle)
            if stop.is_set():
                stop_all()

        def close_on_stop() -> None:
            stop.wait()
            stop_all()

        threading.Thread(target=close_on_stop, name=f"logs-{pod}", daemon=True).start()
        try:
            for line in c.client.stream_text(path, query, LOG_CONNECT_TIMEOUT_S, opened):
                if stop.is_set():
                    return
                yield clean_line(line.expandtabs(4))
        except Exception as exc:
            if stop.is_set():
                return
            raise ConsoleError(log_error(exc, pod, container, c.name)) from None


def log_error(exc: BaseException, pod: str, container: str, cluster: str) -> str:
    """One sentence for logs that cannot be read (no node yet, none kept, no rights)."""
    status = getattr(exc, "status", None)
    if status in (400, 404, 500, 502, 503):
        return (
            f"No logs for container {container!r} of pod {pod!r} on cluster {cluster!r}: "
            f"{status_message(exc).rstrip('.')}."
        )
    return describe_error(exc, what=f"read the logs of pod {pod}", cluster=cluster)
