"""Argo Rollouts provider: read Rollouts the way `kubectl argo rollouts` does, act as it does.

Pinned to the semantics of argo-rollouts v1.10.1 (the controller the lab runs):

* phase/message: utils/rollout/rolloututil.go GetRolloutPhase (+ CalculateRolloutPhase);
* step i/n, set weight, actual weight: pkg/kubectl-argo-rollouts/info/rollout_info.go and
  utils/replicaset/canary.go GetCurrentCanaryStep / GetCurrentSetWeight,
  weightutil.MaxTrafficWeight;
* stable/canary ReplicaSets: info/replicaset_info.go (owner UID, rollouts-pod-template-hash vs
  status.stableRS / status.currentPodHash);
* actions: cmd/promote (default and --full), cmd/pause, cmd/abort, cmd/retry, cmd/undo.

Everything above `ArgoProvider.act` is pure (dicts in, model out) and unit-tested on dicts.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from console.kube.index import owner_key, owner_keys
from console.kube.objects import ARGO_ROLLOUTS
from console.kube.provider import (
    KubeApi,
    Obj,
    Related,
    ResourceType,
    Verb,
    console_annotations,
    created_at,
    dig,
    meta,
)
from console.model import (
    Action,
    ActionError,
    ActionResult,
    ActionUnavailable,
    AnalysisInfo,
    AnalysisMetric,
    Image,
    Phase,
    ProviderKind,
    Replicas,
    Role,
    Rollout,
    RolloutRef,
    Step,
    StepKind,
    VersionInfo,
)
from console.untrusted import one_line, quote

HASH_LABEL = "rollouts-pod-template-hash"  # v1alpha1.DefaultRolloutUniqueLabelKey
REVISION_ANNOTATION = "rollout.argoproj.io/revision"

# Optional: a mesh-only cluster (no Argo CRD) still shows its Istio/Gateway canaries.
ROLLOUTS = ARGO_ROLLOUTS
# Only the ReplicaSets/Pods that Argo manages carry the hash label: an existence
# selector keeps the watch from pulling every Deployment's ReplicaSets and Pods.
REPLICASETS = ResourceType("apps", "v1", "replicasets", "ReplicaSet", label_selector=HASH_LABEL)
PODS = ResourceType("", "v1", "pods", "Pod", label_selector=HASH_LABEL)
# The controller's analysis of each canary: shown live, and whether it can still abort.
ANALYSISRUNS = ResourceType("argoproj.io", "v1alpha1", "analysisruns", "AnalysisRun", optional=True)
# undo lists by the Rollout's own selector, as cmd/undo does.
ALL_REPLICASETS = ResourceType("apps", "v1", "replicasets", "ReplicaSet")

_PHASES = {p.value: p for p in Phase}

_KNOWN_STEP_KEYS = {
    "setWeight": StepKind.SET_WEIGHT,
    "pause": StepKind.PAUSE,
    "analysis": StepKind.ANALYSIS,
    "experiment": StepKind.EXPERIMENT,
    "setCanaryScale": StepKind.SET_CANARY_SCALE,
    "setHeaderRoute": StepKind.SET_HEADER_ROUTE,
    "setMirrorRoute": StepKind.SET_MIRROR_ROUTE,
    "plugin": StepKind.PLUGIN,
}


# --- pure helpers ---------------------------------------------------------------------


_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")


def parse_duration(value: Any) -> float | None:
    """Argo pause durations are intstr: an int is seconds, a string is a Go duration ("1h30m")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    pos, total = 0, 0.0
    for match in _DURATION_RE.finditer(text):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    return total if pos == len(text) and pos > 0 else None


def parse_step(raw: Any, index: int) -> tuple[Step, str | None]:
    """One canary step and, for an unreadable one, a warning (CanaryStepString says "invalid")."""
    if not isinstance(raw, Mapping):
        return Step(StepKind.UNKNOWN, detail="invalid"), f"step {index} is not an object"
    kinds = [key for key in raw if key in _KNOWN_STEP_KEYS]
    unknown = sorted(str(key) for key in raw if key not in _KNOWN_STEP_KEYS)
    if not kinds:
        what = ", ".join(unknown) if unknown else "empty"
        return Step(StepKind.UNKNOWN, detail="invalid"), f"step {index} has no known type ({what})"
    key = kinds[0]
    kind = _KNOWN_STEP_KEYS[key]
    value = raw[key]
    warning = f"step {index} has unknown fields: {', '.join(unknown)}" if unknown else None
    if kind is StepKind.SET_WEIGHT:
        if isinstance(value, int) and not isinstance(value, bool):
            return Step(kind, weight=value), warning
        return Step(StepKind.UNKNOWN, detail=f"setWeight {quote(value)}"), (
            f"step {index} has a non-integer setWeight {quote(value)}"
        )
    if kind is StepKind.PAUSE:
        duration = parse_duration(value.get("duration")) if isinstance(value, Mapping) else None
        return Step(kind, duration_s=duration), warning
    if kind is StepKind.SET_CANARY_SCALE and isinstance(value, Mapping):
        # Same words as CanaryStepString.
        if value.get("weight") is not None:
            detail = f"{{weight: {value['weight']}}}"
        elif value.get("matchTrafficWeight"):
            detail = "{matchTrafficWeight: true}"
        elif value.get("replicas") is not None:
            detail = f"{{replicas: {value['replicas']}}}"
        else:
            detail = ""
        return Step(kind, detail=detail), warning
    if kind is StepKind.PLUGIN and isinstance(value, Mapping):
        return Step(kind, detail=str(value.get("name", ""))), warning
    if kind is StepKind.SET_HEADER_ROUTE and isinstance(value, Mapping):
        return Step(kind, detail=str(value.get("name", ""))), warning
    return Step(kind), warning


