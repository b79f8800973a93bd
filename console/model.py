"""The domain model: what a rollout is, independent of where it came from.

Plain frozen dataclasses. This module imports neither textual nor kubernetes
(an import-linter contract in pyproject.toml keeps it so), so every source,
the headless CLI and the UI can share it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from console.untrusted import clean_line


class Phase(enum.StrEnum):
    HEALTHY = "Healthy"
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    DEGRADED = "Degraded"
    UNKNOWN = "Unknown"


class ProviderKind(enum.StrEnum):
    DEMO = "demo"
    ARGO = "argo"
    ISTIO = "istio"
    GATEWAY = "gateway"
    FLAGGER = "flagger"


class Role(enum.StrEnum):
    STABLE = "stable"
    CANARY = "canary"


class StepKind(enum.StrEnum):
    SET_WEIGHT = "setWeight"
    PAUSE = "pause"
    ANALYSIS = "analysis"
    EXPERIMENT = "experiment"
    SET_CANARY_SCALE = "setCanaryScale"
    SET_HEADER_ROUTE = "setHeaderRoute"
    SET_MIRROR_ROUTE = "setMirrorRoute"
    PLUGIN = "plugin"
    UNKNOWN = "unknown"


class Action(enum.StrEnum):
    ADVANCE = "advance"
    PROMOTE_FULL = "promote"
    PAUSE = "pause"
    RESUME = "resume"
    ROLLBACK = "rollback"
    RETRY = "retry"
    UNDO = "undo"

    @property
    def dangerous(self) -> bool:
        """Dangerous actions ask for confirmation in the UI and --yes off a TTY."""
        return self in (Action.PROMOTE_FULL, Action.ROLLBACK, Action.UNDO)

    @property
    def label(self) -> str:
        return _ACTION_LABELS[self]


_ACTION_LABELS = {
    # As the Argo CLI names them: `promote` goes one step, `promote --full` all of them.
    Action.ADVANCE: "Promote (next step)",
    Action.PROMOTE_FULL: "Promote --full",
    Action.PAUSE: "Pause",
    Action.RESUME: "Resume",
    Action.ROLLBACK: "Roll back (abort)",
    Action.RETRY: "Retry",
    Action.UNDO: "Undo to previous revision",
}

#: Every annotation the console reads or writes lives under this prefix.
ANNOTATION_PREFIX = "rollout-console.io/"

# Tags that can point at a different image tomorrow: "same tag, same image" breaks.
MOVING_TAGS = frozenset({"", "latest", "stable", "main", "master", "dev", "nightly", "edge"})


@dataclass(frozen=True)
class Image:
    """A container image reference, split the way registries read it."""

    repository: str
    tag: str = ""
    digest: str = ""

    @classmethod
    def parse(cls, ref: str) -> Image:
        ref = ref.strip()
        digest = ""
        if "@" in ref:
            ref, digest = ref.split("@", 1)
        tag = ""
        # A colon after the last slash is a tag; one before it is a registry port.
        slash = ref.rfind("/")
        colon = ref.rfind(":")
        if colon > slash:
            ref, tag = ref[:colon], ref[colon + 1 :]
        return cls(repository=ref, tag=tag, digest=digest)

    @property
    def reference(self) -> str:
        out = self.repository
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out

    @property
    def short(self) -> str:
        """Last path element and tag: what fits in a table column."""
        name = self.repository.rsplit("/", 1)[-1]
        return f"{name}:{self.tag or 'latest'}"

    @property
    def moving(self) -> bool:
        """A moving tag without a digest: the same name may not mean the same image."""
        return not self.digest and self.tag in MOVING_TAGS


@dataclass(frozen=True)
class VersionInfo:
    """One side of a canary: what runs, and how much of it is ready."""

    role: Role
    revision: str = ""
    pod_hash: str = ""
    label: str = ""  # e.g. the `version` label value, "v1"
    workload: str = ""  # ReplicaSet/Deployment name
    images: tuple[Image, ...] = ()
    desired: int = 0
    ready: int = 0
    pods: tuple[str, ...] = ()  # pod names, for joining per-pod metrics (GPU)

    @property
    def moving_image(self) -> bool:
        return any(image.moving for image in self.images)

    @property
    def display(self) -> str:
        """Short human name of the version: image tag, else label, else revision."""
        if self.images:
            return self.images[0].tag or "latest"
        return self.label or self.revision or "?"


@dataclass(frozen=True)
class Step:
    kind: StepKind
    weight: int | None = None  # setWeight
    duration_s: float | None = None  # pause; None = indefinite
    detail: str = ""  # free text for steps the console doesn't model

    @property
    def text(self) -> str:
        if self.kind is StepKind.SET_WEIGHT:
            return f"setWeight {self.weight}%"
        if self.kind is StepKind.PAUSE:
            return f"pause {format_duration(self.duration_s)}" if self.duration_s else "pause ∞"
        return f"{self.kind.value} {self.detail}".strip()


@dataclass(frozen=True)
class AnalysisMetric:
    """One metric of an Argo AnalysisRun, as `kubectl argo rollouts get rollout` shows it."""

    name: str
    phase: str = ""  # Pending | Running | Successful | Failed | Error | Inconclusive
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0
    last_value: str = ""  # the latest measurement's value, as the controller stored it
    condition: str = ""  # successCondition / failureCondition
    dry_run: bool = False  # measured, but a failure does not abort the rollout

    @property
    def counts(self) -> str:
        """The plugin's symbols: ✔ successful, ✖ failed, ? inconclusive, ⚠ error."""
        parts = [
            f"{symbol} {n}"
            for symbol, n in (
                ("✔", self.successful),
                ("✖", self.failed),
                ("?", self.inconclusive),
                ("⚠", self.error),
            )
            if n
        ]
        return ",".join(parts)


