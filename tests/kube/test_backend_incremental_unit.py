"""The incremental backend (issue 14): an event rebuilds only the rollouts it touches,
an event that changes nothing shown yields nothing, and one list is linear in size.

No server: the scripted FakeClient of test_backend_unit feeds the real watch machinery.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import pytest

from console.kube import argo
from console.kube import backend as backend_mod
from console.kube.argo import ANALYSISRUNS, PODS, REPLICASETS, ROLLOUTS, ArgoProvider
from console.kube.index import StoreIndex
from console.kube.provider import Obj, Related
from console.model import Rollout, StreamEvent, Upserted
from tests.kube.test_backend_unit import FakeClient, collect, make
from tests.unit.test_argo_logic import rollout as base_rollout


def ro(name: str, ns: str = "ml") -> dict[str, Any]:
    obj = base_rollout()
    obj["metadata"].update(name=name, namespace=ns, uid=f"uid-{ns}-{name}", resourceVersion="1")
    obj["status"].update(stableRS="s", currentPodHash="s")
    obj["status"].pop("pauseConditions")  # no timed countdown: equal builds are equal
    return obj


def rs(owner: dict[str, Any]) -> dict[str, Any]:
    ns, name = owner["metadata"]["namespace"], owner["metadata"]["name"]
    return {
        "metadata": {
            "name": f"{name}-s",
            "namespace": ns,
            "uid": f"rs-{ns}-{name}",
            "labels": {argo.HASH_LABEL: "s"},
            "ownerReferences": [{"kind": "Rollout", "name": name, "uid": owner["metadata"]["uid"]}],
        },
        "spec": {"replicas": 1},
        "status": {"readyReplicas": 1},
    }


def pod(owner_rs: dict[str, Any], index: int = 0) -> dict[str, Any]:
    md = owner_rs["metadata"]
    return {
        "metadata": {
            "name": f"{md['name']}-p{index}",
            "namespace": md["namespace"],
            "resourceVersion": "1",
            "labels": {argo.HASH_LABEL: "s"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": md["name"], "uid": md["uid"]}],
        }
    }


class CountingArgo(ArgoProvider):
    """The real provider, counting which Rollouts it was asked to build."""

    def __init__(self) -> None:
        self.built: list[str] = []

    def to_rollouts(self, objects: Sequence[Obj], related: Related, cluster: str) -> list[Rollout]:
        self.built.extend(o["metadata"]["name"] for o in objects)
        return super().to_rollouts(objects, related, cluster)


NAMES = ("a", "b", "c", "d")


def cluster() -> tuple[FakeClient, CountingArgo, Any]:
    fake = FakeClient()
    rollouts = [ro(n) for n in NAMES]
    sets = [rs(r) for r in rollouts]
    fake.objects = {ROLLOUTS: rollouts, REPLICASETS: sets, PODS: [pod(s) for s in sets]}
    provider = CountingArgo()
    b = make(fake)
    b.providers = [provider]
    return fake, provider, b


def upserted(events: list[StreamEvent]) -> list[str]:
    return [e.rollout.ref.name for e in events if isinstance(e, Upserted)]


@pytest.fixture(autouse=True)
def _quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend_mod, "COALESCE_S", 0.05)


def test_a_pod_event_rebuilds_only_its_rollout() -> None:
    fake, provider, b = cluster()
    gone = pod(rs(ro("b")))
    gone["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"

    def until(ev: list[StreamEvent]) -> bool:
        if len(ev) == 1:
            provider.built.clear()  # the Snapshot built all four once
            fake.script[PODS] = [{"type": "MODIFIED", "object": gone}]
        return "b" in upserted(ev)

    events = collect(b, until)
    assert sorted(r.ref.name for r in events[0].rollouts) == list(NAMES)  # type: ignore[attr-defined]
    # Pod -> ReplicaSet -> Rollout through the owner index: b alone, once.
    assert provider.built == ["b"]
    assert upserted(events) == ["b"]
    [b_now] = [e.rollout for e in events if isinstance(e, Upserted)]
    assert b_now.stable.pods == ()  # the terminating pod is no longer counted


def test_an_event_that_changes_nothing_shown_yields_nothing() -> None:
    fake, provider, b = cluster()
    bumped = ro("a")
    bumped["metadata"]["resourceVersion"] = "2"  # a re-sent object
    annotated = ro("b")
    annotated["metadata"]["resourceVersion"] = "3"
    annotated["metadata"]["annotations"] = {"example.com/owner": "team-x"}  # unread
    heartbeat = ro("c")
    heartbeat["status"]["conditions"] = [{"type": "Available", "lastUpdateTime": "now"}]
    touched_pod = pod(rs(ro("d")))
    touched_pod["metadata"]["resourceVersion"] = "9"
    sentinel = ro("d")
    sentinel["spec"]["paused"] = True

    def until(ev: list[StreamEvent]) -> bool:
        if len(ev) == 1:
            provider.built.clear()
            fake.script[PODS] = [{"type": "MODIFIED", "object": touched_pod}]
            fake.script[ROLLOUTS] = [
                {"type": "MODIFIED", "object": bumped},
                {"type": "MODIFIED", "object": annotated},
                {"type": "MODIFIED", "object": heartbeat},
                # Last on the same watch: once it is shown, the others were applied.
                {"type": "MODIFIED", "object": copy.deepcopy(sentinel)},
            ]
        return "d" in upserted(ev)

    events = collect(b, until)
    assert upserted(events) == ["d"]
    # The resourceVersion-only changes (a, d's pod) build nothing; b and c are rebuilt
    # and compare equal. d may be built twice if its Pod and Rollout came in two flushes.
    assert "a" not in provider.built
    assert sorted(set(provider.built)) == ["b", "c", "d"]


def test_deleting_a_rollout_removes_only_it() -> None:
    fake, provider, b = cluster()

    def until(ev: list[StreamEvent]) -> bool:
        if len(ev) == 1:
            provider.built.clear()
            fake.script[ROLLOUTS] = [{"type": "DELETED", "object": ro("c")}]
        return any(type(e).__name__ == "Removed" for e in ev)

    events = collect(b, until)
    assert [e.ref.name for e in events if type(e).__name__ == "Removed"] == ["c"]  # type: ignore[attr-defined]
    assert provider.built == []
    assert upserted(events) == []


def test_incremental_builds_match_a_full_list() -> None:
    """The per-rollout build (owner index) and the provider's own list agree."""
    rollouts = [ro(n, ns) for ns in ("x", "y") for n in NAMES]
    sets = [rs(r) for r in rollouts]
    pods = [pod(s, i) for s in sets for i in range(2)]
    related = {REPLICASETS: sets, PODS: pods, ANALYSISRUNS: []}
    whole = ArgoProvider().to_rollouts(rollouts, related, "c1")
    index = StoreIndex({})
    for rt, objs in ((ROLLOUTS, rollouts), *related.items()):
        index.replace(rt, objs)
    one_by_one = [
        r
        for obj in rollouts
        for r in ArgoProvider().to_rollouts(
            [obj], index.descendants(obj, "Rollout", (REPLICASETS, PODS, ANALYSISRUNS)), "c1"
        )
    ]
    assert whole == one_by_one
    assert all(len(r.stable.pods) == 2 for r in whole)


