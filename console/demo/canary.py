"""One simulated Argo Rollouts canary: step machine, pods, traffic and actions.

State moves only in whole simulated ticks (`tick`), and randomness comes from
the rollout's own RNG seeded by (seed, namespace, name), so a rollout's story
does not change when other rollouts are added or when the cluster is polled
more or less often.
"""

from __future__ import annotations

import math
import random
from collections import deque

from console.demo.ring import SampleRing
from console.demo.scenarios import Release, ScenarioSpec, image_for, next_release
from console.demo.traffic import FIELDS, Load, sample_version
from console.guard.gates import PAUSED_AT_ANNOTATION
from console.model import (
    Action,
    ActionError,
    ActionResult,
    ActionUnavailable,
    Image,
    Phase,
    ProviderKind,
    Role,
    Rollout,
    RolloutRef,
    Step,
    StepKind,
    VersionInfo,
    format_duration,
)

TICK_S = 1.0
#: The guard records its pauses here (console.guard.gates.PAUSED_AT_ANNOTATION).
GUARD_PAUSED_AT = PAUSED_AT_ANNOTATION
#: Ticks between two metric samples of a rollout (rollouts are staggered).
SAMPLE_EVERY = 2
#: Simulated seconds of samples kept per version.
HISTORY_S = 1800.0
EVENTS_KEPT = 50

# What Kubernetes uses for generated name suffixes: no vowels, no look-alikes.
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


_GERUNDS = {
    Action.ADVANCE: "advancing",
    Action.PROMOTE_FULL: "promoting",
    Action.PAUSE: "pausing",
    Action.RESUME: "resuming",
}


def _random_name(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(_NAME_ALPHABET) for _ in range(length))


class SimPod:
    __slots__ = ("name", "ready_at")

    def __init__(self, name: str, ready_at: float) -> None:
        self.name = name
        self.ready_at = ready_at


class SimVersion:
    """A ReplicaSet of one revision, and the samples of its pods."""

    def __init__(
        self, rollout: str, revision: int, release: Release, image: Image, rng: random.Random
    ) -> None:
        self.revision = revision
        self.release = release
        self.image = image
        self.pod_hash = _random_name(rng, 9)
        self.workload = f"{rollout}-{self.pod_hash}"
        self.started_at: float | None = None
        self.pods: list[SimPod] = []
        self._all_ready_at = -math.inf  # when the last pod turns Ready
        self.ring = SampleRing(int(HISTORY_S / (SAMPLE_EVERY * TICK_S)), len(FIELDS))

    @property
    def desired(self) -> int:
        return len(self.pods)

    def ready(self, t: float) -> int:
        if t >= self._all_ready_at:  # the common case, asked every sample
            return len(self.pods)
        return sum(1 for pod in self.pods if pod.ready_at <= t)

    def scale_up(self, count: int, ready_at: list[float], rng: random.Random) -> None:
        for at in ready_at[: max(0, count - len(self.pods))]:
            self.pods.append(SimPod(f"{self.workload}-{_random_name(rng, 5)}", at))
            self._all_ready_at = max(self._all_ready_at, at)

    def info(self, role: Role, t: float) -> VersionInfo:
        return VersionInfo(
            role=role,
            revision=str(self.revision),
            pod_hash=self.pod_hash,
            label=f"v{self.revision}",
            workload=self.workload,
            images=(self.image,),
            desired=self.desired,
            ready=self.ready(t),
            pods=tuple(pod.name for pod in self.pods),
        )