def _int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    return default


def canary_steps(ro: Obj) -> list[Any]:
    steps = dig(ro, "spec", "strategy", "canary", "steps")
    return steps if isinstance(steps, list) else []


def is_canary(ro: Obj) -> bool:
    return isinstance(dig(ro, "spec", "strategy", "canary"), Mapping)


def current_canary_step(ro: Obj) -> tuple[Any | None, int | None]:
    """GetCurrentCanaryStep: (step or None, index or None)."""
    steps = canary_steps(ro)
    if not is_canary(ro) or not steps:
        return None, None
    index = _int(dig(ro, "status", "currentStepIndex"), 0)
    if len(steps) <= index:
        return None, index
    if index < 0:  # a corrupt index; Go would panic, we read it as the first step
        index = 0
    return steps[index], index


def max_traffic_weight(ro: Obj) -> int:
    value = dig(ro, "spec", "strategy", "canary", "trafficRouting", "maxTrafficWeight")
    return value if isinstance(value, int) and not isinstance(value, bool) else 100


def current_set_weight(ro: Obj) -> int:
    """GetCurrentSetWeight (v1.10.1)."""
    if dig(ro, "status", "abort") is True:
        return 0
    step, index = current_canary_step(ro)
    if step is None or index is None:
        return max_traffic_weight(ro)
    steps = canary_steps(ro)
    for i in range(index, -1, -1):
        weight = dig(steps[i], "setWeight")
        if isinstance(weight, int) and not isinstance(weight, bool):
            return weight
    return 0


def actual_weight(ro: Obj, canary_rs: Obj | None) -> int:
    """ActualWeight as info.NewRolloutInfo computes it."""
    set_weight = current_set_weight(ro)
    step, _ = current_canary_step(ro)
    if step is None:
        return max_traffic_weight(ro)
    available = _int(dig(ro, "status", "availableReplicas"))
    if available <= 0:
        return 0
    if dig(ro, "spec", "strategy", "canary", "trafficRouting") is None:
        if canary_rs is None:
            return 0
        rs_available = _int(dig(canary_rs, "status", "availableReplicas"))
        # Go integer division of non-negative int32s.
        return (rs_available * max_traffic_weight(ro)) // available
    weights = dig(ro, "status", "canary", "weights")
    if isinstance(weights, Mapping):
        return _int(dig(weights, "canary", "weight"))
    return set_weight


def _generation_observed(ro: Obj) -> bool:
    observed = dig(ro, "status", "observedGeneration")
    try:
        observed_gen = int(str(observed))
    except ValueError:
        return True  # v0.9 hashes, or absent: Atoi fails and the plugin says "observed"
    generation = _int(dig(ro, "metadata", "generation"))
    return observed_gen >= generation


def _workload_generation_observed(ro: Obj) -> bool:
    annotation = dig(ro, "metadata", "annotations", "rollout.argoproj.io/workload-generation")
    if annotation is None:
        return True
    try:
        workload_gen = int(str(annotation))
    except ValueError:
        workload_gen = 0
    try:
        observed = int(str(dig(ro, "status", "workloadObservedGeneration")))
    except ValueError:
        return True
    return observed == workload_gen


def calculate_phase(ro: Obj) -> tuple[str, str]:
    """CalculateRolloutPhase: the controller's own calculation (fallback for old controllers)."""
    status = ro.get("status") if isinstance(ro.get("status"), Mapping) else {}
    spec = ro.get("spec") if isinstance(ro.get("spec"), Mapping) else {}
    assert isinstance(status, Mapping) and isinstance(spec, Mapping)
    for cond in status.get("conditions") or []:
        if not isinstance(cond, Mapping):
            continue
        if cond.get("type") == "InvalidSpec":
            return "Degraded", f"InvalidSpec: {cond.get('message', '')}"
        if cond.get("reason") in ("RolloutAborted", "ProgressDeadlineExceeded"):
            return "Degraded", f"{cond.get('reason')}: {cond.get('message', '')}"
    if spec.get("paused") is True:
        return "Paused", "manually paused"
    for pause in status.get("pauseConditions") or []:
        return "Paused", str(dig(pause, "reason", default=""))
    restart_at = spec.get("restartAt")
    if restart_at and status.get("restartedAt") != restart_at:
        return "Progressing", "rollout is restarting"
    desired = _int(spec.get("replicas"), 1) if spec.get("replicas") is not None else 1
    updated = _int(status.get("updatedReplicas"))
    available = _int(status.get("availableReplicas"))
    replicas = _int(status.get("replicas"))
    if updated < desired:
        return "Progressing", "more replicas need to be updated"
    if available < updated:
        return "Progressing", "updated replicas are still becoming available"
    stable, current = status.get("stableRS") or "", status.get("currentPodHash") or ""
    strategy = spec.get("strategy") if isinstance(spec.get("strategy"), Mapping) else {}
    assert isinstance(strategy, Mapping)
    if isinstance(strategy.get("blueGreen"), Mapping):
        active = dig(status, "blueGreen", "activeSelector", default="")
        if not active or active != current:
            return "Progressing", "active service cutover pending"
        if not stable or stable != current:
            if dig(strategy, "blueGreen", "postPromotionAnalysis") is not None:
                run = dig(status, "blueGreen", "postPromotionAnalysisRunStatus", "status")
                if run not in ("Successful", "Failed", "Error", "Inconclusive"):
                    return "Progressing", "waiting for analysis to complete"
            return "Progressing", "waiting for post-promotion verification to complete"
    elif isinstance(strategy.get("canary"), Mapping):
        if dig(strategy, "canary", "trafficRouting") is None and replicas > updated:
            return "Progressing", "old replicas are pending termination"
        if not stable or stable != current:
            return "Progressing", "waiting for all steps to complete"
    return "Healthy", ""