def test_owner_index_finds_a_pods_rollout_and_forgets_deleted_objects() -> None:
    r = ro("a")
    s = rs(r)
    p = pod(s)
    index = StoreIndex({})
    index.put(ROLLOUTS, r)
    index.put(REPLICASETS, s)
    index.put(PODS, p)
    via = (REPLICASETS, PODS)
    assert index.owners(p, ROLLOUTS, via) == {("ml", "a")}
    assert index.children(PODS, "rs-ml-a") == [p]
    assert index.in_namespace(REPLICASETS, "ml") == [s]
    index.delete(REPLICASETS, ("ml", "a-s"))
    assert index.children(REPLICASETS, "uid-ml-a") == []
    assert index.in_namespace(REPLICASETS, "ml") == []
    # The ReplicaSet is gone: the pod's owner chain stops there (its next event
    # after the ReplicaSet's return finds the Rollout again).
    assert index.owners(p, ROLLOUTS, via) == set()


def test_one_list_is_linear_in_a_crowded_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    """2,000 Rollouts in one namespace: ownership checks per Rollout stay constant
    (it was every ReplicaSet of the namespace per Rollout: 100k calls for 2,001)."""
    calls = 0
    real = argo._owned_by

    def counting(*args: Any) -> bool:
        nonlocal calls
        calls += 1
        return real(*args)

    monkeypatch.setattr(argo, "_owned_by", counting)
    rollouts = [ro(f"r{i}") for i in range(2000)]
    sets = [rs(r) for r in rollouts]
    related = {REPLICASETS: sets, PODS: [pod(s) for s in sets], ANALYSISRUNS: []}
    out = ArgoProvider().to_rollouts(rollouts, related, "c1")
    assert len(out) == 2000 and all(r.stable.workload for r in out)
    assert calls <= 4 * len(rollouts), calls


