"""Mesh-weighted canaries against the lab's real kube-apiserver (Istio and Gateway API CRDs).

No mesh runs in the lab: these tests prove what the console writes to the
VirtualService/HTTPRoute (the source of truth for a controller-less canary),
through the real backend (RBAC review, merge patch with resourceVersion, Event),
and that the apiserver's own validation and optimistic concurrency behave as
the providers assume. Deployments get Ready pods from kwok.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from console.kube import make_kube_backend, mesh
from console.kube.backend import KubeBackend
from console.kube.provider import KubeApi, ResourceType
from console.model import Action, ActionError, ActionUnavailable, Rollout, RolloutRef
from tests.kube.helpers import deployment, service
from tests.lab.kube import KubeLab

pytestmark = pytest.mark.lab

APP = "tf-serving"


def unique(prefix: str) -> str:
    # Unique so the tests also pass against a long-running lab from tests/lab/up.
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def istio_docs(
    ns: str, weights: tuple[int, int] = (90, 10), annotations: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        deployment(ns, f"{APP}-v1", {"app": APP, "version": "v1"}, "tensorflow/serving:2.12.0", 3),
        deployment(
            ns, f"{APP}-v2", {"app": APP, "version": "v2"}, "tensorflow/serving:2.13.0-gpu", 1
        ),
        service(ns, APP, {"app": APP}),
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "DestinationRule",
            "metadata": {"name": APP, "namespace": ns},
            "spec": {
                "host": APP,
                "subsets": [
                    {"name": "v1", "labels": {"version": "v1"}},
                    {"name": "v2", "labels": {"version": "v2"}},
                ],
            },
        },
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "metadata": {
                "name": APP,
                "namespace": ns,
                "annotations": {
                    mesh.STABLE_SUBSET_ANNOTATION: "v1",
                    "team": "vision",
                    **dict(annotations or {}),
                },
            },
            "spec": {
                "hosts": [APP],
                "http": [
                    {
                        "name": "premium",
                        "match": [{"headers": {"user-tier": {"exact": "premium"}}}],
                        "route": [{"destination": {"host": APP, "subset": "v2"}}],
                    },
                    {
                        "name": "split",
                        "route": [
                            {"destination": {"host": APP, "subset": "v1"}, "weight": weights[0]},
                            {"destination": {"host": APP, "subset": "v2"}, "weight": weights[1]},
                        ],
                        "timeout": "5s",
                    },
                ],
            },
        },
    ]


def gateway_docs(ns: str, weights: tuple[int | None, int | None] = (3, 1)) -> list[dict[str, Any]]:
    refs = []
    for name, weight in zip(("yolo-stable", "yolo-canary"), weights, strict=True):
        ref: dict[str, Any] = {"name": name, "port": 8080}
        if weight is not None:
            ref["weight"] = weight
        refs.append(ref)
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        deployment(ns, "yolo-v8", {"app": "yolo", "version": "v8"}, "ultralytics/yolo:v8.2.0", 2),
        deployment(ns, "yolo-v9", {"app": "yolo", "version": "v9"}, "ultralytics/yolo:v9.0.1", 1),
        service(ns, "yolo-stable", {"app": "yolo", "version": "v8"}),
        service(ns, "yolo-canary", {"app": "yolo", "version": "v9"}),
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": "yolo", "namespace": ns},
            "spec": {
                "parentRefs": [{"name": "edge"}],
                "rules": [{"backendRefs": refs}],
            },
        },
    ]


def apply(lab: KubeLab, docs: list[dict[str, Any]]) -> None:
    lab.apply_yaml(yaml.safe_dump_all(docs))


def wait_ready(lab: KubeLab, ns: str, *names: str) -> None:
    for name in names:

        def ready(name: str = name) -> bool:
            d = lab.get_json("deployment", name, "-n", ns)
            want = d["spec"].get("replicas", 1)
            return bool(d.get("status", {}).get("readyReplicas") == want)

        lab.wait_for(ready, timeout=90, what=f"deployment {ns}/{name} ready on kwok nodes")


def backend_for(kubeconfig: Path, ns: str, *, check_access: bool = True) -> KubeBackend:
    return make_kube_backend(str(kubeconfig), [], ns, False, False, check_access=check_access)


def find(backend: KubeBackend, provider: str, name: str) -> Rollout:
    matches = [r for r in backend.list() if r.ref.name == name and str(r.provider) == provider]
    assert len(matches) == 1, f"{provider} {name} not listed: {[r.ref.key for r in backend.list()]}"
    return matches[0]


def comparable(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object minus what the server changes on any write."""
    out = copy.deepcopy(dict(obj))
    md = out["metadata"]
    for key in ("resourceVersion", "managedFields", "generation"):
        md.pop(key, None)
    return out


