"""The rollout tree, as `kubectl argo rollouts get rollout` draws it.

Rollout → revision → ReplicaSet → Pod for Argo; for a mesh or Flagger canary the
two Deployments and their pods. Plain frozen dataclasses plus the plugin's
symbols and the row text (no textual), so the demo, the kube backend, tests and
the widget share one definition. Every name and status here is already clean
(the builders run cluster text through console/untrusted.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from console.timestamps import human_duration

# Kind symbols (the plugin's cmd/get/get.go).
ICON_ROLLOUT = "⟳"
ICON_REVISION = "#"
ICON_REPLICASET = "⧉"
ICON_POD = "□"
ICON_SERVICE = "⑃"

# Status symbols (the plugin's info/info.go).
ICON_WAITING = "◷"
ICON_PROGRESSING = "◌"
ICON_WARNING = "⚠"
ICON_UNKNOWN = "?"
ICON_OK = "✔"
ICON_BAD = "✖"
ICON_PAUSED = "॥"
ICON_NEUTRAL = "•"

#: Which colour family a status symbol belongs to (the plugin colours by symbol).
TONE = {
    ICON_WAITING: "warning",
    ICON_PROGRESSING: "progress",
    ICON_WARNING: "bad",
    ICON_UNKNOWN: "warning",
    ICON_OK: "ok",
    ICON_BAD: "bad",
}

TAG_STABLE = "stable"
TAG_CANARY = "canary"
TAG_ACTIVE = "active"
TAG_PREVIEW = "preview"


def rollout_icon(status: str) -> str:
    """The plugin's symbol for a rollout status (Healthy, Progressing, Paused, Degraded)."""
    return {
        "Healthy": ICON_OK,
        "Progressing": ICON_PROGRESSING,
        "Paused": ICON_PAUSED,
        "Degraded": ICON_BAD,
        "Error": ICON_WARNING,
    }.get(status, ICON_UNKNOWN)


def replicaset_icon(status: str) -> str:
    return {
        "Progressing": ICON_PROGRESSING,
        "Healthy": ICON_OK,
        "ReplicaFailure": ICON_BAD,
        "ScaledDown": ICON_NEUTRAL,
    }.get(status, " ")


def pod_icon(status: str) -> str:
    """The plugin's symbol for a pod status word (Running, Pending, CrashLoopBackOff...)."""
    if status.startswith("Init:"):
        return ICON_PROGRESSING
    if status.startswith(("Signal:", "ExitCode:")):
        return ICON_BAD
    if status.endswith("Error") or status.startswith("Err"):
        return ICON_WARNING
    return {
        "Pending": ICON_PROGRESSING,
        "Terminating": ICON_PROGRESSING,
        "ContainerCreating": ICON_PROGRESSING,
        "Running": ICON_OK,
        "Completed": ICON_OK,
        "Failed": ICON_BAD,
        "InvalidImageName": ICON_BAD,
        "CrashLoopBackOff": ICON_BAD,
        "ImagePullBackOff": ICON_WARNING,
        "RegistryUnavailable": ICON_WARNING,
        "Unknown": ICON_UNKNOWN,
    }.get(status, " ")


@dataclass(frozen=True)
class PodNode:
    name: str
    status: str  # the plugin's word: Running, Pending, CrashLoopBackOff, Init:0/1...
    ready: str  # "1/1": ready containers / containers
    restarts: int = 0
    created_at: float = 0.0
    node: str = ""
    containers: tuple[str, ...] = ()

    @property
    def icon(self) -> str:
        return pod_icon(self.status)


@dataclass(frozen=True)
class WorkloadNode:
    """A ReplicaSet (Argo) or a Deployment (mesh, Flagger) and its pods."""

    kind: str
    name: str
    status: str
    created_at: float = 0.0
    tags: tuple[str, ...] = ()  # stable / canary / active / preview
    #: Unix seconds of Argo's scale-down-deadline annotation (a scale-down pending).
    scale_down_at: float | None = None
    pods: tuple[PodNode, ...] = ()

    @property
    def icon(self) -> str:
        return replicaset_icon(self.status)


@dataclass(frozen=True)
class RevisionNode:
    revision: int
    workloads: tuple[WorkloadNode, ...] = ()