def rollout_phase(ro: Obj) -> tuple[str, str]:
    """GetRolloutPhase: what `kubectl argo rollouts get/list` shows."""
    if not _generation_observed(ro):
        return "Progressing", "waiting for rollout spec update to be observed"
    if dig(ro, "status", "controllerPause") is True and not dig(ro, "status", "pauseConditions"):
        return "Progressing", "waiting for rollout to unpause"
    if dig(ro, "spec", "templateResolvedFromRef") is True and not _workload_generation_observed(ro):
        return (
            "Progressing",
            "waiting for rollout spec update to be observed for the reference workload",
        )
    phase = dig(ro, "status", "phase")
    if isinstance(phase, str) and phase:
        return phase, str(dig(ro, "status", "message", default="") or "")
    return calculate_phase(ro)


def _owned_by(obj: Obj, owner_uid: str, owner_kind: str, owner_name: str) -> bool:
    refs = dig(obj, "metadata", "ownerReferences")
    if not isinstance(refs, list):
        return False
    for ref in refs:
        if not isinstance(ref, Mapping):
            continue
        if owner_uid and ref.get("uid") == owner_uid:
            return True
        # Hand-written fixtures may lack UIDs: fall back to kind + name.
        if not owner_uid and ref.get("kind") == owner_kind and ref.get("name") == owner_name:
            return True
    return False


def _revision(rs: Obj) -> int | None:
    """`revision()` of cmd/undo: a missing annotation is 0, an unparsable one is skipped."""
    value = dig(rs, "metadata", "annotations", REVISION_ANNOTATION)
    if value is None:
        return 0
    try:
        return int(str(value))
    except ValueError:
        return None


def owned_replicasets(ro: Obj, replicasets: Sequence[Obj]) -> list[Obj]:
    ns, name = meta(ro)
    uid = str(dig(ro, "metadata", "uid", default="") or "")
    return [rs for rs in replicasets if meta(rs)[0] == ns and _owned_by(rs, uid, "Rollout", name)]


def _images(template: Any) -> tuple[Image, ...]:
    containers = dig(template, "spec", "containers")
    if not isinstance(containers, list):
        return ()
    return tuple(
        Image.parse(c["image"])
        for c in containers
        if isinstance(c, Mapping) and isinstance(c.get("image"), str)
    )


# Pod-template labels that name a version the way the mesh's metrics do
# (Istio's destination_version / destination_canonical_revision come from these).
VERSION_LABELS = ("version", "app.kubernetes.io/version", "service.istio.io/canonical-revision")


def _version_label(template: Any) -> str:
    labels = dig(template, "metadata", "labels")
    if not isinstance(labels, Mapping):
        return ""
    for key in VERSION_LABELS:
        value = labels.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def _version(
    role: Role, pod_hash: str, rs: Obj | None, pods: Sequence[Obj], fallback_template: Any
) -> VersionInfo:
    if rs is None:
        return VersionInfo(
            role=role,
            pod_hash=pod_hash,
            label=_version_label(fallback_template) if fallback_template else "",
            images=_images(fallback_template) if fallback_template else (),
        )
    rev = _revision(rs)
    rs_uid = str(dig(rs, "metadata", "uid", default="") or "")
    rs_name = meta(rs)[1]
    pod_names = sorted(
        meta(p)[1]
        for p in pods
        if _owned_by(p, rs_uid, "ReplicaSet", rs_name)
        and dig(p, "metadata", "deletionTimestamp") is None
    )
    return VersionInfo(
        role=role,
        revision=str(rev) if rev is not None else "",
        pod_hash=pod_hash,
        workload=rs_name,
        label=_version_label(dig(rs, "spec", "template")),
        images=_images(dig(rs, "spec", "template")),
        desired=_int(dig(rs, "spec", "replicas"), 1)
        if dig(rs, "spec", "replicas") is not None
        else 1,
        ready=_int(dig(rs, "status", "readyReplicas")),
        pods=tuple(pod_names),
    )