def vs_weights(obj: Mapping[str, Any]) -> list[int]:
    return [d.get("weight") for d in obj["spec"]["http"][1]["route"]]


def route_weights(obj: Mapping[str, Any]) -> list[int]:
    return [r.get("weight") for r in obj["spec"]["rules"][0]["backendRefs"]]


@pytest.fixture
def istio_ns(kube_lab: KubeLab) -> Iterator[str]:
    ns = unique("mesh-istio")
    apply(kube_lab, istio_docs(ns))
    wait_ready(kube_lab, ns, f"{APP}-v1", f"{APP}-v2")
    yield ns
    kube_lab.kubectl("delete", "namespace", ns, "--wait=false", check=False)


@pytest.fixture
def gateway_ns(kube_lab: KubeLab) -> Iterator[str]:
    ns = unique("mesh-gw")
    apply(kube_lab, gateway_docs(ns))
    wait_ready(kube_lab, ns, "yolo-v8", "yolo-v9")
    yield ns
    kube_lab.kubectl("delete", "namespace", ns, "--wait=false", check=False)


# --- Istio --------------------------------------------------------------------------------


def test_istio_canary_is_listed_with_both_deployments(kube_lab: KubeLab, istio_ns: str) -> None:
    r = find(backend_for(kube_lab.kubeconfig, istio_ns), "istio", APP)
    assert r.set_weight == 10 and r.actual_weight == 10
    assert r.stable.workload == f"{APP}-v1" and r.canary is not None
    assert r.canary.workload == f"{APP}-v2"
    assert r.stable.images[0].tag == "2.12.0" and r.canary.images[0].tag == "2.13.0-gpu"
    assert (r.stable.desired, r.stable.ready, len(r.stable.pods)) == (3, 3, 3)
    assert (r.canary.desired, r.canary.ready, len(r.canary.pods)) == (1, 1, 1)
    assert r.step_label == "2/6"
    assert r.warnings == ()
    assert dict(r.extra)["stable chosen by"] == f"annotation {mesh.STABLE_SUBSET_ANNOTATION}"
    assert r.why_unavailable(Action.ADVANCE) is None  # admin: SSAR allows patch


@pytest.mark.parametrize(
    ("action", "weights"),
    [
        (Action.ADVANCE, [80, 20]),
        (Action.PROMOTE_FULL, [0, 100]),
        (Action.ROLLBACK, [100, 0]),
    ],
)
def test_istio_weight_actions_change_only_the_weights(
    kube_lab: KubeLab, istio_ns: str, action: Action, weights: list[int]
) -> None:
    before = kube_lab.get_json("virtualservice", APP, "-n", istio_ns)
    backend = backend_for(kube_lab.kubeconfig, istio_ns)
    ref = find(backend, "istio", APP).ref
    result = backend.act(ref, action)
    after = kube_lab.get_json("virtualservice", APP, "-n", istio_ns)
    assert vs_weights(after) == weights
    expected = comparable(before)
    for dest, w in zip(expected["spec"]["http"][1]["route"], weights, strict=True):
        dest["weight"] = w
    assert comparable(after) == expected
    assert result.before.startswith("weight 10%")
    # The Event the backend records carries before -> after.
    events = kube_lab.get_json(
        "events", "-n", istio_ns, "--field-selector", f"involvedObject.name={APP}"
    )["items"]
    assert any(result.before in e["message"] and result.after in e["message"] for e in events)


