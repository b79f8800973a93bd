"""Hand-made rollouts and metrics for widget tests (no backend, no I/O)."""

from __future__ import annotations

import math

from console.guard.verdicts import Comparison, Gate, GateKind, GateResult, GateState, Verdict
from console.model import (
    Image,
    Metric,
    MetricsState,
    Phase,
    ProviderKind,
    Role,
    Rollout,
    RolloutMetrics,
    RolloutRef,
    Series,
    Step,
    StepKind,
    VersionInfo,
    VersionMetrics,
)

NOW = 1_800_000_000.0

STEPS = (
    Step(StepKind.SET_WEIGHT, weight=10),
    Step(StepKind.PAUSE, duration_s=30),
    Step(StepKind.SET_WEIGHT, weight=30),
    Step(StepKind.PAUSE, duration_s=60),
    Step(StepKind.SET_WEIGHT, weight=50),
    Step(StepKind.PAUSE),
    Step(StepKind.SET_WEIGHT, weight=100),
)


def version(role: Role, image: str, ready: int = 3) -> VersionInfo:
    return VersionInfo(role=role, images=(Image.parse(image),), desired=ready, ready=ready)


def rollout(
    name: str,
    *,
    namespace: str = "models",
    cluster: str = "demo",
    phase: Phase = Phase.PROGRESSING,
    stable_image: str = "tensorflow/serving:2.12.0",
    canary_image: str | None = "tensorflow/serving:2.13.0-gpu",
    set_weight: int = 30,
    actual_weight: int = 30,
    current_step: int | None = 2,
    age_s: float = 3600,
    aborted: bool = False,
    paused: bool = False,
    warnings: tuple[str, ...] = (),
) -> Rollout:
    return Rollout(
        ref=RolloutRef(cluster, namespace, name),
        provider=ProviderKind.DEMO,
        phase=phase,
        stable=version(Role.STABLE, stable_image),
        canary=None if canary_image is None else version(Role.CANARY, canary_image, 1),
        aborted=aborted,
        paused=paused,
        steps=STEPS,
        current_step=current_step,
        set_weight=set_weight,
        actual_weight=actual_weight,
        created_at=NOW - age_s,
        warnings=warnings,
    )


def sample_rollouts() -> list[Rollout]:
    return [
        rollout("tf-serving", set_weight=40, actual_weight=30, current_step=3),
        rollout(
            "yolo-detector",
            namespace="vision",
            phase=Phase.DEGRADED,
            aborted=True,
            stable_image="ghcr.io/acme/yolo:v8.1.0",
            canary_image="ghcr.io/acme/yolo:v9.0.0",
            set_weight=0,
            actual_weight=0,
        ),
        rollout(
            "facefusion",
            namespace="gpu",
            phase=Phase.PAUSED,
            paused=True,
            stable_image="acme/facefusion:2.4.1",
            canary_image="acme/facefusion:latest",
            set_weight=20,
            actual_weight=20,
            warnings=("spec.strategy.canary.trafficRouting missing",),
        ),
        rollout(
            "resnet-classifier",
            phase=Phase.HEALTHY,
            stable_image="acme/resnet:1.4.0",
            canary_image=None,
            set_weight=100,
            actual_weight=100,
            current_step=len(STEPS),
            age_s=86400 * 3,
        ),
    ]


def wave(n: int, base: float, amp: float, *, t0: float = NOW - 300, step: float = 5.0) -> Series:
    return Series(
        tuple((t0 + i * step, base + amp * math.sin(i / 5.0) + amp * 0.3) for i in range(n))
    )


def scaled(series: Series, factor: float) -> Series:
    return Series(tuple((t, v * factor) for t, v in series.points))


def sample_metrics(n: int = 60, *, state: MetricsState = MetricsState.OK) -> RolloutMetrics:
    stable = {
        Metric.LATENCY_P50: wave(n, 12, 2),
        Metric.LATENCY_P99: wave(n, 40, 6),
        Metric.ERROR_PCT: wave(n, 0.05, 0.02),
        Metric.REQUEST_RATE: wave(n, 90, 5),
        Metric.GPU_UTIL: wave(n, 45, 10),
        Metric.GPU_MEMORY: wave(n, 6.0, 0.2),
        Metric.GPU_MEMORY_MAX: wave(n, 6.1, 0.2),
        Metric.GPU_COUNT: wave(n, 4.0, 0.0),
    }
    canary = {
        Metric.LATENCY_P50: wave(n, 14, 2),
        Metric.LATENCY_P99: wave(n, 95, 20),
        Metric.ERROR_PCT: wave(n, 1.5, 0.5),
        Metric.REQUEST_RATE: wave(n, 30, 3),
        Metric.GPU_UTIL: wave(n, 50, 10),
        Metric.GPU_MEMORY: wave(n, 7.5, 0.3),
        Metric.GPU_MEMORY_MAX: wave(n, 7.5, 0.3),
        Metric.GPU_COUNT: wave(n, 1.0, 0.0),
    }
    return RolloutMetrics(
        ref=RolloutRef("demo", "models", "tf-serving"),
        stable=VersionMetrics(Role.STABLE, stable),
        canary=VersionMetrics(Role.CANARY, canary),
        state=state,
        taken_at=NOW,
        window_s=300,
    )


def sample_verdict(ref: RolloutRef | None = None, *, at: float = NOW) -> Verdict:
    """A failing verdict: p99 breached (pauses now), errors on the way, GPU fine,
    a compared gate with effect size and p-value, one gate still short of data."""
    ref = ref or RolloutRef("demo", "models", "tf-serving")
    p99 = Gate("p99-latency", GateKind.ABSOLUTE, Metric.LATENCY_P99, Comparison.LT, 50.0)
    errors = Gate("error-rate", GateKind.ABSOLUTE, Metric.ERROR_PCT, Comparison.LT, 0.1)
    gpu = Gate(
        "gpu-memory", GateKind.RELATIVE, Metric.GPU_MEMORY, Comparison.LE, 1.15, critical=True
    )
    compared = Gate("p50-vs-stable", GateKind.COMPARED, Metric.LATENCY_P50, allowed_increase=1.1)
    drift = Gate("drift", GateKind.CUSTOM, comparison=Comparison.LT, threshold=0.2)
    results = (
        GateResult(
            p99,
            GateState.FAIL,
            95.0,
            40.0,
            n=60,
            breaches=3,
            pauses_in=0,
            reason="p99 95 ms is not < 50 ms",
        ),
        GateResult(
            errors,
            GateState.FAIL,
            1.5,
            0.05,
            n=1800,
            breaches=2,
            pauses_in=1,
            reason="1.5 % is not < 0.1 %",
        ),
        GateResult(gpu, GateState.PASS, 7.5, 7.0, n=60),
        GateResult(
            compared,
            GateState.INCONCLUSIVE,
            14.0,
            12.0,
            n=60,
            effect=1.17,
            p_value=0.034,
            reason="not significant at 98 %",
        ),
        GateResult(
            drift, GateState.NO_DATA, None, None, n=2, needed=3, reason="2 of 3 points needed"
        ),
    )
    return Verdict(ref, GateState.FAIL, results, gate_set="default", at=at)
