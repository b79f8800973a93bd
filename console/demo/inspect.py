"""Tree, YAML, describe and synthetic logs for the simulated cluster (console/inspection.py).

`DemoInspection` is a mixin of DemoBackend: everything is made from the simulated
Rollout and its event log, so `--demo` shows plausible content for every key.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import yaml

from console.demo.simulation import DemoCluster
from console.inspection import LogTarget
from console.model import ConsoleError, Phase, Role, Rollout, RolloutRef, VersionInfo
from console.timestamps import human_duration, rfc3339
from console.tree import PodNode, RevisionNode, RolloutTree, WorkloadNode

SIDECAR = "istio-proxy"
#: Seconds between two synthetic log lines (wall time: logs are not simulated).
LOG_EVERY_S = 0.4
_PATHS = ("/v1/models/serve:predict", "/v1/models/serve/metadata", "/healthz")


def _iso(ts: float) -> str:
    return rfc3339(ts)


def _node_of(pod: str) -> str:
    return f"gpu-node-{int(hashlib.sha256(pod.encode()).hexdigest(), 16) % 4}"


def _failing(r: Rollout) -> bool:
    return r.phase is Phase.DEGRADED or r.aborted


def _pods(r: Rollout, v: VersionInfo, created: float) -> tuple[PodNode, ...]:
    out: list[PodNode] = []
    bad = v.role is Role.CANARY and _failing(r)
    for i, name in enumerate(v.pods):
        if bad:
            out.append(PodNode(name, "CrashLoopBackOff", "1/2", 4, created, _node_of(name)))
        elif i < v.ready:
            out.append(PodNode(name, "Running", "2/2", 0, created, _node_of(name)))
        else:
            out.append(PodNode(name, "ContainerCreating", "0/2", 0, created, _node_of(name)))
    return tuple(
        PodNode(p.name, p.status, p.ready, p.restarts, p.created_at, p.node, (r.ref.name, SIDECAR))
        for p in out
    )


def _revision(v: VersionInfo, default: int) -> int:
    return int(v.revision) if v.revision.isdigit() else default


class DemoInspection:
    """Mixin of DemoBackend: the Inspector capability over a DemoCluster."""

    cluster: DemoCluster

    def _rollout(self, ref: RolloutRef) -> Rollout:
        r = self.cluster.rollout(ref)
        if r is None:
            raise ConsoleError(f"{ref.short} no longer exists.")
        return r

    def _canary_since(self, ref: RolloutRef, r: Rollout) -> float:
        events = self.cluster.events(ref)
        return events[0][0] if events else r.created_at

    def tree(self, ref: RolloutRef) -> RolloutTree | None:
        r = self.cluster.rollout(ref)
        if r is None:
            return None
        stable_rev = _revision(r.stable, 1)
        since = self._canary_since(ref, r)
        stable = WorkloadNode(
            "ReplicaSet",
            r.stable.workload,
            "Healthy" if r.stable.ready >= r.stable.desired else "Progressing",
            r.created_at,
            ("stable",),
            pods=_pods(r, r.stable, r.created_at),
        )
        revisions: list[RevisionNode] = []
        if r.canary is not None:
            ok = r.canary.ready >= r.canary.desired and not _failing(r)
            canary_status = "Healthy" if ok else "Progressing"
            aborts = [at for at, text in self.cluster.events(ref) if "abort" in text]
            canary = WorkloadNode(
                "ReplicaSet",
                r.canary.workload,
                canary_status,
                since,
                ("canary",),
                # An aborted canary is scaled down after abortScaleDownDelaySeconds (30s).
                scale_down_at=aborts[-1] + 30 if r.aborted and aborts else None,
                pods=_pods(r, r.canary, since),
            )
            revisions.append(RevisionNode(_revision(r.canary, stable_rev + 1), (canary,)))
        revisions.append(RevisionNode(stable_rev, (stable,)))
        if stable_rev > 1:
            old_name = f"{r.ref.name}-{hashlib.sha256(str(stable_rev).encode()).hexdigest()[:9]}"
            old = WorkloadNode("ReplicaSet", old_name, "ScaledDown", r.created_at)
            revisions.append(RevisionNode(stable_rev - 1, (old,)))
        return RolloutTree(
            kind="Rollout",
            name=r.ref.name,
            status=r.phase.value,
            created_at=r.created_at,
            revisions=tuple(revisions),
        )

    def _object(self, r: Rollout) -> dict[str, Any]:
        version = r.canary or r.stable
        image = version.images[0].reference if version.images else "unknown"
        steps: list[dict[str, Any]] = []
        for s in r.steps:
            if s.weight is not None:
                steps.append({"setWeight": s.weight})
            elif s.kind.value == "pause":
                steps.append(
                    {"pause": {"duration": f"{int(s.duration_s)}s"} if s.duration_s else {}}
                )
            else:
                steps.append({s.kind.value: s.detail or {}})
        return {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "metadata": {
                "name": r.ref.name,
                "namespace": r.ref.namespace,
                "creationTimestamp": _iso(r.created_at),
                "annotations": dict(r.annotations),
            },
            "spec": {
                "replicas": r.stable.desired,
                "selector": {"matchLabels": {"app": r.ref.name}},
                "template": {
                    "metadata": {"labels": {"app": r.ref.name, "version": version.label}},
                    "spec": {"containers": [{"name": r.ref.name, "image": image}]},
                },
                "strategy": {"canary": {"steps": steps}},
            },
            "status": {
                "phase": r.phase.value,
                "message": r.message,
                "currentStepIndex": r.current_step,
                "stableRS": r.stable.pod_hash,
                "currentPodHash": version.pod_hash,
                "canary": {"weights": {"canary": {"weight": r.actual_weight}}},
            },
        }

    def manifest(self, ref: RolloutRef) -> str:
        return yaml.safe_dump(self._object(self._rollout(ref)), sort_keys=False, width=100)

    def describe(self, ref: RolloutRef) -> str:
        r = self._rollout(ref)
        now = self.cluster.now
        lines = [
            f"Name:         {r.ref.name}",
            f"Namespace:    {r.ref.namespace}",
            "Kind:         Rollout (argoproj.io/v1alpha1)",
            f"Created:      {_iso(r.created_at)} ({human_duration(now - r.created_at)} ago)",
            f"Phase:        {r.phase.value}",
        ]
        if r.message:
            lines.append(f"Message:      {r.message}")
        progressing = "False" if _failing(r) else "True"
        lines += [
            "Conditions:",
            "  Type         Status  Reason",
            f"  Available    {'True' if r.stable.ready else 'False'}    AvailableReason",
            f"  Progressing  {progressing:<6}  "
            + ("RolloutAborted" if r.aborted else "ReplicaSetUpdated"),
            f"  Paused       {'True' if r.phase is Phase.PAUSED else 'False':<6}  "
            + ("CanaryPauseStep" if r.phase is Phase.PAUSED else "-"),
            "Events:",
        ]
        events = self.cluster.events(ref)
        if not events:
            lines.append("  <none>")
        else:
            lines.append("  Type    Reason          Age   From                 Message")
            lines.append("  ----    ------          ----  ----                 -------")
            for at, text in events:
                kind = "Warning" if "abort" in text or "fail" in text else "Normal"
                age = human_duration(now - at)
                lines.append(f"  {kind:<7} RolloutUpdated  {age:<5} rollouts-controller  {text}")
        return "\n".join(lines)

    def log_targets(self, ref: RolloutRef) -> list[LogTarget]:
        tree = self.tree(ref)
        if tree is None:
            return []
        out: list[LogTarget] = []
        for role in (Role.CANARY, Role.STABLE):
            for w in tree.all_workloads():
                if role.value in w.tags:
                    out.extend(LogTarget(role, p.name, p.containers) for p in w.pods)
        return out

    def logs(
        self, ref: RolloutRef, pod: str, container: str, stop: threading.Event
    ) -> Iterator[str]:
        r = self._rollout(ref)
        if not any(t.pod == pod for t in self.log_targets(ref)):
            raise ConsoleError(f"No logs for pod {pod!r}: it is not a pod of {ref.short}.")
        bad = r.canary is not None and pod in r.canary.pods and _failing(r)
        n = 0
        while not stop.is_set():
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
            if container == SIDECAR:
                path = _PATHS[n % len(_PATHS)]
                code = 503 if bad and n % 3 == 0 else 200
                yield f'[{stamp}] "POST {path} HTTP/1.1" {code} - via_upstream {12 + n % 40}ms'
            elif bad and n % 4 == 0:
                yield f"{stamp} ERROR model load failed: CUDA out of memory (attempt {n // 4 + 1})"
            else:
                yield f"{stamp} INFO request served model={r.ref.name} latency_ms={18 + n % 23}"
            n += 1
            if stop.wait(LOG_EVERY_S):
                return
