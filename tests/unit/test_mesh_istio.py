"""Istio VirtualService canaries (console.kube.mesh): detection, display, malformed, actions.

The object builders here are reused by the lab tests (tests/kube/test_mesh_lab.py).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from console.kube import mesh
from console.kube.argo import ROLLOUTS
from console.kube.provider import Obj, ResourceType
from console.model import Action, ActionError, ActionUnavailable, Phase, ProviderKind

NS = "ml"


def vs_obj(
    name: str = "tf-serving",
    weights: Sequence[int | None] = (90, 10),
    subsets: Sequence[str] = ("v1", "v2"),
    host: str = "tf-serving",
    annotations: Mapping[str, str] | None = None,
    ns: str = NS,
    extra_http: Sequence[dict[str, Any]] = (),
    rv: str = "7",
) -> dict[str, Any]:
    route = []
    for subset, weight in zip(subsets, weights, strict=True):
        dest: dict[str, Any] = {"destination": {"host": host, "subset": subset}}
        if weight is not None:
            dest["weight"] = weight
        route.append(dest)
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {
            "name": name,
            "namespace": ns,
            "resourceVersion": rv,
            "creationTimestamp": "2026-11-20T10:00:00Z",
            "annotations": dict(annotations or {}),
        },
        "spec": {"hosts": [host], "http": [*extra_http, {"route": route}]},
    }


def dr_obj(
    host: str = "tf-serving", subsets: Mapping[str, str] | None = None, ns: str = NS
) -> dict[str, Any]:
    subsets = subsets if subsets is not None else {"v1": "v1", "v2": "v2"}
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": host, "namespace": ns},
        "spec": {
            "host": host,
            "subsets": [{"name": n, "labels": {"version": v}} for n, v in subsets.items()],
        },
    }


def deployment_obj(
    name: str,
    version: str,
    image: str,
    app: str = "tf-serving",
    created: str = "2026-11-01T00:00:00Z",
    replicas: int = 3,
    ready: int = 3,
    ns: str = NS,
) -> dict[str, Any]:
    labels = {"app": app, "version": version}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": ns,
            "creationTimestamp": created,
            "annotations": {"deployment.kubernetes.io/revision": "1"},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "serving", "image": image}]},
            },
        },
        "status": {"readyReplicas": ready},
    }


def service_obj(name: str = "tf-serving", selector: Mapping[str, str] | None = None) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"selector": dict(selector or {"app": "tf-serving"}), "ports": [{"port": 80}]},
    }


def pod_obj(name: str, version: str, image_id: str = "", app: str = "tf-serving") -> Obj:
    status: dict[str, Any] = {}
    if image_id:
        status = {"containerStatuses": [{"name": "serving", "imageID": image_id}]}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": {"app": app, "version": version}},
        "status": status,
    }


def related(
    drs: Sequence[Obj] = (),
    deployments: Sequence[Obj] = (),
    services: Sequence[Obj] = (),
    pods: Sequence[Obj] = (),
    rollouts: Sequence[Obj] = (),
) -> dict[ResourceType, Sequence[Obj]]:
    return {
        mesh.DESTINATIONRULES: drs,
        mesh.DEPLOYMENTS: deployments,
        mesh.SERVICES: services,
        mesh.PODS: pods,
        ROLLOUTS: rollouts,
    }


def standard() -> dict[ResourceType, Sequence[Obj]]:
    return related(
        drs=[dr_obj()],
        deployments=[
            deployment_obj("tf-serving-v1", "v1", "tensorflow/serving:2.12.0"),
            deployment_obj(
                "tf-serving-v2",
                "v2",
                "tensorflow/serving:2.13.0-gpu",
                created="2026-11-20T00:00:00Z",
                replicas=1,
                ready=1,
            ),
        ],
        services=[service_obj()],
        pods=[
            pod_obj("tf-serving-v1-a", "v1", "docker-pullable://tensorflow/serving@sha256:aaa"),
            pod_obj("tf-serving-v1-b", "v1", "docker-pullable://tensorflow/serving@sha256:aaa"),
            pod_obj("tf-serving-v2-a", "v2", "sha256:localimageid"),
        ],
    )


ISTIO = mesh.IstioProvider()


def one(objects: Sequence[Obj], rel: Mapping[ResourceType, Sequence[Obj]] | None = None) -> Any:
    out = ISTIO.to_rollouts(objects, rel if rel is not None else standard(), "lab")
    assert len(out) == 1
    return out[0]


# --- detection and display ------------------------------------------------------------


def test_istio_split_shows_weights_versions_images_and_pods() -> None:
    r = one([vs_obj()])
    assert r.provider is ProviderKind.ISTIO
    assert r.phase is Phase.PROGRESSING
    assert (r.set_weight, r.actual_weight) == (10, 10)
    assert r.stable.workload == "tf-serving-v1" and r.stable.label == "v1"
    assert r.canary is not None and r.canary.workload == "tf-serving-v2"
    assert r.stable.images[0].tag == "2.12.0"
    assert r.stable.images[0].digest == "sha256:aaa"  # every pod agrees on it
    assert r.canary.images[0].tag == "2.13.0-gpu"
    assert r.canary.images[0].digest == ""  # a local image ID is not a registry digest
    assert (r.stable.desired, r.stable.ready) == (3, 3)
    assert r.stable.pods == ("tf-serving-v1-a", "tf-serving-v1-b")
    assert r.canary.pods == ("tf-serving-v2-a",)
    assert r.step_label == "2/6"  # 5 and 10 reached
    assert r.current is not None and r.current.weight == 20
    assert "next step 20%" in r.message
    assert r.warnings == ()
    extra = dict(r.extra)
    assert extra["stable chosen by"] == "older Deployment"
    assert extra["weights"] == "v1=90 v2=10 (total 100)"
    assert r.why_unavailable(Action.ADVANCE) is None
    assert r.why_unavailable(Action.ROLLBACK) is None
    assert r.why_unavailable(Action.RETRY) and r.why_unavailable(Action.UNDO)
    assert r.why_unavailable(Action.RESUME) == "not paused"


def test_single_destination_virtualservice_is_not_a_canary() -> None:
    vs = vs_obj(weights=(100,), subsets=("v1",))
    assert ISTIO.to_rollouts([vs], standard(), "lab") == []


def test_route_owned_by_flagger_or_steered_by_argo_is_left_to_its_controller() -> None:
    owned = vs_obj(name="podinfo")
    owned["metadata"]["ownerReferences"] = [
        {"apiVersion": "flagger.app/v1beta1", "kind": "Canary", "name": "podinfo", "uid": "u"}
    ]
    argo_vs = vs_obj(name="argo-vs")
    rollout = {
        "metadata": {"name": "r", "namespace": NS},
        "spec": {
            "strategy": {
                "canary": {"trafficRouting": {"istio": {"virtualService": {"name": "argo-vs"}}}}
            }
        },
    }
    rel = standard()
    rel[ROLLOUTS] = [rollout]
    assert ISTIO.to_rollouts([owned, argo_vs], rel, "lab") == []


def test_stable_subset_annotation_wins_over_deployment_age() -> None:
    vs = vs_obj(annotations={mesh.STABLE_SUBSET_ANNOTATION: "v2"})
    r = one([vs])
    assert r.stable.label == "v2" and r.canary.label == "v1"
    assert r.set_weight == 90
    assert dict(r.extra)["stable chosen by"] == f"annotation {mesh.STABLE_SUBSET_ANNOTATION}"


def test_stable_is_not_decided_by_weight() -> None:
    # Past 50% the canary has the larger weight; it must stay the canary.
    r = one([vs_obj(weights=(30, 70))])
    assert r.stable.label == "v1" and r.set_weight == 70


def test_name_suffix_decides_before_age() -> None:
    vs = vs_obj(subsets=("canary", "stable"))
    rel = standard()
    rel[mesh.DESTINATIONRULES] = [dr_obj(subsets={"canary": "v2", "stable": "v1"})]
    r = one([vs], rel)
    assert r.stable.label == "v1" and dict(r.extra)[mesh._EXTRA_STABLE] == "stable"
    assert r.set_weight == 90


def test_first_destination_is_stable_when_nothing_else_decides() -> None:
    rel = standard()
    for d in rel[mesh.DEPLOYMENTS]:
        d["metadata"]["creationTimestamp"] = "2026-11-01T00:00:00Z"  # same age
    r = one([vs_obj()], rel)
    assert dict(r.extra)["stable chosen by"] == "first destination listed"


@pytest.mark.parametrize(
    ("weights", "phase", "step_label", "words"),
    [
        ((100, 0), Phase.HEALTHY, "0/6", "all traffic on stable v1; advance starts"),
        ((0, 100), Phase.HEALTHY, "6/6", "takes all traffic"),
        ((50, 50), Phase.PROGRESSING, "5/6", "next step 100%"),
    ],
)
def test_phase_follows_the_weights(
    weights: tuple[int, int], phase: Phase, step_label: str, words: str
) -> None:
    r = one([vs_obj(weights=weights)])
    assert r.phase is phase
    assert r.step_label == step_label
    assert words in r.message


def test_full_and_zero_weights_disable_the_pointless_actions() -> None:
    full = one([vs_obj(weights=(0, 100))])
    assert "all traffic" in (full.why_unavailable(Action.ADVANCE) or "")
    assert "all traffic" in (full.why_unavailable(Action.PROMOTE_FULL) or "")
    zero = one([vs_obj(weights=(100, 0))])
    assert "no traffic" in (zero.why_unavailable(Action.ROLLBACK) or "")


def test_paused_annotation_pauses_and_refuses_advance() -> None:
    vs = vs_obj(
        annotations={
            mesh.PAUSED_ANNOTATION: "true",
            mesh.PAUSED_BY_ANNOTATION: "alice",
            mesh.PAUSED_AT_ANNOTATION: "2026-11-23T09:00:00Z",
        }
    )
    r = one([vs])
    assert r.phase is Phase.PAUSED and r.paused
    assert "paused by alice at 2026-11-23T09:00:00Z" in r.message
    assert "resume first" in (r.why_unavailable(Action.ADVANCE) or "")
    assert "resume first" in (r.why_unavailable(Action.PROMOTE_FULL) or "")
    assert r.why_unavailable(Action.ROLLBACK) is None  # rollback is always possible
    assert r.why_unavailable(Action.RESUME) is None
    assert r.why_unavailable(Action.PAUSE)


def test_unknown_pause_value_fails_closed_with_a_warning() -> None:
    r = one([vs_obj(annotations={mesh.PAUSED_ANNOTATION: "yes"})])
    assert r.paused
    assert any("treated as paused" in w for w in r.warnings)
    r = one([vs_obj(annotations={mesh.PAUSED_ANNOTATION: "false"})])
    assert not r.paused and r.warnings == ()


def test_step_plan_annotation_and_malformed_plan() -> None:
    r = one([vs_obj(annotations={mesh.STEPS_ANNOTATION: "5,10,25,50,100"})])
    assert [s.weight for s in r.steps] == [5, 10, 25, 50, 100]
    assert "next step 25%" in r.message
    bad = one([vs_obj(annotations={mesh.STEPS_ANNOTATION: "5,x"})])
    assert [s.weight for s in bad.steps] == [5, 10, 20, 30, 50, 100]
    assert any("advance is refused until it is fixed" in w for w in bad.warnings)
    # The default plan is only shown: advancing on a plan nobody wrote is refused,
    # naming the object and the annotation.
    reason = bad.why_unavailable(Action.ADVANCE) or ""
    assert mesh.STEPS_ANNOTATION in reason and f"{NS}/tf-serving" in reason
    assert bad.why_unavailable(Action.PROMOTE_FULL) is None


# --- malformed ----------------------------------------------------------------------------


def test_weights_not_adding_to_100_warn_and_read_as_ratio() -> None:
    r = one([vs_obj(weights=(80, 10))])
    assert r.phase is Phase.UNKNOWN
    assert any("add up to 90, not 100" in w for w in r.warnings)
    assert r.set_weight == 11
    assert r.why_unavailable(Action.ADVANCE) is None  # writing restores 100


def test_three_destinations_is_shown_with_a_warning() -> None:
    vs = vs_obj(weights=(80, 10, 10), subsets=("v1", "v2", "v3"))
    r = one([vs])
    assert r.phase is Phase.UNKNOWN
    assert any("3 destinations" in w for w in r.warnings)
    assert r.why_unavailable(Action.ADVANCE) and r.why_unavailable(Action.ROLLBACK)


def test_missing_destinationrule_is_unknown_not_an_exception() -> None:
    rel = standard()
    rel[mesh.DESTINATIONRULES] = []
    r = one([vs_obj()], rel)
    assert r.phase is Phase.UNKNOWN
    assert any("no DestinationRule" in w for w in r.warnings)
    assert r.why_unavailable(Action.ADVANCE)
    assert r.why_unavailable(Action.ROLLBACK) is None


def test_subset_without_deployment_degrades_when_it_gets_traffic() -> None:
    rel = standard()
    rel[mesh.DEPLOYMENTS] = [
        d for d in rel[mesh.DEPLOYMENTS] if d["metadata"]["name"] != "tf-serving-v2"
    ]
    r = one([vs_obj()], rel)
    assert r.phase is Phase.DEGRADED
    assert any("v2 has no Deployment" in w for w in r.warnings)
    assert "no Deployment" in (r.why_unavailable(Action.ADVANCE) or "")
    assert r.why_unavailable(Action.ROLLBACK) is None
    # At 0% the missing canary starves nobody: a warning, not Degraded.
    r0 = one([vs_obj(weights=(100, 0))], rel)
    assert r0.phase is Phase.HEALTHY and r0.warnings


def test_subset_missing_from_the_destinationrule() -> None:
    rel = standard()
    rel[mesh.DESTINATIONRULES] = [dr_obj(subsets={"v1": "v1"})]
    r = one([vs_obj()], rel)
    assert r.phase is Phase.UNKNOWN
    assert any("'v2' is not defined" in w for w in r.warnings)


def test_missing_weights_and_zero_total() -> None:
    r = one([vs_obj(weights=(None, None))])
    assert r.phase is Phase.UNKNOWN
    assert any("no weight" in w for w in r.warnings)
    assert any("no destination receives traffic" in w for w in r.warnings)


def test_garbage_spec_never_raises() -> None:
    for spec in ({"http": "nope"}, {"http": [{"route": "x"}]}, {"http": [None, 3]}, None):
        vs = vs_obj()
        vs["spec"] = spec
        vs["metadata"]["annotations"] = {mesh.PAUSED_ANNOTATION: "true"}
        out = ISTIO.to_rollouts([vs], standard(), "lab")
        assert len(out) == 1 and out[0].phase is Phase.UNKNOWN


def test_header_route_and_several_split_entries() -> None:
    header = {
        "match": [{"headers": {"user-tier": {"exact": "premium"}}}],
        "route": [{"destination": {"host": "tf-serving", "subset": "v2"}}],
    }
    second = {
        "match": [{"uri": {"prefix": "/v1/models"}}],
        "route": [
            {"destination": {"host": "tf-serving", "subset": "v2"}, "weight": 20},
            {"destination": {"host": "tf-serving", "subset": "v1"}, "weight": 80},
        ],
    }
    vs = vs_obj(extra_http=[header, second])
    r = one([vs])
    notes = [v for k, v in r.extra if k == "note"]
    assert any("sends matched requests to v2 only" in n for n in notes)
    assert any("differ from http[1]" in w for w in r.warnings)


# --- actions against a fake API ----------------------------------------------------------------


class Conflict(Exception):
    status = 409


class FakeApi:
    """Holds one object; merge_patch honours a resourceVersion precondition like the server."""

    cluster = "lab"
    user = "alice"

    def __init__(self, obj: dict[str, Any], conflicts: int = 0) -> None:
        self.obj = copy.deepcopy(obj)
        self.patches: list[Mapping[str, Any]] = []
        self.conflicts = conflicts

    def get(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        return copy.deepcopy(self.obj)

    def list(self, rt: ResourceType, namespace: str | None, label_selector: str = "") -> list[Any]:
        return []

    def merge_patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Mapping[str, Any],
        subresource: str = "",
    ) -> dict[str, Any]:
        self.patches.append(copy.deepcopy(dict(body)))
        rv = body.get("metadata", {}).get("resourceVersion")
        if self.conflicts:
            # Someone else advanced in between: their write lands first.
            self.conflicts -= 1
            self.obj["metadata"]["resourceVersion"] = str(
                int(self.obj["metadata"]["resourceVersion"]) + 1
            )
            raise Conflict("conflict")
        if rv is not None and rv != self.obj["metadata"]["resourceVersion"]:
            raise Conflict("conflict")
        self.obj = merge(self.obj, body)
        self.obj["metadata"]["resourceVersion"] = str(
            int(self.obj["metadata"]["resourceVersion"]) + 1
        )
        return copy.deepcopy(self.obj)

    def json_patch(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise AssertionError("mesh providers never send JSON patch")


def merge(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, Mapping) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge(out.get(k), v)
    return out


def weights_of(vs: Obj) -> list[int]:
    return [d["weight"] for d in vs["spec"]["http"][-1]["route"]]


@pytest.mark.parametrize(
    ("action", "before", "after"),
    [
        (Action.ADVANCE, (90, 10), [80, 20]),
        (Action.ADVANCE, (95, 5), [90, 10]),
        (Action.ADVANCE, (50, 50), [0, 100]),
        (Action.PROMOTE_FULL, (90, 10), [0, 100]),
        (Action.ROLLBACK, (70, 30), [100, 0]),
        (Action.ADVANCE, (80, 10), [80, 20]),  # malformed 90 total: written back as 100
    ],
)
def test_weight_actions_write_only_the_weights_with_a_precondition(
    action: Action, before: tuple[int, int], after: list[int]
) -> None:
    vs = vs_obj(weights=before)
    r = one([vs])
    api = FakeApi(vs)
    result = ISTIO.act(api, r, vs, action)
    assert weights_of(api.obj) == after
    (patch,) = api.patches
    assert patch["metadata"] == {"resourceVersion": "7"}
    assert set(patch) == {"metadata", "spec"} and set(patch["spec"]) == {"http"}
    # Nothing but the two weights differs from what was read.
    expected = copy.deepcopy(vs)
    for d, w in zip(expected["spec"]["http"][-1]["route"], after, strict=True):
        d["weight"] = w
    assert api.obj["spec"] == expected["spec"]
    assert api.obj["metadata"]["annotations"] == vs["metadata"]["annotations"]
    assert "→" in result.message and result.before != result.after


def test_weights_are_written_to_every_entry_of_the_same_pair() -> None:
    second = {
        "match": [{"uri": {"prefix": "/grpc"}}],
        "route": [
            {"destination": {"host": "tf-serving", "subset": "v2"}, "weight": 10},
            {"destination": {"host": "tf-serving", "subset": "v1"}, "weight": 90},
        ],
    }
    vs = vs_obj(extra_http=[second])
    api = FakeApi(vs)
    ISTIO.act(api, one([vs]), vs, Action.ADVANCE)
    http = api.obj["spec"]["http"]
    assert [d["weight"] for d in http[0]["route"]] == [20, 80]  # v2 first in this entry
    assert [d["weight"] for d in http[1]["route"]] == [80, 20]


def test_conflict_is_retried_from_the_fresh_object() -> None:
    vs = vs_obj(weights=(90, 10))
    api = FakeApi(vs, conflicts=2)
    ISTIO.retry_delay_s = 0.0
    result = ISTIO.act(api, one([vs]), vs, Action.ADVANCE)
    assert len(api.patches) == 3
    assert all("resourceVersion" in p["metadata"] for p in api.patches)
    assert [p["metadata"]["resourceVersion"] for p in api.patches] == ["7", "8", "9"]
    assert weights_of(api.obj) == [80, 20]
    assert "after 2 conflicting writes" in result.message


def test_conflict_that_never_ends_raises_the_409() -> None:
    vs = vs_obj()
    api = FakeApi(vs, conflicts=99)
    ISTIO.retry_delay_s = 0.0
    with pytest.raises(Conflict):
        ISTIO.act(api, one([vs]), vs, Action.ADVANCE)
    assert len(api.patches) == mesh.MAX_ATTEMPTS


def test_pause_that_lands_first_makes_advance_refuse_after_the_retry() -> None:
    vs = vs_obj()
    r = one([vs])
    api = FakeApi(vs)
    stale = copy.deepcopy(vs)
    api.merge_patch(mesh.VIRTUALSERVICES, NS, "tf-serving", mesh.pause_patch("bob", "t"))
    with pytest.raises(ActionUnavailable, match="paused by bob"):
        ISTIO.act(api, r, stale, Action.ADVANCE)
    assert weights_of(api.obj) == [90, 10]


def test_rollback_is_allowed_while_paused() -> None:
    vs = vs_obj(weights=(70, 30), annotations={mesh.PAUSED_ANNOTATION: "true"})
    api = FakeApi(vs)
    ISTIO.act(api, one([vs]), vs, Action.ROLLBACK)
    assert weights_of(api.obj) == [100, 0]
    assert api.obj["metadata"]["annotations"][mesh.PAUSED_ANNOTATION] == "true"


def test_pause_and_resume_touch_only_the_annotations() -> None:
    vs = vs_obj(annotations={"team": "vision"})
    api = FakeApi(vs)
    result = ISTIO.act(api, one([vs]), vs, Action.PAUSE)
    (patch,) = api.patches
    assert set(patch) == {"metadata"} and set(patch["metadata"]) == {"annotations"}
    ann = api.obj["metadata"]["annotations"]
    assert ann[mesh.PAUSED_ANNOTATION] == "true"
    assert ann[mesh.PAUSED_BY_ANNOTATION] == "alice"
    assert ann[mesh.PAUSED_AT_ANNOTATION].endswith("Z")
    assert "paused by alice" in result.after
    paused = copy.deepcopy(api.obj)
    ISTIO.act(api, one([paused]), paused, Action.RESUME)
    assert api.obj["metadata"]["annotations"] == {"team": "vision"}
    assert api.obj["spec"] == vs["spec"]


def test_act_refuses_when_the_sides_changed_since_display() -> None:
    vs = vs_obj()
    r = one([vs])
    flipped = vs_obj(annotations={mesh.STABLE_SUBSET_ANNOTATION: "v2"})
    with pytest.raises(ActionError, match="not what was shown"):
        ISTIO.act(FakeApi(flipped), r, flipped, Action.ADVANCE)


def test_required_verbs() -> None:
    (verb,) = ISTIO.required_verbs(Action.ADVANCE)
    assert (verb.group, verb.resource, verb.verb) == (
        "networking.istio.io",
        "virtualservices",
        "patch",
    )
    assert ISTIO.required_verbs(Action.UNDO) == []


class AdvancedMeanwhile(FakeApi):
    """Another console's advance lands between our read and our write."""

    def merge_patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Mapping[str, Any],
        subresource: str = "",
    ) -> dict[str, Any]:
        if self.conflicts:
            self.conflicts -= 1
            for d, w in zip(self.obj["spec"]["http"][-1]["route"], (80, 20), strict=True):
                d["weight"] = w
            self.obj["metadata"]["resourceVersion"] = str(
                int(self.obj["metadata"]["resourceVersion"]) + 1
            )
            raise Conflict("conflict")
        return super().merge_patch(rt, namespace, name, body, subresource)