def test_a_route_steered_from_another_namespace_stays_with_argo() -> None:
    """Selector-matched providers build by namespace, but an Argo Rollout may name a
    VirtualService in another namespace ("name.namespace"): that kind is passed whole."""
    from console.kube import mesh
    from tests.unit import test_mesh_istio as istio

    fake = FakeClient()
    steering = ro("r", ns="apps")
    steering["spec"]["strategy"]["canary"]["trafficRouting"] = {
        "istio": {"virtualService": {"name": f"tf-serving.{istio.NS}"}}
    }
    own = istio.standard()
    fake.objects = {
        ROLLOUTS: [steering],
        REPLICASETS: [],
        PODS: [],
        mesh.VIRTUALSERVICES: [istio.vs_obj()],
        **{rt: list(objs) for rt, objs in own.items() if rt != ROLLOUTS},
    }
    b = make(fake)
    b.providers = [ArgoProvider(), mesh.IstioProvider()]
    b._types = [ROLLOUTS, REPLICASETS, PODS, *(rt for rt in own if rt != ROLLOUTS)]
    b._types.append(mesh.VIRTUALSERVICES)
    assert [(r.ref.namespace, str(r.provider)) for r in b.list()] == [("apps", "argo")]
    fake.objects[ROLLOUTS] = []  # no longer steered: the route is a mesh canary again
    assert [(r.ref.namespace, r.ref.name) for r in b.list()] == [(istio.NS, "tf-serving")]


def test_stored_pods_keep_what_the_providers_and_the_tree_read() -> None:
    from console.kube.backend import slim
    from console.kube.inspect import pod_node

    container = {
        "name": "s",
        "image": "img:1",
        "ports": [{"containerPort": 8500}],
        "volumeMounts": [{"name": "kube-api-access", "mountPath": "/var/run/secrets"}],
        "terminationMessagePath": "/dev/termination-log",
    }
    obj = pod(rs(ro("a")))
    obj["spec"] = {
        "containers": [container],
        "nodeName": "kwok-node-1",
        "volumes": [{"name": "kube-api-access", "projected": {"sources": [{}] * 3}}],
        "tolerations": [{"key": "node.kubernetes.io/not-ready"}],
    }
    obj["status"] = {
        "phase": "Running",
        "containerStatuses": [
            {"name": "s", "ready": True, "restartCount": 2, "state": {"running": {}}}
        ],
    }
    before = pod_node(copy.deepcopy(obj))
    out = slim(obj, PODS)
    assert set(out["spec"]) == {"containers", "nodeName"}
    assert out["spec"]["containers"] == [
        {"name": "s", "image": "img:1", "ports": [{"containerPort": 8500}]}
    ]
    assert pod_node(out) == before  # the tree shows the same
    replicaset = rs(ro("a"))
    replicaset["spec"]["volumes"] = ["kept: not a Pod"]
    assert slim(replicaset, REPLICASETS)["spec"]["volumes"] == ["kept: not a Pod"]


def test_stored_replicasets_keep_only_the_template_parts_providers_read() -> None:
    from console.kube import argo
    from console.kube.backend import slim
    from console.kube.objects import DEPLOYMENTS

    rollout = ro("a")
    full = rs(rollout)
    full["spec"]["template"] = {
        "metadata": {"labels": {"app": "a", "version": "v2"}},
        "spec": {
            "containers": [
                {
                    "name": "s",
                    "image": "img:2",
                    "ports": [{"containerPort": 8500}],
                    "env": [{"name": "MODEL", "value": "x" * 2000}],
                    "resources": {"limits": {"nvidia.com/gpu": "1"}},
                    "readinessProbe": {"httpGet": {"path": "/v1/models/x", "port": 8501}},
                }
            ],
            "volumes": [{"name": "models", "emptyDir": {}}],
            "affinity": {"nodeAffinity": {}},
        },
    }
    built_full = argo.to_rollout(rollout, [copy.deepcopy(full)], [], "c", 0.0, [])
    stored = slim(copy.deepcopy(full), REPLICASETS)
    assert stored["spec"]["template"] == {
        "metadata": {"labels": {"app": "a", "version": "v2"}},
        "spec": {
            "containers": [{"name": "s", "image": "img:2", "ports": [{"containerPort": 8500}]}]
        },
    }
    # What the console shows is the same from the stored copy.
    assert argo.to_rollout(rollout, [stored], [], "c", 0.0, []) == built_full
    deployment = {"metadata": {"name": "d", "namespace": "ns"}, "spec": copy.deepcopy(full["spec"])}
    assert slim(deployment, DEPLOYMENTS)["spec"]["template"] == stored["spec"]["template"]