def pause_remaining(ro: Obj, now: float) -> float | None:
    """Seconds left in a timed CanaryPauseStep, from its startTime and the step's duration."""
    step, _ = current_canary_step(ro)
    duration = parse_duration(dig(step, "pause", "duration")) if step is not None else None
    if duration is None:
        return None
    for cond in dig(ro, "status", "pauseConditions", default=[]) or []:
        if isinstance(cond, Mapping) and cond.get("reason") == "CanaryPauseStep":
            started = created_at({"metadata": {"creationTimestamp": cond.get("startTime")}})
            if started:
                return max(0.0, started + duration - now)
    return None


def describe(ro: Obj) -> str:
    """Short state text for events and the audit log: "step 2/6, weight 10%, paused"."""
    parts: list[str] = []
    steps = canary_steps(ro)
    index = dig(ro, "status", "currentStepIndex")
    if steps and isinstance(index, int):
        parts.append(f"step {index}/{len(steps)}")
    if is_canary(ro):
        parts.append(f"weight {current_set_weight(ro)}%")
    if dig(ro, "spec", "paused") is True:
        parts.append("paused")
    if dig(ro, "status", "pauseConditions"):
        reasons = ",".join(
            str(c.get("reason", ""))
            for c in ro["status"]["pauseConditions"]
            if isinstance(c, Mapping)
        )
        parts.append(f"pauseConditions {reasons}")
    if dig(ro, "status", "abort") is True:
        parts.append("aborted")
    if dig(ro, "status", "promoteFull") is True:
        parts.append("promoteFull")
    return ", ".join(parts) or "-"


def _dry_run_names(run: Obj) -> list[str]:
    return [
        str(d.get("metricName"))
        for d in dig(run, "spec", "dryRun", default=[]) or []
        if isinstance(d, Mapping) and d.get("metricName")
    ]


def _is_dry_run(name: str, patterns: Sequence[str]) -> bool:
    """spec.dryRun metricName: "*" for every metric, else a regular expression (as Argo)."""
    for pattern in patterns:
        if pattern == "*":
            return True
        try:
            if re.fullmatch(pattern, name):
                return True
        except re.error:
            if pattern == name:
                return True
    return False


def _condition(spec_metric: Mapping[str, Any]) -> str:
    parts = []
    if spec_metric.get("successCondition"):
        parts.append(f"success: {spec_metric['successCondition']}")
    if spec_metric.get("failureCondition"):
        parts.append(f"failure: {spec_metric['failureCondition']}")
    return "; ".join(parts)


def analysis_info(run: Obj, kind: str = "") -> AnalysisInfo:
    """One AnalysisRun: per metric phase, counts, last value and condition (sanitised)."""
    patterns = _dry_run_names(run)
    spec_metrics = {
        str(m.get("name")): m
        for m in dig(run, "spec", "metrics", default=[]) or []
        if isinstance(m, Mapping)
    }
    results = {
        str(m.get("name")): m
        for m in dig(run, "status", "metricResults", default=[]) or []
        if isinstance(m, Mapping)
    }
    metrics: list[AnalysisMetric] = []
    for name in dict.fromkeys([*spec_metrics, *results]):
        result = results.get(name, {})
        spec_metric = spec_metrics.get(name, {})
        measurements = result.get("measurements")
        last = ""
        if isinstance(measurements, list) and measurements:
            latest = measurements[-1]
            if isinstance(latest, Mapping) and latest.get("value") is not None:
                last = one_line(latest["value"], 80)
        dry = result.get("dryRun")
        metrics.append(
            AnalysisMetric(
                name=one_line(name, 120),
                phase=one_line(result.get("phase") or "Pending", 40),
                successful=_int(result.get("successful")),
                failed=_int(result.get("failed")),
                inconclusive=_int(result.get("inconclusive")),
                error=_int(result.get("error")),
                last_value=last,
                condition=one_line(_condition(spec_metric), 200),
                dry_run=dry if isinstance(dry, bool) else _is_dry_run(name, patterns),
            )
        )
    return AnalysisInfo(
        name=one_line(meta(run)[1], 253),
        phase=one_line(dig(run, "status", "phase", default="") or "", 40),
        kind=kind,
        message=one_line(dig(run, "status", "message", default="") or ""),
        metrics=tuple(metrics),
    )


def canary_analysis(ro: Obj, runs: Sequence[Obj]) -> tuple[AnalysisInfo, ...]:
    """The current canary's AnalysisRuns: the step and background runs the status names,
    then any other run of this Rollout for the current pod hash."""
    ns, name = meta(ro)
    uid = str(dig(ro, "metadata", "uid", default="") or "")
    current_hash = str(dig(ro, "status", "currentPodHash", default="") or "")
    named = {
        str(
            dig(ro, "status", "canary", "currentStepAnalysisRunStatus", "name", default="")
        ): "step",
        str(
            dig(ro, "status", "canary", "currentBackgroundAnalysisRunStatus", "name", default="")
        ): "background",
    }
    named.pop("", None)
    out: list[AnalysisInfo] = []
    for run in runs:
        run_ns, run_name = meta(run)
        if run_ns != ns or not _owned_by(run, uid, "Rollout", name):
            continue
        kind = named.get(run_name, "")
        run_hash = dig(run, "metadata", "labels", HASH_LABEL)
        if not kind and (not current_hash or run_hash != current_hash):
            continue
        out.append(analysis_info(run, kind))
    order = {"step": 0, "background": 1, "": 2}
    return tuple(sorted(out, key=lambda a: (order.get(a.kind, 3), a.name)))