def test_istio_walks_the_annotated_plan_to_full(kube_lab: KubeLab, istio_ns: str) -> None:
    kube_lab.kubectl(
        "annotate", "virtualservice", APP, "-n", istio_ns, f"{mesh.STEPS_ANNOTATION}=10,25,60"
    )
    backend = backend_for(kube_lab.kubeconfig, istio_ns)
    ref = find(backend, "istio", APP).ref
    seen = []
    for _ in range(3):
        backend.act(ref, Action.ADVANCE)
        seen.append(vs_weights(kube_lab.get_json("virtualservice", APP, "-n", istio_ns)))
    assert seen == [[75, 25], [40, 60], [0, 100]]
    with pytest.raises(ActionUnavailable, match="all traffic"):
        backend.act(ref, Action.ADVANCE)


def test_istio_pause_blocks_advance_and_resume_restores(kube_lab: KubeLab, istio_ns: str) -> None:
    before = kube_lab.get_json("virtualservice", APP, "-n", istio_ns)
    backend = backend_for(kube_lab.kubeconfig, istio_ns)
    ref = find(backend, "istio", APP).ref
    backend.act(ref, Action.PAUSE)
    paused = kube_lab.get_json("virtualservice", APP, "-n", istio_ns)
    ann = paused["metadata"]["annotations"]
    assert ann[mesh.PAUSED_ANNOTATION] == "true"
    assert ann[mesh.PAUSED_BY_ANNOTATION]  # the kubeconfig user
    assert ann[mesh.PAUSED_AT_ANNOTATION].endswith("Z")
    assert paused["spec"] == before["spec"]
    r = find(backend, "istio", APP)
    assert r.paused and str(r.phase) == "Paused"
    with pytest.raises(ActionUnavailable, match="resume first"):
        backend.act(ref, Action.ADVANCE)
    assert vs_weights(kube_lab.get_json("virtualservice", APP, "-n", istio_ns)) == [90, 10]
    backend.act(ref, Action.RESUME)
    resumed = kube_lab.get_json("virtualservice", APP, "-n", istio_ns)
    assert comparable(resumed) == comparable(before)