@dataclass(frozen=True)
class RolloutTree:
    kind: str  # Rollout, VirtualService, HTTPRoute, Canary, or the demo's kind
    name: str
    status: str
    created_at: float = 0.0
    #: Argo: revisions, newest first. Mesh and Flagger: empty, see `workloads`.
    revisions: tuple[RevisionNode, ...] = ()
    #: Mesh and Flagger canaries: the stable and canary Deployments, no revisions.
    workloads: tuple[WorkloadNode, ...] = ()
    note: str = ""  # why something is missing (say, pods not readable)

    @property
    def icon(self) -> str:
        return rollout_icon(self.status)

    def pods(self) -> tuple[PodNode, ...]:
        """Every pod of the tree, in drawing order."""
        out: list[PodNode] = []
        for w in self.all_workloads():
            out.extend(w.pods)
        return tuple(out)

    def all_workloads(self) -> tuple[WorkloadNode, ...]:
        out = list(self.workloads)
        for rev in self.revisions:
            out.extend(rev.workloads)
        return tuple(out)


@dataclass(frozen=True)
class TreeRow:
    """One line of the plugin's table: NAME (with the tree prefix), KIND, STATUS, AGE, INFO."""

    prefix: str  # "├──", "│  └──"...
    kind_icon: str
    name: str
    kind: str
    status_icon: str
    status: str
    age: str
    info: str
    tags: tuple[str, ...] = ()  # for colouring the name like the plugin


def _branch(is_last: bool, sub: str) -> tuple[str, str]:
    return (sub + "└──", sub + "   ") if is_last else (sub + "├──", sub + "│  ")


def _age(created_at: float, now: float) -> str:
    return human_duration(now - created_at) if created_at else ""


def _workload_rows(w: WorkloadNode, prefix: str, sub: str, now: float) -> list[TreeRow]:
    info = list(w.tags)
    if w.scale_down_at is not None:
        left = w.scale_down_at - now
        info.append(f"delay:{human_duration(left) if left > 0 else 'passed'}")
    rows = [
        TreeRow(
            prefix,
            ICON_REPLICASET,
            w.name,
            w.kind,
            w.icon,
            w.status,
            _age(w.created_at, now),
            ",".join(info),
            w.tags,
        )
    ]
    for i, pod in enumerate(w.pods):
        pod_prefix, _ = _branch(i == len(w.pods) - 1, sub)
        cols = [f"ready:{pod.ready}"]
        if pod.restarts > 0:
            cols.append(f"restarts:{pod.restarts}")
        if pod.node:
            cols.append(f"node:{pod.node}")
        rows.append(
            TreeRow(
                pod_prefix,
                ICON_POD,
                pod.name,
                "Pod",
                pod.icon,
                pod.status,
                _age(pod.created_at, now),
                ",".join(cols),
            )
        )
    return rows


def tree_rows(tree: RolloutTree, now: float) -> list[TreeRow]:
    """The rows `kubectl argo rollouts get rollout` prints under its NAME header."""
    rows = [
        TreeRow(
            "",
            ICON_ROLLOUT,
            tree.name,
            tree.kind,
            tree.icon,
            tree.status,
            _age(tree.created_at, now),
            "",
        )
    ]
    children: list[RevisionNode | WorkloadNode] = [*tree.revisions, *tree.workloads]
    for i, child in enumerate(children):
        prefix, sub = _branch(i == len(children) - 1, "")
        if isinstance(child, WorkloadNode):
            rows.extend(_workload_rows(child, prefix, sub, now))
            continue
        rows.append(
            TreeRow(prefix, ICON_REVISION, f"revision:{child.revision}", "", "", "", "", "")
        )
        for j, w in enumerate(child.workloads):
            w_prefix, w_sub = _branch(j == len(child.workloads) - 1, sub)
            rows.extend(_workload_rows(w, w_prefix, w_sub, now))
    return rows


HEADER = ("NAME", "KIND", "STATUS", "AGE", "INFO")


def tree_text(tree: RolloutTree, now: float) -> str:
    """The tree as aligned plain text (two spaces between columns, as the plugin's tabwriter)."""
    cells = [HEADER] + [
        (
            f"{r.prefix}{r.kind_icon} {r.name}",
            r.kind,
            f"{r.status_icon} {r.status}" if r.status else "",
            r.age,
            r.info,
        )
        for r in tree_rows(tree, now)
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADER) - 1)]
    lines = []
    for row in cells:
        parts = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append(("  ".join(parts) + "  " + row[-1]).rstrip())
    return "\n".join(lines)