def auto_abort_text(analysis: Sequence[AnalysisInfo]) -> str:
    armed = list(dict.fromkeys(m for a in analysis for m in a.armed_metrics))
    if not armed:
        return ""
    return f"controller auto-abort armed: {', '.join(armed)}"


def to_rollout(
    ro: Obj,
    replicasets: Sequence[Obj],
    pods: Sequence[Obj],
    cluster: str,
    now: float,
    runs: Sequence[Obj] = (),
) -> Rollout:
    ns, name = meta(ro)
    ref = RolloutRef(cluster, ns, name)
    warnings: list[str] = []

    raw_steps = dig(ro, "spec", "strategy", "canary", "steps")
    if raw_steps is not None and not isinstance(raw_steps, list):
        warnings.append("spec.strategy.canary.steps is not a list")
    raw_index = dig(ro, "status", "currentStepIndex")
    if raw_index is not None and (not isinstance(raw_index, int) or isinstance(raw_index, bool)):
        warnings.append(f"status.currentStepIndex {quote(raw_index)} is not an integer")
    steps: list[Step] = []
    for i, raw in enumerate(canary_steps(ro)):
        step, warning = parse_step(raw, i)
        steps.append(step)
        if warning:
            warnings.append(warning)

    status = ro.get("status")
    has_status = isinstance(status, Mapping) and bool(status)
    phase_text, message = rollout_phase(ro)
    if not has_status:
        phase = Phase.UNKNOWN
        warnings.append("no status: the Argo Rollouts controller has not reconciled this Rollout")
        message = message or "no status yet"
    elif phase_text in _PHASES:
        phase = _PHASES[phase_text]
    else:
        phase = Phase.UNKNOWN
        warnings.append(f"unknown phase {quote(phase_text)}")

    canary_cfg = is_canary(ro)
    if not canary_cfg and not isinstance(dig(ro, "spec", "strategy", "blueGreen"), Mapping):
        warnings.append("spec.strategy has neither canary nor blueGreen")

    stable_hash = str(dig(ro, "status", "stableRS", default="") or "")
    current_hash = str(dig(ro, "status", "currentPodHash", default="") or "")
    owned = owned_replicasets(ro, replicasets)
    by_hash: dict[str, Obj] = {}
    for rs in owned:
        h = dig(rs, "metadata", "labels", HASH_LABEL)
        if isinstance(h, str):
            by_hash[h] = rs
    template = dig(ro, "spec", "template")
    stable = _version(
        Role.STABLE,
        stable_hash,
        by_hash.get(stable_hash) if stable_hash else None,
        pods,
        template if stable_hash and stable_hash == current_hash else None,
    )
    canary: VersionInfo | None = None
    if current_hash and current_hash != stable_hash:
        canary = _version(Role.CANARY, current_hash, by_hash.get(current_hash), pods, template)
    elif not stable_hash and not has_status:
        stable = VersionInfo(role=Role.STABLE, images=_images(template))

    current_step: int | None = None
    index = dig(ro, "status", "currentStepIndex")
    if steps and isinstance(index, int) and not isinstance(index, bool):
        current_step = index
        if not 0 <= index <= len(steps):
            warnings.append(f"status.currentStepIndex {index} is outside 0..{len(steps)}")

    canary_rs = by_hash.get(current_hash) if current_hash and current_hash != stable_hash else None
    set_weight = current_set_weight(ro) if canary_cfg else 0
    act_weight = actual_weight(ro, canary_rs) if canary_cfg else 0

    spec_replicas = dig(ro, "spec", "replicas")
    desired = spec_replicas if isinstance(spec_replicas, int) else 1
    extra = (
        (
            "strategy",
            "Canary"
            if canary_cfg
            else "BlueGreen"
            if dig(ro, "spec", "strategy", "blueGreen")
            else "unknown",
        ),
        ("generation", str(dig(ro, "metadata", "generation", default=""))),
        ("observedGeneration", str(dig(ro, "status", "observedGeneration", default=""))),
    )
    unavailable: list[tuple[Action, str]] = []
    if not canary_cfg:
        unavailable.append((Action.ADVANCE, "only canary Rollouts are supported"))

    analysis = canary_analysis(ro, runs) if canary is not None else ()
    return Rollout(
        ref=ref,
        provider=ProviderKind.ARGO,
        phase=phase,
        stable=stable,
        canary=canary,
        aborted=dig(ro, "status", "abort") is True,
        # Operator pause only (the model's meaning): a pause step sets pauseConditions
        # and controllerPause, never spec.paused.
        paused=dig(ro, "spec", "paused") is True,
        message=message,
        steps=tuple(steps),
        current_step=current_step,
        set_weight=set_weight,
        actual_weight=act_weight,
        pause_remaining_s=pause_remaining(ro, now),
        created_at=created_at(ro),
        warnings=tuple(warnings),
        unavailable=tuple(unavailable),
        annotations=console_annotations(ro),
        analysis=analysis,
        auto_rollback=auto_abort_text(analysis),
        replicas=Replicas(
            desired=desired,
            current=_int(dig(ro, "status", "replicas")),
            updated=_int(dig(ro, "status", "updatedReplicas")),
            ready=_int(dig(ro, "status", "readyReplicas")),
            available=_int(dig(ro, "status", "availableReplicas")),
        ),
        extra=extra,
    )