@dataclass(frozen=True)
class AnalysisInfo:
    """An Argo AnalysisRun of the rollout's current canary (step or background)."""

    name: str
    phase: str = ""
    kind: str = ""  # "step" | "background" | "" (another run of this canary)
    message: str = ""
    metrics: tuple[AnalysisMetric, ...] = ()

    @property
    def running(self) -> bool:
        return self.phase in ("", "Pending", "Running")

    @property
    def armed_metrics(self) -> tuple[str, ...]:
        """Metrics whose failure makes the controller abort: running, not dry-run."""
        if not self.running:
            return ()
        return tuple(m.name for m in self.metrics if not m.dry_run)


@dataclass(frozen=True)
class RolloutRef:
    """Identifies a rollout across clusters."""

    cluster: str
    namespace: str
    name: str

    @cached_property
    def key(self) -> str:
        # Cached: the list and the store ask for it for every rollout on every redraw.
        return f"{self.cluster}/{self.namespace}/{self.name}"

    @property
    def short(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Replicas:
    """The workload's pod counts, as `kubectl argo rollouts list rollouts` prints them."""

    desired: int
    current: int
    updated: int
    ready: int
    available: int


@dataclass(frozen=True)
class RouteSides:
    """The two destinations of a mesh route's split, by name (a DestinationRule subset,
    or a Service backendRef): what an action on the route must find unchanged."""

    stable: str
    canary: str


@dataclass(frozen=True)
class Rollout:
    ref: RolloutRef
    provider: ProviderKind
    phase: Phase
    stable: VersionInfo
    canary: VersionInfo | None = None
    aborted: bool = False
    # Frozen by an operator (Argo spec.paused, the mesh annotation, Flagger
    # spec.suspend). Waiting at a pause step is not this: see `current`.
    paused: bool = False
    message: str = ""
    steps: tuple[Step, ...] = ()
    current_step: int | None = None  # index into steps; == len(steps) when done
    set_weight: int = 0  # the weight the rollout asks for
    actual_weight: int = 0  # the weight the traffic router applies
    pause_remaining_s: float | None = None  # countdown of a timed pause step
    created_at: float = 0.0  # unix seconds
    warnings: tuple[str, ...] = ()  # malformed-object notes, shown not hidden
    # Why an action is not available for this object; absent = available.
    unavailable: tuple[tuple[Action, str], ...] = ()
    #: The console's own annotations (keys under ANNOTATION_PREFIX): the gate set, the
    #: guard's opt-in and the guard's pause/acknowledgement records. Sanitised values.
    annotations: tuple[tuple[str, str], ...] = ()
    #: Argo AnalysisRuns of the current canary (detail view).
    analysis: tuple[AnalysisInfo, ...] = ()
    #: Where the controller can still roll back by itself, one sentence: "controller
    #: auto-abort armed: error-rate, latency" (Argo) or Flagger's failed checks against
    #: its threshold. "" = the controller will not roll back on its own.
    auto_rollback: str = ""
    #: Argo's status counts (None where the provider has none: the versions carry theirs).
    replicas: Replicas | None = None
    #: Mesh canaries: the split's two destinations as last read.
    route: RouteSides | None = None
    #: Details for `get -o json` only: nothing on screen and no action reads them, which
    #: is why a change only here is no reason to redraw.
    extra: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def annotation(self, key: str) -> str | None:
        for k, v in self.annotations:
            if k == key:
                return v
        return None

    @property
    def unavailable_reasons(self) -> Mapping[Action, str]:
        return dict(self.unavailable)

    def why_unavailable(self, action: Action) -> str | None:
        return self.unavailable_reasons.get(action)

    @property
    def step_label(self) -> str:
        """ "i/n" exactly as `kubectl argo rollouts` prints it: "-" with no steps or no
        current index yet, and an out-of-range index shown as it is, not clamped."""
        if not self.steps or self.current_step is None:
            return "-"
        return f"{self.current_step}/{len(self.steps)}"

    @property
    def current(self) -> Step | None:
        if self.current_step is None or not 0 <= self.current_step < len(self.steps):
            return None
        return self.steps[self.current_step]

    @property
    def attention(self) -> int:
        """Higher means look here first: sort key for the list."""
        if self.phase is Phase.DEGRADED or self.aborted:
            return 3
        if self.warnings or self.phase is Phase.UNKNOWN:
            return 2
        if (
            self.phase is Phase.PAUSED
            or self.stable.moving_image
            or (self.canary is not None and self.canary.moving_image)
        ):
            return 1
        return 0

    @property
    def status_text(self) -> str:
        """Phase as words, never colour alone."""
        text = self.phase.value
        if self.aborted and "abort" not in text.lower():
            text += " (aborted)"
        return text


def format_duration(seconds: float | None) -> str:
    """Compact k9s-style duration: 45s, 3m10s, 2h5m, 3d4h."""
    if seconds is None:
        return "-"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s}s" if s else f"{m}m"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h}h{m}m" if m else f"{h}h"
    d, h = divmod(h, 24)
    return f"{d}d{h}h" if h else f"{d}d"


