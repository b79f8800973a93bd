"""Tree, YAML, describe and logs of the lab's sample Argo canary, against the real API server.

One canary (v1 stable, v2 canary held at its first pause) serves every test of
the module. Logs come end to end: a kwok Logs object points the canary pod's
container at a file this test writes, and the API server's pods/log path reads it
through kwok's server, exactly as it would read a kubelet.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from console.app import RolloutConsoleApp
from console.kube.backend import KubeBackend
from console.metrics.none import NoMetrics
from console.model import ConsoleError, Rollout
from console.screens.pod_logs import PodLogsScreen
from console.screens.rollout_detail import RolloutDetailScreen
from console.tree import tree_text
from tests.kube.helpers import backend, deploy_canary
from tests.lab import sample
from tests.lab.kube import KubeLab
from widgets.rollout_tree import RolloutTreeView

pytestmark = pytest.mark.lab

T = TypeVar("T")


def _wait(check: Callable[[], T | None], what: str, timeout: float = 30) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def _until(check: Callable[[], object], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture(scope="module")
def canary(kube_lab: KubeLab) -> Iterator[tuple[str, KubeBackend, Rollout]]:
    """The sample canary held at step 1, and a backend that has listed it."""
    ns = f"inspect-{uuid.uuid4().hex[:6]}"
    deploy_canary(kube_lab, ns)
    b = backend(kube_lab, ns)

    def listed() -> Rollout | None:
        try:
            rollouts = b.list()
        except ConsoleError:  # a CRD of a fresh lab may still answer 429 for a moment
            return None
        return next(
            (r for r in rollouts if r.ref.name == sample.NAME and r.canary and r.canary.ready),
            None,
        )

    rollout = _wait(
        listed,
        "the canary pod ready in the backend",
    )
    yield ns, b, rollout
    kube_lab.kubectl("delete", "namespace", "--wait=false", "--ignore-not-found", ns, check=False)


def _get(lab: KubeLab, kind: str, ns: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = lab.get_json(kind, "-n", ns)["items"]
    return items


def test_tree_matches_the_replicasets_and_pods(
    kube_lab: KubeLab, canary: tuple[str, KubeBackend, Rollout]
) -> None:
    ns, b, rollout = canary
    tree = b.tree(rollout.ref)
    assert tree is not None
    ro = sample.get_rollout(kube_lab, ns)
    uid = ro["metadata"]["uid"]
    replicasets = [
        rs
        for rs in _get(kube_lab, "replicasets", ns)
        if any(o["uid"] == uid for o in rs["metadata"].get("ownerReferences", []))
    ]
    pods = _get(kube_lab, "pods", ns)
    assert (tree.kind, tree.name, tree.status) == ("Rollout", sample.NAME, rollout.phase.value)
    # Newest revision first; the canary is revision 2, the stable revision 1.
    assert [r.revision for r in tree.revisions] == [2, 1]
    stable_hash = ro["status"]["stableRS"]
    for rev in tree.revisions:
        (rs_node,) = rev.workloads
        rs = next(x for x in replicasets if x["metadata"]["name"] == rs_node.name)
        assert rs["metadata"]["annotations"]["rollout.argoproj.io/revision"] == str(rev.revision)
        is_stable = rs["metadata"]["labels"]["rollouts-pod-template-hash"] == stable_hash
        assert rs_node.tags == (("stable",) if is_stable else ("canary",))
        rs_uid = rs["metadata"]["uid"]
        owned = {
            p["metadata"]["name"]: p
            for p in pods
            if any(o["uid"] == rs_uid for o in p["metadata"].get("ownerReferences", []))
        }
        assert {p.name for p in rs_node.pods} == set(owned)
        assert len(owned) == rs["status"].get("replicas", 0)
        for pod in rs_node.pods:
            raw = owned[pod.name]
            assert pod.node == raw["spec"]["nodeName"] and pod.node.startswith("kwok-node-")
            if raw["status"].get("phase") == "Running":
                assert (pod.status, pod.icon, pod.ready) == ("Running", "✔", "1/1")
            assert pod.containers == (sample.NAME,)
    text = tree_text(tree, time.time())
    assert text.splitlines()[1].startswith(f"⟳ {sample.NAME} ")
    assert "├──# revision:2" in text and "└──# revision:1" in text


def test_yaml_is_the_rollout_without_managed_fields(
    kube_lab: KubeLab, canary: tuple[str, KubeBackend, Rollout]
) -> None:
    ns, b, rollout = canary
    doc = yaml.safe_load(b.manifest(rollout.ref))
    live = sample.get_rollout(kube_lab, ns)
    assert doc["kind"] == "Rollout" and doc["apiVersion"] == "argoproj.io/v1alpha1"
    assert (
        doc["metadata"]["name"] == sample.NAME and doc["metadata"]["uid"] == live["metadata"]["uid"]
    )
    assert "managedFields" not in doc["metadata"]
    assert doc["spec"] == live["spec"]


def test_describe_lists_conditions_and_the_objects_events(
    kube_lab: KubeLab, canary: tuple[str, KubeBackend, Rollout]
) -> None:
    ns, b, rollout = canary
    events = kube_lab.get_json(
        "events",
        "-n",
        ns,
        "--field-selector",
        f"involvedObject.name={sample.NAME},involvedObject.kind=Rollout",
    )["items"]
    assert events, "the controller records Events on the Rollout"
    text = b.describe(rollout.ref)
    head, _, listed = text.partition("\nEvents:\n")
    assert f"Name:         {sample.NAME}" in head and f"Namespace:    {ns}" in head
    for cond in sample.get_rollout(kube_lab, ns)["status"]["conditions"]:
        assert cond["type"] in head
    rows = listed.splitlines()[2:]  # after the header and its underline
    assert len(rows) >= len(events) >= 1
    for event in events:
        assert any(event["reason"] in row for row in rows), event["reason"]
    # Only this object's Events: none of the ReplicaSets' or Pods' own.
    assert all("Pod" not in row.split()[1] for row in rows if row.split())


def _cri(lines: list[str]) -> str:
    """Lines in the CRI log format kwok's log reader expects."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    return "".join(f"{now}.000000000Z stdout F {line}\n" for line in lines)


