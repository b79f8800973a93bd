"""The malformed-object set in one namespace: an Argo step of no known type, a
VirtualService without its DestinationRule whose weights add up to 90, a
three-way split and an HTTPRoute whose weights are all 0. `get` lists every one
with its warning and exits 0; nothing crashes; actions on them are refused.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys

import pytest
import yaml

from console.model import Action, ActionUnavailable, RolloutRef
from tests.faults.conftest import Fault
from tests.kube.helpers import backend, unique_ns
from tests.kube.test_mesh_lab import APP, gateway_docs, istio_docs, route_weights, wait_ready
from tests.lab import sample
from tests.lab.kube import KubeLab

pytestmark = pytest.mark.lab


def malformed_set(ns: str) -> list[dict[str, object]]:
    # The sample's own VirtualService (Argo-steered) would take the mesh canary's name.
    argo = [o for o in sample.manifests(ns) if o["kind"] in ("Rollout", "Service")]
    for obj in argo:
        if obj["kind"] == "Rollout":
            obj["metadata"]["name"] = "argo-bad"
            obj["spec"]["strategy"]["canary"]["steps"] = [{"setWeight": 10}, {}, {"pause": {}}]
            # Steering the VirtualService would make it Argo's, not a mesh canary.
            obj["spec"]["strategy"]["canary"].pop("trafficRouting", None)
    istio = [d for d in istio_docs(ns, weights=(80, 10)) if d["kind"] != "DestinationRule"]
    three = copy.deepcopy(istio[-1])
    three["metadata"]["name"] = "three-way"
    three["spec"]["http"][1]["route"].append(
        {"destination": {"host": APP, "subset": "v3"}, "weight": 10}
    )
    zero = [d for d in gateway_docs(ns, weights=(0, 0)) if d["kind"] == "HTTPRoute"]
    return [*istio, *argo, three, *zero]  # the Namespace (in istio) first


@pytest.mark.fault(
    "malformed objects: unknown Argo step, VS without DestinationRule summing to 90, "
    "three-way split, HTTPRoute weights all 0",
    "each listed with its warning, get exits 0 without a traceback, advances refused",
)
def test_the_malformed_set_is_listed_with_warnings_and_refused(
    kube_lab: KubeLab, fault: Fault
) -> None:
    ns = unique_ns("ko-malformed")
    kube_lab.apply_yaml(yaml.safe_dump_all(malformed_set(ns), sort_keys=False))
    done = subprocess.run(
        [sys.executable, "-m", "console", "get", "-n", ns, "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1", "KUBECONFIG": str(kube_lab.kubeconfig)},
    )
    assert "Traceback" not in done.stderr
    items = {i["name"]: i for i in json.loads(done.stdout)["items"]}
    warned = sorted(name for name, item in items.items() if item.get("warnings"))
    fault.observed(f"exit {done.returncode}; listed {sorted(items)}; warned {warned}")
    assert done.returncode == 0, done.stderr
    assert {"argo-bad", APP, "three-way", "yolo"} <= set(items)
    assert {APP, "three-way"} <= set(warned)
    b = backend(kube_lab, ns)
    for name in ("three-way", APP, "yolo"):
        with pytest.raises(ActionUnavailable):
            b.act(RolloutRef("lab", ns, name), Action.ADVANCE)


@pytest.mark.fault(
    "advance on an HTTPRoute whose weights are all 0, its Deployments and Services in place",
    "refused naming the weights; the route still 0/0 (before: 0/0 -> 95/5)",
)
def test_advance_of_an_all_zero_route_is_refused(kube_lab: KubeLab, fault: Fault) -> None:
    """The malformed set's route has no workloads, so its refusal proves nothing about
    the weights: this one is the report's case, a route the console could otherwise drive."""
    ns = unique_ns("ko-zero")
    kube_lab.apply_yaml(yaml.safe_dump_all(gateway_docs(ns, weights=(0, 0)), sort_keys=False))
    wait_ready(kube_lab, ns, "yolo-v8", "yolo-v9")
    b = backend(kube_lab, ns)
    try:
        with pytest.raises(ActionUnavailable, match=r"weight|no traffic|receives traffic") as info:
            b.act(RolloutRef("lab", ns, "yolo"), Action.ADVANCE)
    finally:
        weights = route_weights(kube_lab.get_json("httproute", "yolo", "-n", ns))
        fault.observed(f"weights now {weights}")
    assert weights == [0, 0]
    fault.observed(f"refused: {info.value}; weights still {weights}")