class GatedApi:
    """A KubeApi whose first merge patch waits until every writer has read the object.

    That forces the race the resourceVersion precondition is for: all writers
    read the same version, then all write.
    """

    def __init__(self, inner: KubeApi, barrier: threading.Barrier) -> None:
        self.inner = inner
        self.cluster = inner.cluster
        self.user = inner.user
        self.barrier = barrier
        self.bodies: list[Mapping[str, Any]] = []
        self.statuses: list[int] = []

    def get(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        return self.inner.get(rt, namespace, name)

    def list(
        self, rt: ResourceType, namespace: str | None, label_selector: str = ""
    ) -> list[dict[str, Any]]:
        return self.inner.list(rt, namespace, label_selector)

    def json_patch(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise AssertionError("mesh providers send merge patches only")

    def merge_patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Mapping[str, Any],
        subresource: str = "",
    ) -> dict[str, Any]:
        if not self.bodies:
            self.barrier.wait(timeout=30)
        self.bodies.append(copy.deepcopy(dict(body)))
        try:
            out = self.inner.merge_patch(rt, namespace, name, body, subresource)
        except Exception as exc:
            self.statuses.append(int(getattr(exc, "status", 0) or 0))
            raise
        self.statuses.append(200)
        return out


def test_two_concurrent_advances_take_one_step(kube_lab: KubeLab, istio_ns: str) -> None:
    """Both read 10 %: one writes 20 %, the other's write conflicts and is refused
    (issue 9: an advance is from the step seen; re-basing would take a second step)."""
    provider = mesh.IstioProvider()
    barrier = threading.Barrier(2)
    writers = []
    for _ in range(2):
        backend = backend_for(kube_lab.kubeconfig, istio_ns)  # a client each
        (cluster,) = backend.clusters.values()
        writers.append((backend, GatedApi(cluster.client, barrier)))
    rollout = find(writers[0][0], "istio", APP)
    results: list[Any] = [None, None]

    def advance(i: int) -> None:
        _, api = writers[i]
        try:
            obj = api.get(mesh.VIRTUALSERVICES, istio_ns, APP)  # both read the same version
            results[i] = provider.act(api, rollout, obj, Action.ADVANCE)
        except Exception as exc:  # surfaced below
            results[i] = exc

    threads = [threading.Thread(target=advance, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    refused = [r for r in results if isinstance(r, ActionError)]
    done = [r for r in results if not isinstance(r, Exception)]
    assert len(done) == 1 and len(refused) == 1, results
    assert "press again to advance from there" in str(refused[0])
    # 10% advanced once: 20%; nothing was lost and nothing compounded.
    assert vs_weights(kube_lab.get_json("virtualservice", APP, "-n", istio_ns)) == [80, 20]
    statuses = sorted(s for _, api in writers for s in api.statuses)
    assert statuses == [200, 409]  # the loser's write was refused by the server
    bodies = [b for _, api in writers for b in api.bodies]
    assert all(b["metadata"].get("resourceVersion") for b in bodies)


def test_stale_write_is_rejected_by_the_server(kube_lab: KubeLab, istio_ns: str) -> None:
    """The precondition the providers rely on: a merge patch with an old resourceVersion is 409."""
    backend = backend_for(kube_lab.kubeconfig, istio_ns)
    (cluster,) = backend.clusters.values()
    obj = cluster.client.get(mesh.VIRTUALSERVICES, istio_ns, APP)
    kube_lab.kubectl("annotate", "virtualservice", APP, "-n", istio_ns, "touched=yes")
    split = mesh.analyse_virtualservice(obj, mesh.NamespaceIndex(), "v1")
    assert split is not None and split.split is not None
    with pytest.raises(Exception) as info:
        cluster.client.merge_patch(
            mesh.VIRTUALSERVICES, istio_ns, APP, mesh.istio_weight_patch(obj, split.split, 50, 50)
        )
    assert getattr(info.value, "status", None) == 409


def test_limited_serviceaccount_sees_advance_disabled_and_gets_a_sentence(
    kube_lab: KubeLab, istio_ns: str
) -> None:
    read = ["get", "list", "watch"]
    kubeconfig = kube_lab.create_service_account_kubeconfig(
        istio_ns,
        "viewer",
        [
            {
                "apiGroups": ["networking.istio.io"],
                "resources": ["virtualservices", "destinationrules"],
                "verbs": read,
            },
            {
                "apiGroups": ["gateway.networking.k8s.io"],
                "resources": ["httproutes"],
                "verbs": read,
            },
            {"apiGroups": ["flagger.app"], "resources": ["canaries"], "verbs": read},
            {"apiGroups": ["argoproj.io"], "resources": ["rollouts"], "verbs": read},
            {"apiGroups": ["apps"], "resources": ["deployments", "replicasets"], "verbs": read},
            {"apiGroups": [""], "resources": ["pods", "services"], "verbs": read},
            {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
        ],
    )
    r = find(backend_for(kubeconfig, istio_ns), "istio", APP)
    reason = r.why_unavailable(Action.ADVANCE) or ""
    assert "patch virtualservices" in reason
    assert r.why_unavailable(Action.PAUSE)
    # Trying anyway (the review skipped) gets the server's 403 as one sentence.
    blind = backend_for(kubeconfig, istio_ns, check_access=False)
    with pytest.raises(ActionError) as info:
        blind.act(RolloutRef(r.ref.cluster, istio_ns, APP), Action.ADVANCE)
    text = str(info.value)
    assert text.startswith("Forbidden") and "virtualservices" in text and "\n" not in text
    assert vs_weights(kube_lab.get_json("virtualservice", APP, "-n", istio_ns)) == [90, 10]


def test_malformed_virtualservice_is_listed_with_warnings(kube_lab: KubeLab) -> None:
    ns = unique("mesh-bad")
    docs = istio_docs(ns, weights=(80, 10))
    docs = [d for d in docs if d["kind"] != "DestinationRule"]
    three = copy.deepcopy(docs[-1])
    three["metadata"]["name"] = "three-way"
    three["spec"]["http"][1]["route"].append(
        {"destination": {"host": APP, "subset": "v3"}, "weight": 10}
    )
    apply(kube_lab, [*docs, three])
    try:
        backend = backend_for(kube_lab.kubeconfig, ns)
        bad = find(backend, "istio", APP)
        assert str(bad.phase) == "Unknown"
        assert any("no DestinationRule" in w for w in bad.warnings)
        assert any("add up to 90" in w for w in bad.warnings)
        three_way = find(backend, "istio", "three-way")
        assert any("3 destinations" in w for w in three_way.warnings)
        with pytest.raises(ActionUnavailable):
            backend.act(three_way.ref, Action.ADVANCE)
    finally:
        kube_lab.kubectl("delete", "namespace", ns, "--wait=false", check=False)


# --- Gateway API --------------------------------------------------------------------------


def test_httproute_default_weights_are_ratios(kube_lab: KubeLab) -> None:
    ns = unique("mesh-gw-default")
    apply(kube_lab, gateway_docs(ns, weights=(None, None)))
    try:
        route = kube_lab.get_json("httproute", "yolo", "-n", ns)
        assert route_weights(route) == [1, 1]  # the CRD's default, materialised by the server
        r = find(backend_for(kube_lab.kubeconfig, ns), "gateway", "yolo")
        assert r.set_weight == 50
    finally:
        kube_lab.kubectl("delete", "namespace", ns, "--wait=false", check=False)


@pytest.mark.parametrize(
    ("actions", "weights"),
    [
        ([Action.ADVANCE], [2, 2]),  # 25% -> 30% is not expressible in quarters -> 50%
        ([Action.ADVANCE, Action.ADVANCE], [0, 4]),
        ([Action.PROMOTE_FULL], [0, 4]),
        ([Action.ROLLBACK], [4, 0]),
    ],
)
def test_httproute_actions_keep_the_total(
    kube_lab: KubeLab, gateway_ns: str, actions: list[Action], weights: list[int]
) -> None:
    before = kube_lab.get_json("httproute", "yolo", "-n", gateway_ns)
    backend = backend_for(kube_lab.kubeconfig, gateway_ns)
    r = find(backend, "gateway", "yolo")
    assert r.set_weight == 25 and r.stable.workload == "yolo-v8"
    for action in actions:
        backend.act(r.ref, action)
    after = kube_lab.get_json("httproute", "yolo", "-n", gateway_ns)
    assert route_weights(after) == weights
    expected = comparable(before)
    for ref, w in zip(expected["spec"]["rules"][0]["backendRefs"], weights, strict=True):
        ref["weight"] = w
    assert comparable(after) == expected


def test_httproute_pause_and_resume(kube_lab: KubeLab, gateway_ns: str) -> None:
    backend = backend_for(kube_lab.kubeconfig, gateway_ns)
    ref = find(backend, "gateway", "yolo").ref
    backend.act(ref, Action.PAUSE)
    assert find(backend, "gateway", "yolo").paused
    with pytest.raises(ActionUnavailable, match="paused"):
        backend.act(ref, Action.PROMOTE_FULL)
    backend.act(ref, Action.ROLLBACK)  # always allowed
    assert route_weights(kube_lab.get_json("httproute", "yolo", "-n", gateway_ns)) == [4, 0]
    backend.act(ref, Action.RESUME)
    annotations = kube_lab.get_json("httproute", "yolo", "-n", gateway_ns)["metadata"].get(
        "annotations", {}
    )
    assert not any(k.startswith(mesh.PREFIX) for k in annotations)


def test_httproute_weight_above_the_crd_maximum_is_rejected(
    kube_lab: KubeLab, gateway_ns: str
) -> None:
    """The CRD caps a weight at 1,000,000: totals the console keeps are always valid ones."""
    out = kube_lab.kubectl(
        "patch",
        "httproute",
        "yolo",
        "-n",
        gateway_ns,
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/spec/rules/0/backendRefs/0/weight","value":1000001}]',
        check=False,
    )
    assert out == ""
    assert route_weights(kube_lab.get_json("httproute", "yolo", "-n", gateway_ns)) == [3, 1]


def test_virtualservice_steered_by_argo_is_not_a_mesh_canary(kube_lab: KubeLab) -> None:
    """The lab's Argo sample routes through a VirtualService: only Argo may drive it."""
    from tests.lab import sample

    ns = unique("mesh-argo")
    apply(kube_lab, sample.manifests(ns))
    try:
        rollouts = backend_for(kube_lab.kubeconfig, ns).list()
        assert [str(r.provider) for r in rollouts if r.ref.name == sample.NAME] == ["argo"]
    finally:
        kube_lab.kubectl("delete", "namespace", ns, "--wait=false", check=False)