def test_retried_clicks_do_not_compound() -> None:
    """Ten people who all saw 10 % must not promote it: after a conflict with an advance,
    this advance is refused instead of taking a second step from 20 %."""
    vs = vs_obj(weights=(90, 10))
    api = AdvancedMeanwhile(vs, conflicts=1)
    ISTIO.retry_delay_s = 0.0
    with pytest.raises(ActionError, match="press again to advance from there"):
        ISTIO.act(api, one([vs]), vs, Action.ADVANCE)
    assert weights_of(api.obj) == [80, 20]


def test_advance_of_a_route_with_no_traffic_is_refused() -> None:
    vs = vs_obj(weights=(0, 0))
    api = FakeApi(vs)
    with pytest.raises(ActionUnavailable, match=r"every weight of .* is 0"):
        ISTIO.act(api, one([vs]), vs, Action.ADVANCE)
    assert api.patches == []


def test_pausing_a_paused_route_writes_nothing() -> None:
    vs = vs_obj(annotations={mesh.PAUSED_ANNOTATION: "true", mesh.PAUSED_BY_ANNOTATION: "bob"})
    api = FakeApi(vs)
    result = ISTIO.act(api, one([vs]), vs, Action.PAUSE)
    assert "already paused" in result.message and api.patches == []


@pytest.mark.parametrize("plan", ["\uff15,10,100", "5,1\u0660,100", "5,10,\u00b20"])
def test_a_plan_of_non_ascii_digits_is_rejected(plan: str) -> None:
    from console.kube import weights as W

    result = W.parse_plan(plan)
    assert result.plan == W.DEFAULT_PLAN and "not a list of whole percentages" in result.warning


def test_advance_on_a_plan_broken_since_the_key_was_pressed_is_refused() -> None:
    # Shown as fine, then someone wrote full-width digits: the write path reads the
    # plan of the object it writes and refuses rather than advancing along the
    # default plan.
    vs = vs_obj(weights=(90, 10))
    r = one([vs])
    broken = vs_obj(weights=(90, 10), annotations={mesh.STEPS_ANNOTATION: "\uff11\uff10,50"})
    api = FakeApi(broken)
    with pytest.raises(ActionUnavailable) as refused:
        ISTIO.act(api, r, broken, Action.ADVANCE)
    assert mesh.STEPS_ANNOTATION in str(refused.value) and f"{NS}/tf-serving" in str(refused.value)
    assert api.patches == []
    assert weights_of(api.obj) == [90, 10]