class SimRollout:
    def __init__(self, spec: ScenarioSpec, seed: int, cluster: str, origin: float) -> None:
        self.spec = spec
        self.seed = seed
        self.ref = RolloutRef(cluster, spec.namespace, spec.name)
        #: rollout-console.io/ annotations (the guard's records), as on a real object.
        self.annotations: dict[str, str] = dict(spec.annotations)
        self.rng = random.Random(f"{seed}/{spec.namespace}/{spec.name}")
        self.origin = origin
        self.created_at = origin - spec.created_age_s
        self.begin_tick = -math.ceil(max(spec.warmup_s, spec.canary_since_s))
        # Spread sampling over ticks so no single tick samples every rollout.
        self.sample_offset = self.rng.randrange(SAMPLE_EVERY)
        self.load = Load(spec.base_rps, self.rng.uniform(0.0, 2 * math.pi))
        self.events: deque[tuple[float, str]] = deque(maxlen=EVENTS_KEPT)
        self.script: dict[int, list[Action]] = {}
        for at, action in spec.scripted:
            self.script.setdefault(round(at), []).append(action)

        begin = origin + self.begin_tick * TICK_S
        self.revision = spec.stable_revision
        self.stable = self._version(spec.stable)
        self._scale(self.stable, spec.replicas, begin, preloaded=True)
        self.stable.started_at = begin - spec.created_age_s
        self.previous = spec.previous
        self.canary: SimVersion | None = None
        self.steps: tuple[Step, ...] = spec.steps
        self.step_index = len(self.steps)
        self.set_weight = 100
        self.actual_weight = 100
        self.pause_remaining: float | None = None
        self.operator_paused = False
        self.aborted = False
        self.release_at: float | None = None
        if spec.first_release_in_s is not None:
            self.release_at = origin + spec.first_release_in_s
        self._pending_canary: tuple[Release, int] | None = None
        self._model: Rollout | None = None
        self._model_signature: tuple[object, ...] = ()
        if spec.canary is not None:
            canary_begin = origin - spec.canary_since_s
            self.release_at = canary_begin  # started by the first tick that reaches it
            self._pending_canary = (spec.canary, spec.start_step)

    # --- the clock ------------------------------------------------------------

    def tick(self, tick: int, t: float) -> None:
        """Advance one simulated second ending at `t`."""
        if self.canary is None:
            if self.release_at is not None and t >= self.release_at:
                self._start_release(t)
        elif not self.aborted and not self.operator_paused:
            self._progress(t)
        actions = self.script.get(tick)
        if actions:
            for action in actions:
                try:
                    self.act(action, t, who="on-call")
                except ActionError as error:
                    self._event(t, f"on-call {action.value} failed: {error}")
        if (tick + self.sample_offset) % SAMPLE_EVERY == 0:
            self._sample(t)

    def _start_release(self, t: float) -> None:
        pending = self._pending_canary
        self._pending_canary = None
        self.release_at = None
        if pending is not None:
            self._begin_canary(pending[0], t, pending[1])
        else:
            self._begin_canary(next_release(self.stable.release), t, 0)

    def _progress(self, t: float) -> None:
        canary = self.canary
        assert canary is not None
        if self.actual_weight != self.set_weight:
            # Argo shifts traffic only once the canary ReplicaSet is available:
            # model servers are not Ready until the model is loaded.
            if self.set_weight > self.actual_weight and canary.ready(t) < canary.desired:
                return
            self.actual_weight = self.set_weight
            self._event(t, f"traffic shifted: canary takes {self.actual_weight}%")
        n = len(self.steps)
        if self.step_index >= n:
            if self.actual_weight >= 100:
                self._promote(t)
            return
        step = self.steps[self.step_index]
        if step.kind is StepKind.PAUSE:
            if self.pause_remaining is None:
                return
            self.pause_remaining -= TICK_S
            if self.pause_remaining > 0:
                return
        self._enter(self.step_index + 1, t)

    # --- transitions ----------------------------------------------------------

    def _version(self, release: Release) -> SimVersion:
        image = image_for(self.seed, self.spec.repository, release)
        return SimVersion(self.spec.name, self.revision, release, image, self.rng)

    def _scale(self, version: SimVersion, count: int, t: float, preloaded: bool = False) -> None:
        low, high = self.spec.load_s
        # Draw a load time for every new pod in one go, whatever `preloaded`,
        # to keep the RNG sequence independent of how the story started.
        loads = [self.rng.uniform(low, high) for _ in range(max(0, count - version.desired))]
        ready_at = [t if preloaded else t + load for load in loads]
        version.scale_up(count, ready_at, self.rng)
        if version.started_at is None:
            version.started_at = t

    def _canary_replicas(self, weight: int) -> int:
        return max(1, math.ceil(self.spec.replicas * weight / 100))

    def _begin_canary(self, release: Release, t: float, start_step: int) -> None:
        self.revision += 1
        self.canary = self._version(release)
        self.aborted = False
        self.operator_paused = False
        done = [s.weight for s in self.steps[:start_step] if s.kind is StepKind.SET_WEIGHT]
        settled = done[-1] if done and done[-1] is not None else 0
        self.set_weight = self.actual_weight = settled
        if settled:
            self._scale(self.canary, self._canary_replicas(settled), t, preloaded=True)
        self._event(t, f"update to revision {self.revision} ({release.tag}) started")
        self._enter(start_step, t)

    def _enter(self, index: int, t: float) -> None:
        n = len(self.steps)
        self.step_index = index
        self.pause_remaining = None
        if index >= n:
            self._set_weight(100, t)
            self._event(t, "all steps done: promoting the canary to 100%")
            return
        step = self.steps[index]
        if step.kind is StepKind.SET_WEIGHT:
            self._set_weight(step.weight or 0, t)
        elif step.kind is StepKind.PAUSE:
            self.pause_remaining = step.duration_s
        what = "waiting for advance" if step.text == "pause ∞" else step.text
        self._event(t, f"step {index}/{n}: {what}")

    def _set_weight(self, weight: int, t: float) -> None:
        self.set_weight = weight
        if self.canary is not None and weight > 0:
            self._scale(self.canary, self._canary_replicas(weight), t)

    def _promote(self, t: float) -> None:
        canary = self.canary
        assert canary is not None
        old = self.stable
        self.previous = old.release
        self.stable = canary
        self.canary = None
        self.set_weight = self.actual_weight = 100
        self.step_index = len(self.steps)
        self._event(
            t,
            f"promoted: revision {canary.revision} ({canary.release.tag}) is stable, "
            f"revision {old.revision} scaled down",
        )
        if self.spec.release_every_s is not None:
            self.release_at = t + self.spec.release_every_s

    def _event(self, t: float, text: str) -> None:
        self.events.append((t, text))

    # --- metrics --------------------------------------------------------------

    def _sample(self, t: float) -> None:
        total = self.load.total(t - self.origin, self.rng)
        canary = self.canary
        share = self.actual_weight / 100.0 if canary is not None else 0.0
        self._sample_version(self.stable, total * (1.0 - share), t)
        if canary is not None:
            self._sample_version(canary, total * share, t)

    def _sample_version(self, version: SimVersion, rps: float, t: float) -> None:
        uptime = t - (version.started_at if version.started_at is not None else t)
        row = sample_version(
            version.release.profile, rps, version.desired, version.ready(t), uptime, self.rng
        )
        version.ring.append(t, row)

    # --- what the console sees ------------------------------------------------

    def at_pause_step(self) -> bool:
        if self.canary is None or self.aborted or self.step_index >= len(self.steps):
            return False
        return self.steps[self.step_index].kind is StepKind.PAUSE

    def waiting_for_advance(self) -> bool:
        return self.at_pause_step() and self.pause_remaining is None

    def phase_and_message(self, t: float) -> tuple[Phase, str]:
        canary = self.canary
        if canary is None:
            return Phase.HEALTHY, ""
        if self.aborted:
            return Phase.DEGRADED, f"Rollout aborted update to revision {canary.revision}"
        if self.operator_paused:
            if GUARD_PAUSED_AT in self.annotations:
                return Phase.PAUSED, "Paused by the guard"
            return Phase.PAUSED, "Paused by an operator"
        if self.waiting_for_advance():
            return Phase.PAUSED, "Pause step: waiting for advance"
        if self.at_pause_step():
            return Phase.PAUSED, "Pause step: timed"
        ready = canary.ready(t)
        if ready < canary.desired:
            return (
                Phase.PROGRESSING,
                f"Canary pods loading the model ({ready}/{canary.desired} ready)",
            )
        if self.step_index >= len(self.steps):
            return Phase.PROGRESSING, "Promoting: canary takes all traffic"
        return Phase.PROGRESSING, f"Shifting traffic to {self.set_weight}%"

    def _signature(self, t: float) -> tuple[object, ...]:
        """Everything model() reads that can change: keep in step with it."""
        stable, canary = self.stable, self.canary
        return (
            self.step_index,
            self.set_weight,
            self.actual_weight,
            self.pause_remaining,
            self.operator_paused,
            self.aborted,
            tuple(sorted(self.annotations.items())),
            stable,
            stable.revision,
            stable.desired,
            stable.ready(t),
            canary,
            canary.desired if canary is not None else 0,
            canary.ready(t) if canary is not None else 0,
        )

    def model(self, t: float) -> Rollout:
        # Most rollouts do not change in a given second; the list of 200 is
        # asked for every second, and an unchanged object compares by identity.
        signature = self._signature(t)
        if self._model is None or signature != self._model_signature:
            self._model = self._build_model(t)
            self._model_signature = signature
        return self._model

    def _build_model(self, t: float) -> Rollout:
        phase, message = self.phase_and_message(t)
        return Rollout(
            ref=self.ref,
            provider=ProviderKind.DEMO,
            phase=phase,
            stable=self.stable.info(Role.STABLE, t),
            canary=self.canary.info(Role.CANARY, t) if self.canary is not None else None,
            aborted=self.aborted,
            paused=self.operator_paused,
            message=message,
            steps=self.steps,
            current_step=self.step_index,
            set_weight=self.set_weight,
            actual_weight=self.actual_weight,
            pause_remaining_s=self.pause_remaining if self.at_pause_step() else None,
            created_at=self.created_at,
            annotations=tuple(sorted(self.annotations.items())),
            extra=(
                ("gpu", f"{self.spec.gpu} · {self.stable.release.profile.card_gib:g} GiB"),
                ("traffic", f"Istio VirtualService {self.ref.short}"),
                ("replicas", str(self.spec.replicas)),
            ),
        )

    def position(self) -> str:
        """For ActionResult.before/after: "step 2/6, weight 10%"."""
        n = len(self.steps)
        text = f"step {min(self.step_index, n)}/{n}, weight {self.actual_weight}%"
        if self.actual_weight != self.set_weight:
            text += f" (set {self.set_weight}%)"
        if self.aborted:
            text += ", aborted"
        elif self.operator_paused:
            text += ", paused"
        elif self.pause_remaining is not None and self.at_pause_step():
            text += f", pause {format_duration(self.pause_remaining)} left"
        return text

    # --- actions --------------------------------------------------------------

    def act(self, action: Action, t: float, who: str = "operator") -> ActionResult:
        before = self.position()
        message = self._apply(action, t)
        after = self.position()
        self._event(t, f"{who}: {action.label.lower()} ({before} → {after})")
        return ActionResult(self.ref, action, message, before, after)

    def _refuse(self, action: Action, why: str) -> ActionError:
        return ActionError(self.ref, action, f"{self.spec.name} {why}")

    def _apply(self, action: Action, t: float) -> str:
        name = self.spec.name
        n = len(self.steps)
        canary = self.canary
        if action is Action.UNDO:
            return self._undo(t)
        if action is Action.RETRY:
            if canary is None or not self.aborted:
                raise self._refuse(action, "is not aborted, so there is nothing to retry.")
            self.aborted = False
            self._enter(0, t)
            return f"Retrying {name} from the first step."
        if canary is None:
            raise self._refuse(
                action,
                "is fully promoted: there is no canary to "
                + {
                    Action.ADVANCE: "advance.",
                    Action.PROMOTE_FULL: "promote.",
                    Action.PAUSE: "pause.",
                    Action.RESUME: "resume.",
                    Action.ROLLBACK: "roll back (undo returns to the previous version).",
                }.get(action, "act on."),
            )
        if action is Action.ROLLBACK:
            if self.aborted:
                raise self._refuse(action, "is already aborted: all traffic is on stable.")
            self.aborted = True
            self.operator_paused = False
            self.set_weight = self.actual_weight = 0
            self.step_index = 0
            self.pause_remaining = None
            return (
                f"Aborted {name}: all traffic is back on revision {self.stable.revision}; "
                "the canary keeps running for investigation."
            )
        if self.aborted:
            raise self._refuse(action, f"is aborted: retry it before {_GERUNDS[action]}.")
        if action is Action.PAUSE:
            if self.operator_paused:
                return f"{name} is already paused."  # repeated pauses are harmless
            self.operator_paused = True
            return f"Paused {name} at weight {self.actual_weight}%."
        if action is Action.RESUME:
            if self.operator_paused:
                self.operator_paused = False
                return f"Resumed {name} from weight {self.actual_weight}%."
            if self.waiting_for_advance():
                return (
                    f"{name} is not paused by an operator; it waits at a pause step with "
                    "no duration: advance it to continue."
                )
            return f"{name} is not paused."
        if action is Action.ADVANCE:
            if self.step_index >= n:
                raise self._refuse(action, "has done all its steps and is being promoted.")
            self.operator_paused = False
            self._enter(self.step_index + 1, t)
            if self.step_index >= n:
                return f"Advanced {name} past its last step: promoting."
            step = self.steps[self.step_index]
            return f"Advanced {name} to step {self.step_index}/{n}: {step.text}."
        if action is Action.PROMOTE_FULL:
            if self.step_index >= n:
                raise self._refuse(action, "is already being promoted fully.")
            self.operator_paused = False
            self._enter(n, t)
            return (
                f"Promoting {name} fully: the canary scales to {self.spec.replicas} replicas "
                "and takes all traffic once ready."
            )
        raise self._refuse(action, f"does not support {action.value}.")

    def _undo(self, t: float) -> str:
        name = self.spec.name
        canary = self.canary
        if canary is not None:
            # Undo to the previous revision is the stable template: Argo skips
            # the steps and goes straight back, like a fast rollback.
            self.revision += 1
            self.stable.revision = self.revision
            self.canary = None
            self.aborted = False
            self.operator_paused = False
            self.set_weight = self.actual_weight = 100
            self.step_index = len(self.steps)
            self.pause_remaining = None
            self._event(t, f"revision {canary.revision} ({canary.release.tag}) scaled down")
            return f"Undid {name}: back on {self.stable.release.tag} as revision {self.revision}."
        previous = self.previous
        if previous is None:
            raise ActionUnavailable(
                self.ref, Action.UNDO, f"{name} has no previous revision to undo to."
            )
        self.release_at = None
        self._begin_canary(previous, t, 0)
        return f"Undoing {name}: a canary of {previous.tag} starts from the first step."