def _logs_crd(lab: KubeLab) -> bool:
    found = lab.kubectl(
        "get", "crd", "logs.kwok.x-k8s.io", "--ignore-not-found", "-o", "name", check=False
    )
    return bool(found.strip())


async def test_l_streams_a_canary_pods_logs_through_the_api_server(
    kube_lab: KubeLab, canary: tuple[str, KubeBackend, Rollout], tmp_path: Path
) -> None:
    if not _logs_crd(kube_lab):
        pytest.fail("kwok's Logs CRD is not installed in this lab: run tests/lab/install")
    ns, b, rollout = canary
    assert rollout.canary is not None
    pod = rollout.canary.pods[0]
    log_file = tmp_path / "canary.log"
    log_file.write_text(_cri(["model v2 loaded", "serving on :8501"]))
    kube_lab.apply_yaml(
        yaml.safe_dump(
            {
                "apiVersion": "kwok.x-k8s.io/v1alpha1",
                "kind": "Logs",
                "metadata": {"name": pod, "namespace": ns},
                "spec": {
                    "logs": [
                        {"containers": [sample.NAME], "logsFile": str(log_file), "follow": True}
                    ]
                },
            }
        )
    )
    app = RolloutConsoleApp(b, NoMetrics("no metrics in this test"), read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await _until(lambda: rollout.ref.key in app.store.rollouts, "the rollout listed")
        app.push_screen(RolloutDetailScreen(rollout.ref.key))
        await _until(lambda: isinstance(app.screen, RolloutDetailScreen), "the detail view")
        await _until(
            lambda: any(pod in v.text for v in app.screen.query(RolloutTreeView)),
            "the canary pod in the tree",
        )
        await pilot.press("l")
        await _until(lambda: isinstance(app.screen, PodLogsScreen), "the logs view")
        screen = app.screen
        assert isinstance(screen, PodLogsScreen)
        assert screen.current is not None and screen.current.pod == pod
        # kwok picks up the new Logs object by its watch: retry until it serves the file.
        for _ in range(40):
            await _until(lambda: screen.lines or "No logs" in screen.state, "a line or a refusal")
            if screen.lines:
                break
            await asyncio.sleep(0.5)
            screen.start()
        await _until(lambda: "serving on :8501" in screen.lines, "the log file's lines")
        assert screen.lines[:2] == ["model v2 loaded", "serving on :8501"]
        # Followed: a line written later arrives on the open stream.
        with log_file.open("a") as f:
            f.write(_cri(["request served latency_ms=21"]))
        await _until(lambda: "request served latency_ms=21" in screen.lines, "the new line")
        assert "following" in screen.state
        await pilot.press("escape")
        await _until(lambda: isinstance(app.screen, RolloutDetailScreen), "back to the detail")


def test_a_pod_without_logs_gives_one_sentence(
    kube_lab: KubeLab, canary: tuple[str, KubeBackend, Rollout]
) -> None:
    if not _logs_crd(kube_lab):
        pytest.fail("kwok's Logs CRD is not installed in this lab: run tests/lab/install")
    _, b, rollout = canary
    pod = rollout.stable.pods[0]  # no Logs object names it
    stop = threading.Event()
    with pytest.raises(ConsoleError) as info:
        list(b.logs(rollout.ref, pod, sample.NAME, stop))
    stop.set()
    message = str(info.value)
    assert message.startswith(f"No logs for container '{sample.NAME}' of pod '{pod}'")
    assert "\n" not in message and message.endswith(".")


def test_mesh_canary_tree_shows_both_deployments_and_their_pods(kube_lab: KubeLab) -> None:
    from tests.kube.test_mesh_lab import APP, apply, istio_docs, wait_ready

    ns = f"inspect-mesh-{uuid.uuid4().hex[:6]}"
    apply(kube_lab, istio_docs(ns))
    try:
        wait_ready(kube_lab, ns, f"{APP}-v1", f"{APP}-v2")
        b = backend(kube_lab, ns)
        r = next(r for r in b.list() if r.ref.name == APP and str(r.provider) == "istio")
        tree = b.tree(r.ref)
        assert tree is not None and tree.kind == "VirtualService" and not tree.revisions
        stable, canary_d = tree.workloads
        assert (stable.kind, stable.name, stable.tags) == ("Deployment", f"{APP}-v1", ("stable",))
        assert (canary_d.name, canary_d.tags) == (f"{APP}-v2", ("canary",))
        pods = {p["metadata"]["name"]: p for p in _get(kube_lab, "pods", ns)}
        for node, version in ((stable, r.stable), (canary_d, r.canary)):
            assert version is not None
            assert {p.name for p in node.pods} == set(version.pods) and node.pods
            for pod in node.pods:
                assert pod.node == pods[pod.name]["spec"]["nodeName"]
        assert yaml.safe_load(b.manifest(r.ref))["kind"] == "VirtualService"
    finally:
        kube_lab.kubectl("delete", "namespace", ns, "--wait=false", check=False)