def broken_rollout(ro: Obj, cluster: str, error: Exception) -> Rollout:
    ns, name = meta(ro)
    return Rollout(
        ref=RolloutRef(cluster, ns, name or "?"),
        provider=ProviderKind.ARGO,
        phase=Phase.UNKNOWN,
        stable=VersionInfo(role=Role.STABLE),
        message="unreadable Rollout",
        warnings=(f"could not read this Rollout: {type(error).__name__}: {error}",),
        created_at=created_at(ro) if isinstance(ro, Mapping) else 0.0,
    )


# --- patches, exactly as the plugin builds them --------------------------------------


#: A step write that conflicts only with the controller's own status updates is
#: tried again from a fresh read this many times in all.
STEP_WRITE_ATTEMPTS = 3


def refuse_unreconciled(rollout: Rollout, ro: Obj, action: Action) -> None:
    """Refuse to move a Rollout the controller has not caught up with.

    Argo computes steps from its own status; a step index written into a status
    the controller never filled (or for a spec it has not seen yet) is a guess.
    """
    generation = dig(ro, "metadata", "generation")
    observed = dig(ro, "status", "observedGeneration")
    steps = canary_steps(ro)
    index = dig(ro, "status", "currentStepIndex")
    ref = rollout.ref.short
    if observed is None or (is_canary(ro) and steps and index is None):
        raise ActionUnavailable(
            rollout.ref,
            action,
            f"{action.value} refused: the Argo controller has never reconciled {ref} "
            "(status.observedGeneration is unset); is the controller running?",
        )
    if action is Action.ADVANCE and generation is not None and str(observed) != str(generation):
        raise ActionUnavailable(
            rollout.ref,
            action,
            f"advance refused: the Argo controller has not caught up with {ref} yet "
            f"(status.observedGeneration {observed}, metadata.generation {generation}); "
            "try again in a moment.",
        )
    if isinstance(index, int) and not 0 <= index <= len(steps):
        raise ActionUnavailable(
            rollout.ref,
            action,
            f"{action.value} refused: {ref} has status.currentStepIndex {index}, outside its "
            f"{len(steps)} steps.",
        )


def promote_patches(
    ro: Obj, full: bool
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, dict[str, Any] | None]:
    """getPatches(ro, skipCurrentStep=false, skipAllSteps=false, full): (spec, status, unified)."""
    spec_patch: dict[str, Any] | None = None
    status_patch: dict[str, Any] | None = None
    unified: dict[str, Any] | None = None
    paused = dig(ro, "spec", "paused") is True
    pause_conditions = dig(ro, "status", "pauseConditions")
    has_pause_conditions = isinstance(pause_conditions, list) and len(pause_conditions) > 0
    steps = canary_steps(ro)
    if full:
        if paused:
            spec_patch = {"spec": {"paused": False}}
        if dig(ro, "status", "currentPodHash") != dig(ro, "status", "stableRS"):
            status_patch = {"status": {"promoteFull": True}}
        unified = {"spec": {"paused": False}, "status": {"promoteFull": True}}
        return spec_patch, status_patch, unified

    unified = {"spec": {"paused": False}, "status": {"pauseConditions": None}}
    if paused:
        spec_patch = {"spec": {"paused": False}}
    inconclusive = (
        is_canary(ro)
        and dig(ro, "status", "canary", "currentStepAnalysisRunStatus", "status") == "Inconclusive"
    )
    if inconclusive and has_pause_conditions and dig(ro, "status", "controllerPause") is True:
        _, index = current_canary_step(ro)
        if index is not None:
            if index < len(steps):
                index += 1
            status_patch = {
                "status": {
                    "pauseConditions": None,
                    "controllerPause": False,
                    "currentStepIndex": index,
                }
            }
    elif has_pause_conditions:
        status_patch = {"status": {"pauseConditions": None}}
    elif is_canary(ro):
        # Promoting in the middle of an analysis/experiment step: move to the next step.
        _, index = current_canary_step(ro)
        if index is not None:
            if index < len(steps):
                index += 1
            status_patch = {"status": {"pauseConditions": None, "currentStepIndex": index}}
            unified = {
                "spec": {"paused": False},
                "status": {"pauseConditions": None, "currentStepIndex": index},
            }
    return spec_patch, status_patch, unified


def _derivative(a1: Any, a2: Any) -> bool:
    """apimachinery equality.Semantic.DeepDerivative: unset fields of a1 are ignored."""
    if a1 is None:
        return True
    if isinstance(a1, Mapping):
        if not a1:
            return True
        if not isinstance(a2, Mapping) or len(a1) > len(a2):
            return False
        return all(_derivative(v, a2.get(k)) if k in a2 else _empty(v) for k, v in a1.items())
    if isinstance(a1, list):
        if not isinstance(a2, list) or len(a1) != len(a2):
            return False
        return all(_derivative(x, y) for x, y in zip(a1, a2, strict=True))
    if isinstance(a1, str) and a1 == "":
        return True
    return bool(a1 == a2)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == {} or value == []


