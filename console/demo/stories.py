"""Presenter scenarios (`--demo --scenario NAME`): one named story, alone on the cluster.

Each is built from a rollout of the teaching cluster (console/demo/scenarios.py), moved
so that its point comes soon after the console opens: within `point_s` simulated
seconds (POINT_S at most), so a minute at --speed 1 and six seconds at --speed 10.
The guard of a scenario judges every GUARD_EVERY_S simulated seconds whatever the
speed, so the story reaches its point at the same simulated time at any --speed, and
a seed gives the same story every time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from console.demo.scenarios import MIN, ScenarioSpec, named, pause, weight

#: Every scenario reaches its point within this many simulated seconds.
POINT_S = 60.0
#: A scenario's guard evaluates every this many simulated seconds.
GUARD_EVERY_S = 5.0


@dataclass(frozen=True)
class Story:
    name: str
    summary: str  # one line for `--scenario list`
    point: str  # what the audience should see
    point_s: float  # the point is reached within this many simulated seconds
    spec: ScenarioSpec


def _parts() -> dict[str, ScenarioSpec]:
    return {spec.name: spec for spec in named()}


def stories() -> tuple[Story, ...]:
    parts = _parts()
    return (
        Story(
            "bad-canary",
            "vision/yolo-detector v9 at 20 %: p99 ~2.5x stable and 2-5 % errors; "
            "the guard pauses it",
            "the guard pauses the canary",
            30.0,
            # At 20 % for two minutes already (past the gates' 60 s warm-up), a minute
            # before its next step: three failing evaluations in a row are the breach.
            replace(parts["yolo-detector"], canary_since_s=2 * MIN, start_step=3),
        ),
        Story(
            "gpu-leak",
            "genai/facefusion v3.2.0 leaks GPU memory (~0.06 GiB/min); latency and "
            "errors look fine, the GPU gate fires",
            "the guard pauses the canary on the gpu-memory gate",
            60.0,
            # Leaking long enough that the canary's memory per GPU crosses 1.15x stable's
            # in the first half minute.
            replace(parts["facefusion"], canary_since_s=22 * MIN + 40),
        ),
        Story(
            "healthy",
            "ml-serving/tf-serving 2.13.0-gpu walks 10/30/60/100 % through short "
            "pauses and is promoted",
            "the canary is promoted to 100 %",
            60.0,
            replace(
                parts["tf-serving"],
                # A short plan, and a model that loads fast, so the whole walk fits a minute.
                steps=(
                    *(weight(10), pause(8), weight(30), pause(8)),
                    *(weight(60), pause(8), weight(100)),
                ),
                canary_since_s=0.0,
                load_s=(2.0, 4.0),
                release_every_s=None,  # stays at 100 %: no release train
            ),
        ),
        Story(
            "latest-tag",
            "genai/llm-gateway: a canary of image :latest (no digest) starts; the "
            "moving tag is flagged and it waits for a human",
            "the canary's moving tag is flagged",
            20.0,
            # Stable only when the console opens; the :latest canary starts 10 s in.
            replace(parts["llm-gateway"], canary_since_s=-10.0),
        ),
    )


def story_names() -> tuple[str, ...]:
    return tuple(story.name for story in stories())


def story(name: str) -> Story:
    for candidate in stories():
        if candidate.name == name:
            return candidate
    raise KeyError(name)


def listing() -> str:
    """`--scenario list`: one line per scenario."""
    width = max(len(name) for name in story_names())
    return "\n".join(f"{s.name:<{width}}  {s.summary}" for s in stories())
