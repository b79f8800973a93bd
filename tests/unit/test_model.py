from dataclasses import replace

from console.headless import table
from console.model import (
    Image,
    Phase,
    ProviderKind,
    Role,
    Rollout,
    RolloutRef,
    Series,
    Step,
    StepKind,
    VersionInfo,
    format_duration,
    thin,
)


def test_image_parse_tag_digest_and_registry_port() -> None:
    image = Image.parse("registry.local:5000/ml/tf-serving:2.13.0-gpu@sha256:abc")
    assert image.repository == "registry.local:5000/ml/tf-serving"
    assert image.tag == "2.13.0-gpu"
    assert image.digest == "sha256:abc"
    assert not image.moving
    assert Image.parse("registry.local:5000/ml/tf-serving").tag == ""


def test_moving_tags_are_flagged_unless_pinned_by_digest() -> None:
    assert Image.parse("ghcr.io/acme/llm:latest").moving
    assert Image.parse("ghcr.io/acme/llm").moving
    assert not Image.parse("ghcr.io/acme/llm:latest@sha256:0123").moving
    assert not Image.parse("ghcr.io/acme/llm:v1.2.0").moving


def test_format_duration() -> None:
    assert format_duration(5) == "5s"
    assert format_duration(190) == "3m10s"
    assert format_duration(7500) == "2h5m"
    assert format_duration(3 * 86400 + 4 * 3600) == "3d4h"
    assert format_duration(None) == "-"


def test_thin_keeps_spikes_and_bounds_length() -> None:
    points = tuple((float(i), 1.0) for i in range(1000))
    spiked = (*points[:500], (500.0, 99.0), *points[501:])
    out = thin(spiked, 60)
    assert len(out) == 60
    assert max(v for _, v in out) == 99.0
    assert out[-1][0] == 999.0
    assert Series(points[:10]).thinned(60).points == points[:10]


def _rollout(phase: Phase, aborted: bool = False, image: str = "m:v1") -> Rollout:
    return Rollout(
        ref=RolloutRef("c", "ns", phase.value),
        provider=ProviderKind.DEMO,
        phase=phase,
        aborted=aborted,
        stable=VersionInfo(Role.STABLE, images=(Image.parse(image),)),
    )


def test_attention_orders_degraded_before_paused_before_healthy() -> None:
    degraded = _rollout(Phase.DEGRADED, aborted=True)
    paused = _rollout(Phase.PAUSED)
    healthy = _rollout(Phase.HEALTHY)
    moving = _rollout(Phase.HEALTHY, image="m:latest")
    assert degraded.attention > paused.attention > healthy.attention
    assert moving.attention > healthy.attention
    assert degraded.status_text == "Degraded (aborted)"


def test_step_label_reads_as_the_argo_plugin_prints_it() -> None:
    steps = (Step(StepKind.SET_WEIGHT, weight=10), Step(StepKind.SET_WEIGHT, weight=50))
    never_reconciled = replace(_rollout(Phase.DEGRADED), steps=steps, current_step=None)
    mid = replace(_rollout(Phase.PAUSED), steps=steps, current_step=1)
    broken = replace(_rollout(Phase.DEGRADED), steps=steps, current_step=99)
    no_steps = _rollout(Phase.HEALTHY)
    # Not "2/2": the plugin prints nothing until the controller sets currentStepIndex.
    assert never_reconciled.step_label == "-"
    assert mid.step_label == "1/2"
    # Out of range is shown as it is (the plugin does not clamp; actions refuse it).
    assert broken.step_label == "99/2"
    assert no_steps.step_label == "-"
    # `get`'s table and the TUI's STEP column read the same property.
    lines = table([never_reconciled, mid, broken], clusters=False).splitlines()
    assert [line.split()[4] for line in lines[1:]] == ["-", "1/2", "99/2"]


def test_what_get_and_actions_read_is_typed_and_compared() -> None:
    from console.model import Replicas, RouteSides

    base = replace(
        _rollout(Phase.HEALTHY),
        replicas=Replicas(desired=4, current=4, updated=4, ready=4, available=4),
        route=RouteSides("v1", "v2"),
    )
    # A change in counts or in the route's sides is a change the store must pass on ...
    assert replace(base, replicas=replace(base.replicas, ready=3)) != base  # type: ignore[type-var]
    assert replace(base, route=RouteSides("v2", "v1")) != base
    # ... while `extra` is for `get -o json` only.
    assert replace(base, extra=(("note", "x"),)) == base
    [row] = table([base], clusters=False).splitlines()[1:]
    assert row.split()[7:11] == ["4/4", "4", "4", "4"]