# --- results and errors -------------------------------------------------------


@dataclass(frozen=True)
class ActionResult:
    ref: RolloutRef
    action: Action
    message: str  # one sentence, shown as-is
    before: str = ""  # e.g. "step 2/6, weight 10%"
    after: str = ""


@dataclass(frozen=True)
class Seen:
    """What the operator saw when the key was pressed. An advance is "from step i to
    i+1": if the object has moved on since, it is refused rather than taking one more
    step (ten people who all saw 10 % must not promote it fully)."""

    step: int | None = None
    weight: int | None = None

    @classmethod
    def of(cls, rollout: Rollout) -> Seen:
        return cls(step=rollout.current_step, weight=rollout.set_weight)


class ConsoleError(Exception):
    """An error whose text is one clear sentence fit for an operator.

    The sentence often quotes the cluster (a server message, an annotation), so
    it is made one clean line here, once, for every place that shows it.
    """

    #: What a headless command exits with for it (console/exit_codes.py).
    exit_code = 1

    def __init__(self, message: str = "") -> None:
        super().__init__(clean_line(str(message)))


class ConfigError(ConsoleError):
    """Usage or configuration: a kubeconfig that cannot be read, an unknown context."""

    exit_code = 2


class UnavailableError(ConsoleError):
    """The cluster (or Prometheus) could not be reached or did not answer in time."""

    exit_code = 3


class ActionError(ConsoleError):
    def __init__(self, ref: RolloutRef, action: Action, message: str) -> None:
        super().__init__(message)
        self.ref = ref
        self.action = action