def _without_hash(template: Any) -> dict[str, Any]:
    import copy

    out: dict[str, Any] = copy.deepcopy(dict(template)) if isinstance(template, Mapping) else {}
    labels = dig(out, "metadata", "labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
        if not labels:
            # Go's map with omitempty: an emptied label map is not sent at all.
            del out["metadata"]["labels"]
    return out


def undo_target(ro: Obj, replicasets: Sequence[Obj]) -> Obj | None:
    """rolloutRevision(ro, toRevision=0): the second-newest revision among owned ReplicaSets."""
    latest_rev, previous_rev = -1, -1
    latest: Obj | None = None
    previous: Obj | None = None
    for rs in replicasets:
        v = _revision(rs)
        if v is None:
            continue
        if latest_rev < v:
            previous_rev, previous = latest_rev, latest
            latest_rev, latest = v, rs
        elif previous_rev < v:
            previous_rev, previous = v, rs
    return previous


def undo_patch(ro: Obj, target: Obj) -> list[dict[str, Any]] | None:
    """The JSON patch cmd/undo sends, or None when the template already matches."""
    ro_template = _without_hash(dig(ro, "spec", "template") or {})
    rs_template = _without_hash(dig(target, "spec", "template") or {})
    if _derivative(ro_template, rs_template):
        return None
    return [{"op": "replace", "path": "/spec/template", "value": rs_template}]


def _selector_string(ro: Obj) -> str:
    """metav1.LabelSelectorAsSelector for matchLabels + matchExpressions."""
    sel = dig(ro, "spec", "selector")
    if not isinstance(sel, Mapping):
        return ""
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for expr in sel.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(sorted(values))})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(sorted(values))})")
        elif op == "Exists":
            parts.append(str(key))
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def _is_controlled_by(rs: Obj, ro: Obj) -> bool:
    uid = dig(ro, "metadata", "uid")
    for ref in dig(rs, "metadata", "ownerReferences", default=[]) or []:
        if isinstance(ref, Mapping) and ref.get("controller") is True:
            return bool(ref.get("uid") == uid)
    return False


def _by_owner(objects: Sequence[Obj]) -> dict[str, list[Obj]]:
    """Objects under each owner key they name (UID, and kind/namespace/name), in order."""
    out: dict[str, list[Obj]] = defaultdict(list)
    for obj in objects:
        try:
            keys = owner_keys(obj)
        except Exception:  # a malformed object is simply owned by nobody
            continue
        for key in keys:
            out[key].append(obj)
    return out


def _unique(objects: Iterable[Obj]) -> list[Obj]:
    return list({id(o): o for o in objects}.values())


# --- the provider -------------------------------------------------------------------


