"""Gateway API HTTPRoute canaries (console.kube.mesh): ratio weights, sides, actions."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from console.kube import mesh
from console.kube.argo import ROLLOUTS
from console.kube.provider import Obj, ResourceType
from console.model import Action, Phase, ProviderKind
from tests.unit.test_mesh_istio import NS, FakeApi, deployment_obj, service_obj

GATEWAY = mesh.GatewayProvider()


def route_obj(
    name: str = "yolo",
    backends: Sequence[tuple[str, int | None]] = (("yolo-stable", 90), ("yolo-canary", 10)),
    annotations: Mapping[str, str] | None = None,
    extra_rules: Sequence[dict[str, Any]] = (),
    rv: str = "11",
) -> dict[str, Any]:
    refs = []
    for svc, weight in backends:
        ref: dict[str, Any] = {"name": svc, "port": 8080}
        if weight is not None:
            ref["weight"] = weight
        refs.append(ref)
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {
            "name": name,
            "namespace": NS,
            "resourceVersion": rv,
            "annotations": dict(annotations or {}),
        },
        "spec": {
            "parentRefs": [{"name": "gw"}],
            "rules": [*extra_rules, {"backendRefs": refs}],
        },
    }


def gateway_related(
    services: Sequence[Obj] | None = None, deployments: Sequence[Obj] | None = None
) -> dict[ResourceType, Sequence[Obj]]:
    return {
        mesh.DEPLOYMENTS: deployments
        if deployments is not None
        else [
            deployment_obj("yolo-v8", "v8", "ultralytics/yolo:v8.2.0", app="yolo"),
            deployment_obj(
                "yolo-v9",
                "v9",
                "ultralytics/yolo:v9.0.1",
                app="yolo",
                created="2026-11-22T00:00:00Z",
            ),
        ],
        mesh.SERVICES: services
        if services is not None
        else [
            service_obj("yolo-stable", {"app": "yolo", "version": "v8"}),
            service_obj("yolo-canary", {"app": "yolo", "version": "v9"}),
        ],
        mesh.PODS: [],
        ROLLOUTS: [],
    }


def one(objects: Sequence[Obj], rel: Mapping[ResourceType, Sequence[Obj]] | None = None) -> Any:
    out = GATEWAY.to_rollouts(objects, rel if rel is not None else gateway_related(), "lab")
    assert len(out) == 1
    return out[0]


def weights_of(route: Obj) -> list[int]:
    return [r["weight"] for r in route["spec"]["rules"][-1]["backendRefs"]]


def test_httproute_split_is_detected_with_suffix_sides() -> None:
    r = one([route_obj()])
    assert r.provider is ProviderKind.GATEWAY
    assert r.phase is Phase.PROGRESSING
    assert r.set_weight == 10
    assert r.stable.workload == "yolo-v8" and r.canary.workload == "yolo-v9"
    assert r.stable.images[0].tag == "v8.2.0"
    assert dict(r.extra)["stable chosen by"] == "name suffix"


def test_ratio_weights_read_as_share() -> None:
    r = one([route_obj(backends=(("yolo-stable", 1), ("yolo-canary", 3)))])
    assert r.set_weight == 75
    assert "(3/4)" in r.message
    assert dict(r.extra)["weights"] == "yolo-stable=1 yolo-canary=3 (total 4)"


def test_absent_weight_defaults_to_one() -> None:
    r = one([route_obj(backends=(("yolo-stable", None), ("yolo-canary", None)))])
    assert r.set_weight == 50


def test_canary_listed_first_is_still_the_canary() -> None:
    r = one([route_obj(backends=(("yolo-canary", 10), ("yolo-stable", 90)))])
    assert r.stable.workload == "yolo-v8" and r.set_weight == 10


def test_stable_backend_annotation() -> None:
    route = route_obj(
        backends=(("yolo-a", 30), ("yolo-b", 70)),
        annotations={mesh.STABLE_BACKEND_ANNOTATION: "yolo-b"},
    )
    rel = gateway_related(
        services=[
            service_obj("yolo-a", {"app": "yolo", "version": "v8"}),
            service_obj("yolo-b", {"app": "yolo", "version": "v9"}),
        ]
    )
    r = one([route], rel)
    assert dict(r.extra)[mesh._EXTRA_STABLE] == "yolo-b"
    assert r.set_weight == 30


def test_broad_stable_selector_is_narrowed_by_the_canary_selector() -> None:
    # yolo (app=yolo) selects both Deployments; yolo-canary claims v9, so yolo is v8.
    route = route_obj(backends=(("yolo", 95), ("yolo-canary", 5)))
    rel = gateway_related(
        services=[
            service_obj("yolo", {"app": "yolo"}),
            service_obj("yolo-canary", {"app": "yolo", "version": "v9"}),
        ]
    )
    r = one([route], rel)
    assert r.stable.workload == "yolo-v8" and r.canary.workload == "yolo-v9"


def test_missing_service_is_a_warning_not_a_crash() -> None:
    rel = gateway_related(services=[service_obj("yolo-stable", {"app": "yolo", "version": "v8"})])
    r = one([route_obj()], rel)
    assert r.phase is Phase.UNKNOWN
    assert any("Service yolo-canary not found" in w for w in r.warnings)


def test_three_backends_and_non_service_backends() -> None:
    three = route_obj(backends=(("a", 1), ("b", 1), ("c", 1)))
    r = one([three])
    assert r.phase is Phase.UNKNOWN and any("3 backends" in w for w in r.warnings)
    odd = route_obj()
    odd["spec"]["rules"][0]["backendRefs"][1]["kind"] = "ServiceImport"
    odd["spec"]["rules"][0]["backendRefs"][1]["group"] = "multicluster.x-k8s.io"
    r = one([odd])
    assert any("not a Service" in w for w in r.warnings)


def test_single_backend_route_is_not_a_canary() -> None:
    assert GATEWAY.to_rollouts([route_obj(backends=(("web", 1),))], gateway_related(), "lab") == []


def test_argo_gateway_plugin_routes_are_left_to_argo() -> None:
    rollout = {
        "metadata": {"name": "r", "namespace": NS},
        "spec": {
            "strategy": {
                "canary": {
                    "trafficRouting": {
                        "plugins": {"argoproj-labs/gatewayAPI": {"httpRoute": "yolo"}}
                    }
                }
            }
        },
    }
    rel = gateway_related()
    rel[ROLLOUTS] = [rollout]
    assert GATEWAY.to_rollouts([route_obj()], rel, "lab") == []


@pytest.mark.parametrize(
    ("action", "before", "after"),
    [
        (Action.ADVANCE, (3, 1), [2, 2]),  # 25% -> 30% can't be said in quarters -> 50%
        (Action.ADVANCE, (90, 10), [80, 20]),
        (Action.ADVANCE, (1, 1), [0, 2]),  # 50% -> 100%, total 2 kept
        (Action.PROMOTE_FULL, (1, 3), [0, 4]),
        (Action.ROLLBACK, (1, 3), [4, 0]),
        (Action.ROLLBACK, (500, 500), [1000, 0]),
        (Action.ADVANCE, (7, 0), [6, 1]),
    ],
)
def test_actions_keep_the_route_total(
    action: Action, before: tuple[int, int], after: list[int]
) -> None:
    route = route_obj(backends=(("yolo-stable", before[0]), ("yolo-canary", before[1])))
    api = FakeApi(route)
    GATEWAY.act(api, one([route]), route, action)
    assert weights_of(api.obj) == after
    assert sum(after) == sum(before)
    (patch,) = api.patches
    assert patch["metadata"] == {"resourceVersion": "11"}
    assert set(patch["spec"]) == {"rules"}
    expected = copy.deepcopy(route)
    for ref, w in zip(expected["spec"]["rules"][-1]["backendRefs"], after, strict=True):
        ref["weight"] = w
    assert api.obj["spec"] == expected["spec"]


def test_several_rules_each_keep_their_own_total() -> None:
    other = {
        "matches": [{"path": {"type": "PathPrefix", "value": "/grpc"}}],
        "backendRefs": [
            {"name": "yolo-canary", "port": 8080, "weight": 1},
            {"name": "yolo-stable", "port": 8080, "weight": 9},
        ],
    }
    route = route_obj(extra_rules=[other])
    api = FakeApi(route)
    GATEWAY.act(api, one([route]), route, Action.ADVANCE)
    rules = api.obj["spec"]["rules"]
    assert [r["weight"] for r in rules[0]["backendRefs"]] == [2, 8]
    assert [r["weight"] for r in rules[1]["backendRefs"]] == [80, 20]


def test_required_verbs() -> None:
    (verb,) = GATEWAY.required_verbs(Action.ROLLBACK)
    assert (verb.group, verb.resource, verb.verb) == (
        "gateway.networking.k8s.io",
        "httproutes",
        "patch",
    )
