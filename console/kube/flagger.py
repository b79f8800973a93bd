"""Flagger Canary provider (flagger.app/v1beta1 canaries).

Flagger drives its own analysis loop; the console shows it and offers only the
levers Flagger's API has:

* shown: `status.phase` (Flagger's word is kept in the message), the canary
  weight `status.canaryWeight`, `status.iterations` and `status.failedChecks`;
  stable = the `<targetRef.name>-primary` Deployment, canary = `<targetRef.name>`;
  the step plan from `spec.analysis.stepWeights`, or `stepWeight` up to
  `maxWeight` (default 100, as Flagger's scheduler computes it).
* pause = merge patch `spec.suspend: true`; resume = `spec.suspend: false`.
* promote fully = merge patch `spec.skipAnalysis: true` plus the annotation
  `rollout-console.io/skip-analysis-set-at: <RFC 3339 UTC>`, conditional on
  the resourceVersion read (retried on the same run when Flagger's own status
  write wins the race). Flagger then promotes on its next interval. Once the
  Canary reaches a terminal phase (Succeeded or Failed) the console resets
  `spec.skipAnalysis: false` and removes the annotation:
  `FlaggerProvider.follow_up`, which the guard's leader runs on each
  evaluation (`KubeBackend.finish_owed_writes`; watching never writes, so
  without a guard the Canary carries a warning until someone resets it by hand
  or starts one). The annotation is what makes the reset safe: a
  `skipAnalysis: true` somebody put in git on purpose carries no such
  annotation, and the console never touches it.
* advance, roll back, retry, undo: unavailable, each with the reason.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from console.kube import weights as W
from console.kube.objects import DEPLOYMENTS, PODS, now_rfc3339, version_info
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
    ANNOTATION_PREFIX,
    Action,
    ActionResult,
    ActionUnavailable,
    Phase,
    ProviderKind,
    Role,
    Rollout,
    RolloutRef,
    Step,
    VersionInfo,
)
from console.untrusted import quote

CANARIES = ResourceType("flagger.app", "v1beta1", "canaries", "Canary", optional=True)

#: Set by promote next to spec.skipAnalysis=true: "the console owes a reset".
SKIP_ANALYSIS_ANNOTATION = ANNOTATION_PREFIX + "skip-analysis-set-at"

# Flagger's CanaryPhase values (pkg/apis/flagger/v1beta1/status.go) -> model Phase.
PHASES: Mapping[str, Phase] = {
    "Initializing": Phase.PROGRESSING,
    "Initialized": Phase.HEALTHY,
    "Waiting": Phase.PAUSED,  # held by a confirm-rollout gate
    "Progressing": Phase.PROGRESSING,
    "WaitingPromotion": Phase.PAUSED,  # held by a confirm-promotion gate
    "Promoting": Phase.PROGRESSING,
    "Finalising": Phase.PROGRESSING,
    "Succeeded": Phase.HEALTHY,
    "Failed": Phase.DEGRADED,
    "Terminating": Phase.UNKNOWN,
    "Terminated": Phase.UNKNOWN,
}
#: Phases in which a canary run is under way, so skipAnalysis can promote it.
RUNNING = frozenset({"Progressing", "Waiting", "WaitingPromotion"})
#: Phases that end a run: the promotion the console asked for is over.
TERMINAL = frozenset({"Succeeded", "Failed"})

#: Promote re-reads and retries this often when Flagger's status writes win the race.
PROMOTE_ATTEMPTS = 3

NO_ADVANCE = (
    "Flagger advances the canary itself after each successful analysis interval; "
    "the console cannot step it"
)
NO_ROLLBACK = (
    "Flagger has no manual rollback; it rolls back when analysis fails "
    "(or set spec.suspend and revert the target)"
)
NO_RETRY = "Flagger starts a new analysis by itself when the target Deployment changes"
NO_UNDO = "Flagger keeps no revision history; revert the target Deployment instead"


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return int(value)
    return None


def flagger_steps(canary: Obj) -> tuple[Step, ...]:
    """The weights Flagger walks: stepWeights, else stepWeight..maxWeight (default 100)."""
    analysis = dig(canary, "spec", "analysis", default={}) or {}
    step_weights = [
        w for w in (_int(x) for x in (dig(analysis, "stepWeights", default=[]) or [])) if w
    ]
    if step_weights:
        return W.plan_steps(tuple(min(100, w) for w in step_weights))
    step = _int(dig(analysis, "stepWeight")) or 0
    if step <= 0:
        return ()  # iterations-based (A/B testing, blue/green): no weights to walk
    max_weight = _int(dig(analysis, "maxWeight")) or 100
    plan: list[int] = []
    weight = step
    while weight < max_weight and len(plan) < 100:
        plan.append(weight)
        weight += step
    plan.append(min(max_weight, 100))
    return W.plan_steps(tuple(plan))


def _condition_message(canary: Obj) -> str:
    for cond in dig(canary, "status", "conditions", default=[]) or []:
        if dig(cond, "type") == "Promoted" and dig(cond, "message"):
            return str(cond["message"])
    return ""


def to_rollout(
    canary: Obj, deployments: Sequence[Obj], pods: Sequence[Obj], cluster: str
) -> Rollout:
    ns, name = meta(canary)
    warnings: list[str] = []
    raw_phase = dig(canary, "status", "phase")
    flagger_phase = str(raw_phase) if isinstance(raw_phase, str) else ""
    suspended = dig(canary, "spec", "suspend") is True
    skip = dig(canary, "spec", "skipAnalysis") is True
    weight = _int(dig(canary, "status", "canaryWeight")) or 0

    if not flagger_phase:
        phase = Phase.UNKNOWN
        warnings.append("no status.phase yet: Flagger has not reconciled this Canary")
        message = "no status yet (is Flagger running?)"
    elif flagger_phase not in PHASES:
        phase = Phase.UNKNOWN
        warnings.append(f"unknown Flagger phase {quote(flagger_phase)}")
        message = f"Flagger: {flagger_phase}"
    else:
        phase = PHASES[flagger_phase]
        detail = _condition_message(canary)
        message = f"Flagger: {flagger_phase}" + (f" - {detail}" if detail else "")
    if suspended:
        phase = Phase.PAUSED
        message = f"suspended (spec.suspend); {message}"

    # Versions: Flagger copies the target into <target>-primary and routes the
    # stable share there; the target itself is the canary.
    target_kind = str(dig(canary, "spec", "targetRef", "kind", default="") or "")
    target = str(dig(canary, "spec", "targetRef", "name", default="") or "")
    by_name = {meta(d)[1]: d for d in deployments}
    if target_kind != "Deployment":
        warnings.append(f"targetRef kind {target_kind or '(none)'}: versions are not shown")
        stable = VersionInfo(role=Role.STABLE, workload=f"{target}-primary" if target else "")
        canary_v = VersionInfo(role=Role.CANARY, workload=target)
    else:
        primary = by_name.get(f"{target}-primary")
        if primary is None and flagger_phase not in ("", "Initializing"):
            warnings.append(f"primary Deployment {target}-primary not found")
        if target not in by_name:
            warnings.append(f"target Deployment {target} not found")
        stable = version_info(Role.STABLE, f"{target}-primary", primary, pods)
        canary_v = version_info(Role.CANARY, target, by_name.get(target), pods)

    steps = flagger_steps(canary)
    plan = tuple(s.weight or 0 for s in steps)
    if flagger_phase == "Succeeded":
        current: int | None = len(steps)
    elif flagger_phase in ("Progressing", "WaitingPromotion", "Promoting", "Finalising"):
        current = W.steps_done(plan, Fraction(weight))
    else:
        current = 0 if steps else None

    extra: list[tuple[str, str]] = [("flagger phase", flagger_phase or "(none)")]
    iterations = _int(dig(canary, "status", "iterations"))
    wanted = _int(dig(canary, "spec", "analysis", "iterations"))
    if iterations is not None or wanted:
        extra.append(("iterations", f"{iterations or 0}" + (f"/{wanted}" if wanted else "")))
    failed = _int(dig(canary, "status", "failedChecks"))
    threshold = _int(dig(canary, "spec", "analysis", "threshold"))
    if failed is not None:
        extra.append(("failed checks", f"{failed}" + (f"/{threshold}" if threshold else "")))
    if skip:
        extra.append(("skipAnalysis", "true"))
    if follow_up_patch(canary) is not None and skip:
        # Left as is, the next release of this target would skip analysis too.
        warnings.append(
            "spec.skipAnalysis is still true after the console's promotion ended; "
            "the next release would skip analysis (the guard's leader resets it; without a guard, "
            "set it to false by hand)"
        )
    provider = dig(canary, "spec", "provider")
    if provider:
        extra.append(("mesh provider", str(provider)))

    unavailable: dict[Action, str] = {
        Action.ADVANCE: NO_ADVANCE,
        Action.ROLLBACK: NO_ROLLBACK,
        Action.RETRY: NO_RETRY,
        Action.UNDO: NO_UNDO,
    }
    if suspended:
        unavailable[Action.PAUSE] = "already suspended (spec.suspend is true)"
        unavailable[Action.PROMOTE_FULL] = (
            "the Canary is suspended; Flagger acts on skipAnalysis only after resume"
        )
    else:
        unavailable[Action.RESUME] = "not suspended (spec.suspend is false)"
    if skip:
        unavailable.setdefault(
            Action.PROMOTE_FULL, "spec.skipAnalysis is already true; Flagger promotes on its own"
        )
    elif flagger_phase not in RUNNING:
        unavailable.setdefault(
            Action.PROMOTE_FULL,
            f"no canary run in progress (Flagger phase {flagger_phase or 'none'})",
        )

    auto_rollback = ""
    if threshold and flagger_phase in RUNNING and not suspended and not skip:
        # Flagger rolls back by itself once failedChecks reaches the threshold.
        auto_rollback = f"Flagger rolls back at {threshold} failed checks ({failed or 0} so far)"

    return Rollout(
        ref=RolloutRef(cluster, ns, name),
        provider=ProviderKind.FLAGGER,
        phase=phase,
        stable=stable,
        canary=canary_v,
        aborted=flagger_phase == "Failed",
        paused=suspended or flagger_phase in ("Waiting", "WaitingPromotion"),
        message=message,
        steps=steps,
        current_step=current,
        set_weight=weight,
        actual_weight=weight,
        created_at=created_at(canary),
        warnings=tuple(warnings),
        unavailable=tuple(unavailable.items()),
        annotations=console_annotations(canary),
        auto_rollback=auto_rollback,
        extra=tuple(extra),
    )


def follow_up_patch(canary: Obj) -> dict[str, Any] | None:
    """The reset the console owes after its promote, or None when nothing is owed.

    Owed when the console's annotation is present and the run is over
    (Succeeded or Failed). If someone already set skipAnalysis back, only the
    annotation is cleaned up. The resourceVersion makes the write conditional
    on the state this decision was taken from.
    """
    ann = dig(canary, "metadata", "annotations", default={}) or {}
    if not isinstance(ann, Mapping) or SKIP_ANALYSIS_ANNOTATION not in ann:
        return None
    rv = str(dig(canary, "metadata", "resourceVersion", default="") or "")
    skip = dig(canary, "spec", "skipAnalysis") is True
    if not skip:
        return {
            "metadata": {"resourceVersion": rv, "annotations": {SKIP_ANALYSIS_ANNOTATION: None}}
        }
    if str(dig(canary, "status", "phase", default="")) not in TERMINAL:
        return None
    return {
        "metadata": {"resourceVersion": rv, "annotations": {SKIP_ANALYSIS_ANNOTATION: None}},
        "spec": {"skipAnalysis": False},
    }


def _describe(canary: Obj) -> str:
    parts = [f"phase {dig(canary, 'status', 'phase', default='') or '(none)'}"]
    parts.append(f"weight {_int(dig(canary, 'status', 'canaryWeight')) or 0}%")
    parts.append(f"suspend={str(dig(canary, 'spec', 'suspend') is True).lower()}")
    parts.append(f"skipAnalysis={str(dig(canary, 'spec', 'skipAnalysis') is True).lower()}")
    return ", ".join(parts)


class FlaggerProvider:
    kind = ProviderKind.FLAGGER
    resource = CANARIES
    related: tuple[ResourceType, ...] = (DEPLOYMENTS, PODS)
    actions: tuple[Action, ...] = (Action.PAUSE, Action.RESUME, Action.PROMOTE_FULL)

    def to_rollouts(self, objects: Sequence[Obj], related: Related, cluster: str) -> list[Rollout]:
        deps: dict[str, list[Obj]] = defaultdict(list)
        pods: dict[str, list[Obj]] = defaultdict(list)
        for d in related.get(DEPLOYMENTS, ()):
            deps[meta(d)[0]].append(d)
        for p in related.get(PODS, ()):
            pods[meta(p)[0]].append(p)
        out: list[Rollout] = []
        for obj in objects:
            ns = meta(obj)[0]
            try:
                out.append(to_rollout(obj, deps.get(ns, ()), pods.get(ns, ()), cluster))
            except Exception as exc:  # a malformed object must never take the list down
                text = f"could not read this Canary: {type(exc).__name__}: {exc}"
                out.append(
                    Rollout(
                        ref=RolloutRef(cluster, ns, meta(obj)[1]),
                        provider=ProviderKind.FLAGGER,
                        phase=Phase.UNKNOWN,
                        stable=VersionInfo(role=Role.STABLE),
                        message=text,
                        warnings=(text,),
                        unavailable=tuple((a, "the Canary could not be read") for a in Action),
                    )
                )
        return out

    def required_verbs(self, action: Action) -> list[Verb]:
        if action not in self.actions:
            return []
        return [Verb("flagger.app", "canaries", "patch")]

    def act(self, api: KubeApi, rollout: Rollout, obj: Obj, action: Action) -> ActionResult:
        ns, name = meta(obj)
        before = _describe(obj)
        if action in (Action.PAUSE, Action.RESUME):
            suspend = action is Action.PAUSE
            if bool((obj.get("spec") or {}).get("suspend")) is suspend:
                # Repeated pause or resume: nothing to write, and not an error.
                state = (
                    "already paused (spec.suspend is true)"
                    if suspend
                    else "not paused (spec.suspend is false)"
                )
                return ActionResult(
                    rollout.ref, action, f"{rollout.ref.short} is {state}.", before, before
                )
            body: dict[str, Any] = {"spec": {"suspend": suspend}}
            after = api.merge_patch(CANARIES, ns, name, body)
            word = "suspended" if suspend else "resumed"
            return ActionResult(
                rollout.ref, action, f"Canary '{name}' {word}", before, _describe(after)
            )
        if action is Action.PROMOTE_FULL:
            return self._promote(api, rollout, obj)
        reasons = {
            Action.ADVANCE: NO_ADVANCE,
            Action.ROLLBACK: NO_ROLLBACK,
            Action.RETRY: NO_RETRY,
            Action.UNDO: NO_UNDO,
        }
        raise ActionUnavailable(
            rollout.ref, action, f"{action.value} is unavailable: {reasons[action]}."
        )

    def _promote(self, api: KubeApi, rollout: Rollout, obj: Obj) -> ActionResult:
        """skipAnalysis on the run that was read as running.

        Flagger writes the Canary's status on every analysis tick, so the
        resourceVersion read a moment ago may be gone by the time the patch lands
        (409). Then the Canary is read again and, if it is still the same run (the
        same target revision, status.lastAppliedSpec) and still running, the patch
        is sent again with the new resourceVersion; a new run is refused.
        """
        ns, name = meta(obj)
        before = _describe(obj)
        run = dig(obj, "status", "lastAppliedSpec")
        for attempt in range(PROMOTE_ATTEMPTS):
            self._check_promotable(rollout, obj)
            promote: dict[str, Any] = {
                "metadata": {
                    "resourceVersion": str(dig(obj, "metadata", "resourceVersion", default="")),
                    "annotations": {SKIP_ANALYSIS_ANNOTATION: now_rfc3339()},
                },
                "spec": {"skipAnalysis": True},
            }
            try:
                after = api.merge_patch(CANARIES, ns, name, promote)
            except Exception as exc:
                if getattr(exc, "status", None) != 409 or attempt == PROMOTE_ATTEMPTS - 1:
                    raise
                obj = api.get(CANARIES, ns, name)
                if dig(obj, "status", "lastAppliedSpec") != run:
                    raise ActionUnavailable(
                        rollout.ref,
                        Action.PROMOTE_FULL,
                        f"promote refused: {rollout.ref.short} started a new run "
                        "(the target changed) since it was read.",
                    ) from None
                continue
            return ActionResult(
                rollout.ref,
                Action.PROMOTE_FULL,
                f"Canary '{name}': skipAnalysis set; Flagger promotes on its next interval "
                "and the guard's leader resets skipAnalysis once the run ends",
                before,
                _describe(after),
            )
        raise AssertionError("unreachable: the last attempt returns or raises")

    @staticmethod
    def _check_promotable(rollout: Rollout, obj: Obj) -> None:
        phase = str(dig(obj, "status", "phase", default="") or "")
        if dig(obj, "spec", "skipAnalysis") is True:
            raise ActionUnavailable(
                rollout.ref,
                Action.PROMOTE_FULL,
                f"promote refused: {rollout.ref.short} already has spec.skipAnalysis true.",
            )
        if phase not in RUNNING:
            raise ActionUnavailable(
                rollout.ref,
                Action.PROMOTE_FULL,
                f"promote refused: {rollout.ref.short} has no canary run in progress "
                f"(Flagger phase {phase or 'none'}).",
            )

    def wants_follow_up(self, obj: Obj) -> bool:
        return follow_up_patch(obj) is not None

    def follow_up(self, api: KubeApi, rollout: Rollout, obj: Obj) -> ActionResult | None:
        """Reset skipAnalysis after the console's promote has run its course.

        Meant to be called by the backend for every observed change of a Canary
        (it is cheap and a no-op unless the console's annotation is present).
        A 409 means the object moved on; the next observed change retries.
        """
        body = follow_up_patch(obj)
        if body is None:
            return None
        ns, name = meta(obj)
        before = _describe(obj)
        try:
            after = api.merge_patch(CANARIES, ns, name, body)
        except Exception as exc:
            if getattr(exc, "status", None) == 409:
                return None
            raise
        return ActionResult(
            rollout.ref,
            Action.PROMOTE_FULL,
            f"Canary '{name}': promotion finished "
            f"({dig(obj, 'status', 'phase', default='')}); spec.skipAnalysis reset to false",
            before,
            _describe(after),
        )


PROVIDERS = [FlaggerProvider()]
