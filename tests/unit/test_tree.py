"""The rollout tree, describe and YAML from raw objects: pure logic, no server."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from console.kube.inspect import (
    argo_tree,
    deployments_tree,
    describe_text,
    manifest_text,
    pod_status,
)
from console.model import Phase, ProviderKind, Role, Rollout, RolloutRef, VersionInfo
from console.timestamps import human_duration
from console.tree import tree_text

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
ISO0 = "2026-01-01T00:00:00Z"


def _rs(name: str, uid: str, revision: int, pod_hash: str, **extra: Any) -> dict[str, Any]:
    annotations = {"rollout.argoproj.io/revision": str(revision), **extra.pop("annotations", {})}
    return {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": uid,
            "generation": 1,
            "creationTimestamp": ISO0,
            "labels": {"rollouts-pod-template-hash": pod_hash},
            "annotations": annotations,
            "ownerReferences": [{"uid": "ro-uid", "kind": "Rollout"}],
        },
        "spec": {"replicas": extra.pop("replicas", 1)},
        "status": {"observedGeneration": 1, "availableReplicas": extra.pop("available", 1)},
    }


def _pod(name: str, owner: str, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "creationTimestamp": ISO0,
            "ownerReferences": [{"uid": owner}],
        },
        "spec": {"nodeName": "node-a", "containers": [{"name": "app"}, {"name": "proxy"}]},
        "status": {"phase": "Running", **status},
    }


def _running(ready: bool = True, restarts: int = 0) -> dict[str, Any]:
    return {"ready": ready, "restartCount": restarts, "state": {"running": {}}}


def test_pod_status_follows_the_plugin() -> None:
    ok = _pod("p", "x", containerStatuses=[_running(), _running(restarts=2)])
    assert pod_status(ok) == ("Running", 2, 2, 2)
    crash = _pod(
        "p",
        "x",
        containerStatuses=[
            _running(),
            {
                "ready": False,
                "restartCount": 5,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            },
        ],
    )
    assert pod_status(crash) == ("CrashLoopBackOff", 1, 2, 5)
    init = _pod("p", "x", initContainerStatuses=[{"restartCount": 0, "state": {"running": {}}}])
    init["spec"]["initContainers"] = [{"name": "init"}]
    assert pod_status(init)[0] == "Init:0/1"
    gone = _pod("p", "x", containerStatuses=[_running()])
    gone["metadata"]["deletionTimestamp"] = ISO0
    assert pod_status(gone)[0] == "Terminating"
    exited = _pod("p", "x", containerStatuses=[{"state": {"terminated": {"exitCode": 3}}}])
    assert pod_status(exited)[0] == "ExitCode:3"


def test_canary_tree_tags_delay_and_order() -> None:
    ro = {
        "metadata": {"name": "app", "namespace": "ns", "uid": "ro-uid", "creationTimestamp": ISO0},
        "spec": {"strategy": {"canary": {}}},
        "status": {"stableRS": "aaa", "currentPodHash": "bbb"},
    }
    deadline = "2026-01-01T00:00:30Z"
    replicasets = [
        _rs("app-aaa", "rs-a", 1, "aaa", replicas=2, available=2),
        _rs("app-bbb", "rs-b", 2, "bbb", annotations={"scale-down-deadline": deadline}),
        _rs("app-old", "rs-o", 0, "old", replicas=0, available=0),
        # Not the rollout's: another owner.
        {**_rs("other", "rs-x", 9, "zzz"), "metadata": {"name": "other", "uid": "rs-x"}},
    ]
    pods = [
        _pod("app-aaa-2", "rs-a", containerStatuses=[_running(), _running()]),
        _pod("app-bbb-1", "rs-b", containerStatuses=[_running(), _running(restarts=3)]),
        _pod("app-aaa-1", "rs-a", containerStatuses=[_running(), _running()]),
        _pod("stray", "nobody"),
    ]
    tree = argo_tree(ro, replicasets, pods, "Paused")
    assert [r.revision for r in tree.revisions] == [2, 1, 0]
    assert tree_text(tree, T0 + 10).splitlines() == [
        "NAME                  KIND        STATUS        AGE  INFO",
        "⟳ app                 Rollout     ॥ Paused      10s",
        "├──# revision:2",
        "│  └──⧉ app-bbb       ReplicaSet  ✔ Healthy     10s  canary,delay:20s",
        "│     └──□ app-bbb-1  Pod         ✔ Running     10s  ready:2/2,restarts:3,node:node-a",
        "├──# revision:1",
        "│  └──⧉ app-aaa       ReplicaSet  ✔ Healthy     10s  stable",
        "│     ├──□ app-aaa-1  Pod         ✔ Running     10s  ready:2/2,node:node-a",
        "│     └──□ app-aaa-2  Pod         ✔ Running     10s  ready:2/2,node:node-a",
        "└──# revision:0",
        "   └──⧉ app-old       ReplicaSet  • ScaledDown  10s",
    ]
    assert "delay:passed" in tree_text(tree, T0 + 31)


def test_blue_green_tags_active_and_preview() -> None:
    ro = {
        "metadata": {"name": "bg", "namespace": "ns", "uid": "ro-uid"},
        "spec": {"strategy": {"blueGreen": {}}},
        "status": {
            "stableRS": "aaa",
            "blueGreen": {"activeSelector": "aaa", "previewSelector": "bbb"},
        },
    }
    tree = argo_tree(
        ro, [_rs("bg-aaa", "a", 1, "aaa"), _rs("bg-bbb", "b", 2, "bbb", available=0)], [], "Paused"
    )
    (preview,), (active,) = (r.workloads for r in tree.revisions)
    assert (preview.tags, preview.status, preview.icon) == (("preview",), "Progressing", "◌")
    assert active.tags == ("stable", "active")


def test_mesh_canary_tree_is_the_two_deployments_and_their_pods() -> None:
    ref = RolloutRef("c", "ns", "route")
    rollout = Rollout(
        ref,
        ProviderKind.ISTIO,
        Phase.PROGRESSING,
        VersionInfo(Role.STABLE, workload="app-v1", pods=("v1-a",)),
        VersionInfo(Role.CANARY, workload="app-v2", pods=("v2-a", "v2-gone")),
    )
    deployments = {
        "app-v1": {"metadata": {"name": "app-v1", "generation": 1}, "spec": {"replicas": 1},
                   "status": {"observedGeneration": 1, "availableReplicas": 1}},
        "app-v2": {"metadata": {"name": "app-v2", "generation": 1}, "spec": {"replicas": 2},
                   "status": {"observedGeneration": 1, "availableReplicas": 1}},
    }  # fmt: skip
    pods = {
        "v1-a": _pod("v1-a", "x", containerStatuses=[_running(), _running()]),
        "v2-a": _pod("v2-a", "y", containerStatuses=[_running(), _running(ready=False)]),
    }
    tree = deployments_tree(rollout, "VirtualService", None, deployments, pods)
    lines = tree_text(tree, T0).splitlines()
    assert lines[1].startswith("⟳ route ") and "VirtualService" in lines[1]
    assert "◌ Progressing" in lines[1]
    assert lines[2].startswith("├──⧉ app-v1 ") and lines[2].endswith("stable")
    assert lines[3].startswith("│  └──□ v1-a ") and "ready:2/2" in lines[3]
    assert lines[4].startswith("└──⧉ app-v2 ") and "◌ Progressing" in lines[4]
    assert lines[4].endswith("canary")
    assert lines[5].startswith("   └──□ v2-a ") and "ready:1/2" in lines[5]
    assert len(lines) == 6  # a pod the store does not hold is not invented


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(5, "5s"), (119, "119s"), (130, "2m10s"), (600, "10m"), (3 * 3600 + 5 * 60, "3h5m"),
     (10 * 3600, "10h"), (3 * 86400 + 3600, "3d1h"), (30 * 86400, "30d")],
)  # fmt: skip
def test_human_duration_is_kubernetes(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_describe_lists_conditions_and_events_oldest_first() -> None:
    obj = {
        "kind": "Rollout",
        "apiVersion": "argoproj.io/v1alpha1",
        "metadata": {"name": "app", "namespace": "ns", "creationTimestamp": ISO0},
        "status": {
            "phase": "Paused",
            "conditions": [{"type": "Paused", "status": "True", "reason": "CanaryPauseStep"}],
        },
    }
    events = [
        {"type": "Normal", "reason": "Second", "lastTimestamp": "2026-01-01T00:02:00Z",
         "source": {"component": "rollouts-controller"}, "message": "b", "count": 3,
         "firstTimestamp": "2026-01-01T00:01:00Z"},
        {"type": "Warning", "reason": "First", "lastTimestamp": "2026-01-01T00:01:00Z",
         "source": {"component": "rollouts-controller"}, "message": "a\x1b[31m red"},
    ]  # fmt: skip
    text = describe_text(obj, events, T0 + 180)
    assert "Paused  True    CanaryPauseStep" in text
    rows = text.partition("Events:\n")[2].splitlines()
    assert rows[0].split() == ["Type", "Reason", "Age", "From", "Message"]
    assert rows[2].split()[:3] == ["Warning", "First", "2m"]
    assert "\x1b" not in text and rows[2].endswith("a red")
    assert "60s (x3 over 2m)" in rows[3]


def test_yaml_drops_managed_fields_and_control_characters() -> None:
    obj = {"kind": "Rollout", "metadata": {"name": "x\x1b]0;pwn\x07", "managedFields": [{}]}}
    text = manifest_text(obj)
    assert "managedFields" not in text and "\x1b" not in text and "\x07" not in text
    assert yaml.safe_load(text)["kind"] == "Rollout"