class ArgoProvider:
    kind = ProviderKind.ARGO
    resource = ROLLOUTS
    related: tuple[ResourceType, ...] = (REPLICASETS, PODS, ANALYSISRUNS)
    #: Related kinds matched by owner reference only: the backend finds a Pod's or a
    #: ReplicaSet's Rollout through its owner index and rebuilds that Rollout alone.
    owned: tuple[ResourceType, ...] = (REPLICASETS, PODS, ANALYSISRUNS)
    actions: tuple[Action, ...] = tuple(Action)

    def to_rollouts(self, objects: Sequence[Obj], related: Related, cluster: str) -> list[Rollout]:
        now = time.time()
        # Group related objects by owner once: a namespace of 2,000 Rollouts must not
        # mean 2,000 scans of its ReplicaSets and Pods (console/kube/index.py's keys).
        rs_by_owner = _by_owner(related.get(REPLICASETS, ()))
        pods_by_owner = _by_owner(related.get(PODS, ()))
        runs_by_owner = _by_owner(related.get(ANALYSISRUNS, ()))
        out: list[Rollout] = []
        for ro in objects:
            try:
                key = owner_key(ro, "Rollout")
                replicasets = rs_by_owner.get(key, [])
                pods = _unique(
                    p
                    for rs in replicasets
                    for p in pods_by_owner.get(owner_key(rs, "ReplicaSet"), [])
                )
                out.append(
                    to_rollout(ro, replicasets, pods, cluster, now, runs_by_owner.get(key, []))
                )
            except Exception as exc:  # a malformed object must never take the list down
                out.append(broken_rollout(ro, cluster, exc))
        return out

    def required_verbs(self, action: Action) -> list[Verb]:
        spec = Verb("argoproj.io", "rollouts", "patch")
        status = Verb("argoproj.io", "rollouts", "patch", "status")
        if action in (Action.ADVANCE, Action.PROMOTE_FULL):
            return [spec, status]
        if action in (Action.PAUSE, Action.RESUME):
            return [spec]
        if action in (Action.ROLLBACK, Action.RETRY):
            return [status]
        if action is Action.UNDO:
            return [spec, Verb("apps", "replicasets", "list")]
        return []

    def act(self, api: KubeApi, rollout: Rollout, obj: Obj, action: Action) -> ActionResult:
        ns, name = meta(obj)
        before = describe(obj)
        after_obj: Obj = obj
        message: str
        if action in (Action.ADVANCE, Action.PROMOTE_FULL):
            full = action is Action.PROMOTE_FULL
            if (
                full
                and dig(obj, "status", "currentPodHash") == dig(obj, "status", "stableRS")
                and (dig(obj, "spec", "paused") is not True)
            ):
                return ActionResult(
                    rollout.ref,
                    action,
                    f"{rollout.ref.short} is already fully promoted.",
                    before,
                    before,
                )
            refuse_unreconciled(rollout, obj, action)
            after_obj = self._promote(api, obj, full, rollout)
            message = f"rollout '{name}' {'fully promoted' if full else 'promoted'}"
        elif action is Action.PAUSE:
            if dig(obj, "spec", "paused") is True:
                return ActionResult(
                    rollout.ref, action, f"{rollout.ref.short} is already paused.", before, before
                )
            after_obj = api.merge_patch(ROLLOUTS, ns, name, {"spec": {"paused": True}})
            message = f"rollout '{name}' paused"
        elif action is Action.RESUME:
            if dig(obj, "spec", "paused") is not True:
                return ActionResult(
                    rollout.ref,
                    action,
                    f"{rollout.ref.short} is not paused by an operator (spec.paused is false); "
                    "use advance to pass a pause step.",
                    before,
                    before,
                )
            after_obj = api.merge_patch(ROLLOUTS, ns, name, {"spec": {"paused": False}})
            message = f"rollout '{name}' resumed"
        elif action in (Action.ROLLBACK, Action.RETRY):
            body = {"status": {"abort": action is Action.ROLLBACK}}
            after_obj = self._status_patch(api, ns, name, body)
            message = f"rollout '{name}' {'aborted' if action is Action.ROLLBACK else 'retried'}"
        elif action is Action.UNDO:
            after_obj, message = self._undo(api, rollout, obj)
        else:  # pragma: no cover - Action is a closed enum
            raise ActionUnavailable(rollout.ref, action, f"{action.value} is not supported.")
        return ActionResult(rollout.ref, action, message, before, describe(after_obj))

    @staticmethod
    def _status_patch(api: KubeApi, ns: str, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Status subresource first; a 404 means an old CRD without it (as abort.go/retry.go do)."""
        try:
            return api.merge_patch(ROLLOUTS, ns, name, body, subresource="status")
        except Exception as exc:
            if getattr(exc, "status", None) != 404:
                raise
            return api.merge_patch(ROLLOUTS, ns, name, body)

    def _promote(self, api: KubeApi, obj: Obj, full: bool, rollout: Rollout) -> Obj:
        ns, name = meta(obj)
        spec_patch, status_patch, unified = promote_patches(obj, full)
        result: Obj = obj
        held = bool(dig(obj, "status", "pauseConditions"))
        for attempt in range(STEP_WRITE_ATTEMPTS):
            if status_patch is None:
                break
            version = dig(obj, "metadata", "resourceVersion")
            if not full and version:
                # An advance is "from the status read": a concurrent advance (or the
                # controller moving on) makes this write conflict instead of clearing
                # the next pause too, or writing an older step index back.
                status_patch = {**status_patch, "metadata": {"resourceVersion": version}}
            try:
                result = api.merge_patch(ROLLOUTS, ns, name, status_patch, subresource="status")
                break
            except Exception as exc:
                status = getattr(exc, "status", None)
                if status == 404:
                    spec_patch = unified
                    break
                if status != 409 or full or attempt == STEP_WRITE_ATTEMPTS - 1:
                    raise
            obj = api.get(ROLLOUTS, ns, name)
            _, now = current_canary_step(obj)
            # Moved on, or its pause already cleared by someone else's advance (the
            # controller has yet to take the step): writing again would take another.
            if now != rollout.current_step or bool(dig(obj, "status", "pauseConditions")) != held:
                raise ActionError(
                    rollout.ref,
                    Action.PROMOTE_FULL if full else Action.ADVANCE,
                    f"advance refused: {rollout.ref.short} moved to step {now} while this "
                    "advance was being written; press again to advance from there.",
                )
            spec_patch, status_patch, unified = promote_patches(obj, full)
        if spec_patch is not None:
            result = api.merge_patch(ROLLOUTS, ns, name, spec_patch)
        return result

    def _undo(self, api: KubeApi, rollout: Rollout, obj: Obj) -> tuple[Obj, str]:
        ns, name = meta(obj)
        if dig(obj, "spec", "workloadRef") is not None:
            raise ActionUnavailable(
                rollout.ref,
                Action.UNDO,
                "undo of a Rollout with spec.workloadRef is not supported by the console; "
                "use kubectl argo rollouts undo.",
            )
        listed = api.list(ALL_REPLICASETS, ns, _selector_string(obj))
        owned = [rs for rs in listed if _is_controlled_by(rs, obj)]
        target = undo_target(obj, owned)
        if target is None:
            raise ActionUnavailable(
                rollout.ref, Action.UNDO, f"no previous revision found for rollout {name!r}."
            )
        ops = undo_patch(obj, target)
        rev = _revision(target)
        if ops is None:
            return obj, "skipped rollback (current template already matches revision 0)"
        after = api.json_patch(ROLLOUTS, ns, name, ops)
        return after, f"rollout '{name}' undo (to revision {rev})"


PROVIDERS = [ArgoProvider()]
