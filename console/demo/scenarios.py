"""What the demo cluster runs: the named teaching scenarios and generated filler.

Named scenarios (what each one teaches):
- ml-serving/tf-serving: 2.12.0 -> 2.13.0-gpu, a healthy canary that walks
  5/10/20/30/50/100% through 45-60 s pauses by itself; after each promotion a
  new minor release follows 5 minutes later (the release train).
- vision/yolo-detector: v8.2.0 -> v9.0.0, p99 ~2.5x stable (beyond the ~2x a
  bigger model costs) and 2-5% errors; it keeps stepping through timed pauses
  towards 100% unless the guard (on by default) or an operator pauses it.
- genai/facefusion: v3.1.0 -> v3.2.0 progresses through timed pauses while its
  GPU memory leaks ~0.06 GiB/min; latency and errors look fine, and the guard's
  GPU gate (per GPU, <= 1.15x stable) pauses it a few minutes in.
- recsys/bert-ranker: fully promoted to v3.4.1 (undo returns to v3.4.0).
- genai/llm-gateway: canary image `:latest` with no digest, so it is flagged; it
  waits at an indefinite pause step for a human (healthy by its gates).
- ml-serving/whisper-asr: aborted by on-call 7 minutes before the start (its
  canary failed 1.8% of requests); Degraded, canary kept at 0% for debugging.

Each scenario is a starting point plus scripted operator actions; the
simulation takes it from there. Times are seconds relative to the clock start
(negative = before it), so the named scenarios are mid-story when the console
opens and their charts already have history.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from console.demo.traffic import Profile
from console.model import Action, Image, Step, StepKind

T4_GIB = 16.0
A10G_GIB = 24.0

MIN = 60.0
HOUR = 3600.0
DAY = 86_400.0

#: How long facefusion's leaking canary has run when the console opens: its GPU gate
#: (<= 1.15x stable per GPU) then fails a few simulated minutes in.
FACEFUSION_SINCE_S = 19 * MIN


@dataclass(frozen=True)
class Release:
    """An image tag and how the model inside behaves."""

    tag: str
    profile: Profile
    pinned: bool = True  # False: a moving tag pushed without a digest


@dataclass(frozen=True)
class ScenarioSpec:
    namespace: str
    name: str
    repository: str
    stable: Release
    canary: Release | None
    previous: Release | None  # what UNDO returns to from a finished rollout
    steps: tuple[Step, ...]
    replicas: int
    base_rps: float
    created_age_s: float
    stable_revision: int = 1
    canary_since_s: float = 0.0  # how long before the clock start step `start_step` began
    start_step: int = 0  # steps before it are taken as done, their pods ready
    scripted: tuple[tuple[float, Action], ...] = ()  # (seconds from clock start, action)
    release_every_s: float | None = None  # a new release starts this long after a promotion
    first_release_in_s: float | None = None  # for a rollout that starts finished
    warmup_s: float = 600.0  # simulated history before the clock start
    gpu: str = "NVIDIA A10G"
    load_s: tuple[float, float] = (25.0, 40.0)  # model load before a pod is Ready
    #: rollout-console.io/ annotations the object starts with (e.g. its gate set).
    annotations: tuple[tuple[str, str], ...] = ()


def weight(w: int) -> Step:
    return Step(StepKind.SET_WEIGHT, weight=w)


def pause(duration_s: float | None = None) -> Step:
    return Step(StepKind.PAUSE, duration_s=duration_s)


def image_for(seed: int, repository: str, release: Release) -> Image:
    """The same repository and tag always get the same digest: same tag, same image."""
    if not release.pinned:
        return Image(repository, release.tag)
    bits = random.Random(f"{seed}:{repository}:{release.tag}").getrandbits(256)
    return Image(repository, release.tag, f"sha256:{bits:064x}")


_MINOR = re.compile(r"^(v?\d+)\.(\d+)\.\d+(.*)$")


def next_release(release: Release) -> Release:
    """The next minor version of a release that behaves like it: the release train."""
    match = _MINOR.match(release.tag)
    if match is None:
        return Release(release.tag + "-next", release.profile, release.pinned)
    major, minor, suffix = match.groups()
    return Release(f"{major}.{int(minor) + 1}.0{suffix}", release.profile, release.pinned)


def named() -> tuple[ScenarioSpec, ...]:
    tf_old = Profile(9.0, 28.0, 0.04, model_gib=6.5, util_per_rps=4.0, card_gib=T4_GIB)
    tf_new = Profile(8.6, 26.5, 0.05, model_gib=6.8, util_per_rps=3.8, card_gib=T4_GIB)
    yolo_v8 = Profile(18.0, 42.0, 0.05, model_gib=3.1, util_per_rps=5.5)
    # A bigger model is expected to be ~2x slower; 2.5x at p99 plus errors is a regression.
    yolo_v9 = Profile(31.0, 105.0, 3.5, model_gib=4.4, util_per_rps=7.5)
    ff_old = Profile(120.0, 310.0, 0.08, model_gib=11.2, util_per_rps=7.0)
    ff_new = Profile(116.0, 300.0, 0.07, model_gib=11.6, util_per_rps=6.8, leak_gib_per_min=0.06)
    bert_old = Profile(6.5, 21.0, 0.03, model_gib=1.2, util_per_rps=1.3, card_gib=T4_GIB)
    bert_new = Profile(6.0, 19.0, 0.02, model_gib=1.3, util_per_rps=1.2, card_gib=T4_GIB)
    llm_old = Profile(45.0, 160.0, 0.10, model_gib=7.9, util_per_rps=3.4)
    llm_new = Profile(43.0, 150.0, 0.09, model_gib=7.9, util_per_rps=3.3)
    asr_old = Profile(210.0, 640.0, 0.06, model_gib=9.8, util_per_rps=5.0)
    # Built without the kernels for this card: a slice of requests fail outright.
    asr_new = Profile(200.0, 610.0, 1.8, model_gib=10.1, util_per_rps=4.9)
    return (
        ScenarioSpec(
            namespace="ml-serving",
            name="tf-serving",
            repository="tensorflow/serving",
            stable=Release("2.12.0", tf_old),
            canary=Release("2.13.0-gpu", tf_new),
            previous=None,
            steps=(
                weight(5),
                pause(45),
                weight(10),
                pause(45),
                weight(20),
                pause(60),
                weight(30),
                pause(60),
                weight(50),
                pause(60),
                weight(100),
            ),
            replicas=10,
            base_rps=120.0,
            created_age_s=41 * DAY,
            stable_revision=6,
            canary_since_s=200.0,
            release_every_s=5 * MIN,
            gpu="NVIDIA T4",
        ),
        ScenarioSpec(
            namespace="vision",
            name="yolo-detector",
            repository="ultralytics/yolo",
            stable=Release("v8.2.0", yolo_v8),
            canary=Release("v9.0.0", yolo_v9),
            previous=None,
            steps=(
                weight(10),
                pause(2 * MIN),
                weight(20),
                pause(3 * MIN),
                weight(40),
                pause(5 * MIN),
                weight(60),
                pause(5 * MIN),
                weight(100),
            ),
            replicas=8,
            base_rps=80.0,
            created_age_s=12 * DAY,
            stable_revision=2,
            canary_since_s=240.0,
        ),
        ScenarioSpec(
            namespace="genai",
            name="facefusion",
            repository="ghcr.io/acme/facefusion",
            stable=Release("v3.1.0", ff_old),
            canary=Release("v3.2.0", ff_new),
            previous=None,
            # Progressing through timed pauses; its GPU memory creeps up all along.
            steps=(
                weight(10),
                pause(10 * MIN),
                weight(25),
                pause(15 * MIN),
                weight(50),
                pause(15 * MIN),
                weight(100),
            ),
            replicas=6,
            base_rps=40.0,
            created_age_s=5 * DAY + 3 * HOUR,
            stable_revision=4,
            canary_since_s=FACEFUSION_SINCE_S,
        ),
        ScenarioSpec(
            namespace="recsys",
            name="bert-ranker",
            repository="ghcr.io/acme/bert-ranker",
            stable=Release("v3.4.1", bert_new),
            canary=None,
            previous=Release("v3.4.0", bert_old),
            steps=(weight(10), pause(10 * MIN), weight(50), pause(10 * MIN), weight(100)),
            replicas=6,
            base_rps=200.0,
            created_age_s=9 * DAY,
            stable_revision=9,
            gpu="NVIDIA T4",
        ),
        ScenarioSpec(
            namespace="genai",
            name="llm-gateway",
            repository="ghcr.io/acme/llm-gateway",
            stable=Release("v0.9.3", llm_old),
            canary=Release("latest", llm_new, pinned=False),
            previous=None,
            # A moving tag: someone must look before it goes further.
            steps=(weight(20), pause(), weight(50), pause(10 * MIN), weight(100)),
            replicas=4,
            base_rps=60.0,
            created_age_s=47 * MIN,
            stable_revision=1,
            canary_since_s=400.0,
        ),
        ScenarioSpec(
            namespace="ml-serving",
            name="whisper-asr",
            repository="ghcr.io/acme/whisper-asr",
            stable=Release("v1.4.2", asr_old),
            canary=Release("v1.5.0", asr_new),
            previous=None,
            steps=(
                weight(10),
                pause(5 * MIN),
                weight(30),
                pause(10 * MIN),
                weight(60),
                pause(10 * MIN),
                weight(100),
            ),
            replicas=4,
            base_rps=40.0,
            created_age_s=3 * DAY + 7 * HOUR,
            stable_revision=7,
            canary_since_s=15 * MIN,
            scripted=((-7 * MIN, Action.ROLLBACK),),
        ),
    )


_MODELS = (
    "resnet50",
    "efficientnet",
    "clip-embed",
    "sdxl-turbo",
    "t5-summarizer",
    "wav2vec",
    "detr",
    "sam-segmenter",
    "llama-guard",
    "xgb-fraud",
    "two-tower",
    "dlrm",
)
_NAMESPACES = ("ml-serving", "vision", "genai", "recsys")
_TEMPLATES: tuple[tuple[Step, ...], ...] = (
    (weight(5), pause(60), weight(20), pause(2 * MIN), weight(50), pause(2 * MIN), weight(100)),
    (weight(10), pause(5 * MIN), weight(30), pause(), weight(100)),
    (weight(20), pause(3 * MIN), weight(50), pause(5 * MIN), weight(100)),
)
# Kinds of generated rollout, with their share of the filler.
_KINDS = (("healthy", 55), ("progressing", 25), ("waiting", 10), ("paused", 5), ("aborted", 5))


def generated(count: int, seed: int) -> tuple[ScenarioSpec, ...]:
    """`count` plausible rollouts for load tests, deterministic from the seed."""
    rng = random.Random(f"{seed}/generated")
    kinds = [kind for kind, _ in _KINDS]
    shares = [share for _, share in _KINDS]
    out: list[ScenarioSpec] = []
    for i in range(count):
        model = _MODELS[i % len(_MODELS)]
        kind = rng.choices(kinds, shares)[0]
        steps = rng.choice(_TEMPLATES)
        major, minor = rng.randint(1, 4), rng.randint(0, 9)
        gpu_t4 = rng.random() < 0.5
        card = T4_GIB if gpu_t4 else A10G_GIB
        p50 = rng.uniform(4.0, 120.0)
        replicas = rng.randint(2, 12)
        base_rps = rng.uniform(40.0, 200.0)
        profile = Profile(
            p50_ms=p50,
            p99_ms=p50 * rng.uniform(2.2, 3.5),
            error_pct=rng.uniform(0.01, 0.08),
            model_gib=rng.uniform(0.8, card * 0.6),
            # 35-65% GPU busy at full load: sized like a real fleet.
            util_per_rps=rng.uniform(35.0, 65.0) * replicas / base_rps,
            card_gib=card,
        )
        stable = Release(f"v{major}.{minor}.{rng.randint(0, 9)}", profile)
        candidate = next_release(stable)
        # A setWeight step index, so a generated rollout starts settled at a weight.
        start = rng.choice([j for j, s in enumerate(steps) if s.kind is StepKind.PAUSE])
        scripted: tuple[tuple[float, Action], ...] = ()
        if kind == "paused":
            scripted = ((-30.0, Action.PAUSE),)
        elif kind == "aborted":
            scripted = ((-30.0, Action.ROLLBACK),)
        if kind == "waiting":
            start = next((j for j, s in enumerate(steps) if s.text == "pause ∞"), start)
        finished = kind == "healthy"
        out.append(
            ScenarioSpec(
                namespace=_NAMESPACES[i % len(_NAMESPACES)],
                name=f"{model}-{i:03d}",
                repository=f"ghcr.io/acme/{model}",
                stable=Release(candidate.tag, profile) if finished else stable,
                canary=None if finished else candidate,
                previous=stable if finished else None,
                steps=steps,
                replicas=replicas,
                base_rps=base_rps,
                created_age_s=rng.uniform(10 * MIN, 60 * DAY),
                stable_revision=rng.randint(1, 30),
                start_step=0 if finished else start,
                scripted=scripted,
                release_every_s=rng.uniform(20 * MIN, 2 * HOUR) if finished else None,
                first_release_in_s=rng.uniform(5 * MIN, 2 * HOUR) if finished else None,
                warmup_s=60.0,
                canary_since_s=60.0,
                gpu="NVIDIA T4" if gpu_t4 else "NVIDIA A10G",
            )
        )
    return tuple(out)