class ActionUnavailable(ActionError):
    """Refused before anything was sent: read-only, RBAC, or provider limits."""


# --- the change stream -----------------------------------------------------------


@dataclass(frozen=True)
class Upserted:
    rollout: Rollout


@dataclass(frozen=True)
class Removed:
    ref: RolloutRef


@dataclass(frozen=True)
class Snapshot:
    """The whole current list (after a (re)list): replaces what the UI holds."""

    rollouts: tuple[Rollout, ...]
    cluster: str = ""  # "" = every cluster of the backend


@dataclass(frozen=True)
class ConnectionState:
    """Whether the stream is live; data is stale since `since` when not."""

    connected: bool
    message: str = ""
    since: float = 0.0
    cluster: str = ""


@dataclass(frozen=True)
class Notices:
    """Standing problems that are not an outage: a kind this identity may not list
    (403), no canary CRDs installed. Replaces the cluster's previous notices; an
    empty tuple clears them."""

    messages: tuple[str, ...]
    cluster: str = ""


StreamEvent = Upserted | Removed | Snapshot | ConnectionState | Notices


# --- metrics ---------------------------------------------------------------------


class Metric(enum.StrEnum):
    LATENCY_P50 = "latency_p50_ms"
    LATENCY_P99 = "latency_p99_ms"
    ERROR_PCT = "error_pct"  # 5xx share of requests, in percent
    REQUEST_RATE = "request_rate"  # requests/s
    GPU_UTIL = "gpu_util_pct"  # 0..100, mean per GPU
    # Per GPU, never summed over pods: stable on 4 pods and a canary on 1 compare like
    # for like.
    GPU_MEMORY = "gpu_memory_gib"  # mean memory used per GPU
    GPU_MEMORY_MAX = "gpu_memory_max_gib"  # the fullest GPU of the version
    GPU_COUNT = "gpu_count"  # GPUs reporting for the version

    @property
    def unit(self) -> str:
        return _METRIC_UNITS[self]


_METRIC_UNITS = {
    Metric.LATENCY_P50: "ms",
    Metric.LATENCY_P99: "ms",
    Metric.ERROR_PCT: "%",
    Metric.REQUEST_RATE: "req/s",
    Metric.GPU_UTIL: "%",
    Metric.GPU_MEMORY: "GiB",
    Metric.GPU_MEMORY_MAX: "GiB",
    Metric.GPU_COUNT: "GPUs",
}


class MetricsState(enum.StrEnum):
    OK = "ok"
    NO_DATA = "no data"
    UNAVAILABLE = "metrics unavailable"


@dataclass(frozen=True)
class Series:
    """(unix seconds, value) pairs, oldest first."""

    points: tuple[tuple[float, float], ...] = ()

    @property
    def latest(self) -> float | None:
        return self.points[-1][1] if self.points else None

    def thinned(self, width: int) -> Series:
        return Series(thin(self.points, width))


def thin(points: tuple[tuple[float, float], ...], width: int) -> tuple[tuple[float, float], ...]:
    """Keep at most `width` points, bucket maxima so spikes survive thinning."""
    n = len(points)
    if width <= 0 or n <= width:
        return points
    out: list[tuple[float, float]] = []
    for i in range(width):
        bucket = points[i * n // width : (i + 1) * n // width]
        if bucket:
            t = bucket[-1][0]
            out.append((t, max(v for _, v in bucket)))
    return tuple(out)


@dataclass(frozen=True)
class VersionMetrics:
    role: Role
    series: Mapping[Metric, Series] = field(default_factory=dict)

    def get(self, metric: Metric) -> Series:
        return self.series.get(metric, Series())


@dataclass(frozen=True)
class RolloutMetrics:
    ref: RolloutRef
    stable: VersionMetrics
    canary: VersionMetrics | None
    state: MetricsState = MetricsState.OK
    reason: str = ""  # for UNAVAILABLE / NO_DATA
    taken_at: float = 0.0  # unix seconds of the newest fetch
    window_s: float = 0.0

    def version(self, role: Role) -> VersionMetrics | None:
        return self.stable if role is Role.STABLE else self.canary
