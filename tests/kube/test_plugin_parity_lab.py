"""`rollout-console get` against what `kubectl argo rollouts` itself prints, on the lab.

The plugin is built from the Argo Rollouts module the lab pins (tests/lab/install), so
the expectation is the real client's reading of the same objects, not one derived by
hand. For each state a release can be in (healthy, paused mid-canary, aborted, an
invalid spec the controller never progressed), status, step, set weight, actual
weight and images must read the same.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.kube.helpers import deploy_canary, wait_rollout
from tests.lab import binaries, sample
from tests.lab.kube import KubeLab

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]


def plugin(lab: KubeLab, *args: str) -> str:
    path = binaries.KUBECTL_ARGO_ROLLOUTS.path
    if not path.exists():
        pytest.fail(f"kubectl-argo-rollouts is not built at {path}: run tests/lab/install")
    done = subprocess.run(
        [str(path), *args, "--kubeconfig", str(lab.kubeconfig)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def console_get(lab: KubeLab, ns: str, tmp: Path) -> dict[str, Any]:
    env = dict(os.environ, XDG_STATE_HOME=str(tmp / "state"), PYTHONPATH=str(REPO))
    env.pop("KUBECONFIG", None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "console",
            "get",
            "-n",
            ns,
            "-o",
            "json",
            "--kubeconfig",
            str(lab.kubeconfig),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    [item] = json.loads(done.stdout)["items"]
    assert isinstance(item, dict)
    return item


def plugin_get(lab: KubeLab, ns: str) -> dict[str, Any]:
    """The fields of `get rollout` ("%-17s%v" lines; images continue under "Images:")."""
    text = plugin(lab, "get", "rollout", sample.NAME, "-n", ns, "--no-color")
    fields: dict[str, Any] = {"images": []}
    in_images = False
    for line in text.splitlines():
        key, value = line[:17].strip(), line[17:].strip()
        if key == "Images:" or (in_images and key == "" and value):
            in_images = True
            image, _, tags = value.partition(" (")
            for tag in tags.rstrip(")").split(", "):
                fields["images"].append((tag, image))
            continue
        in_images = False
        if key == "Status:":
            fields["status"] = value.split()[-1]  # after the icon
        elif key in ("Step:", "SetWeight:", "ActualWeight:"):
            fields[key.rstrip(":")] = value
    return fields


def plugin_list(lab: KubeLab, ns: str) -> dict[str, str]:
    header, row = plugin(lab, "list", "rollouts", "-n", ns).splitlines()
    return dict(zip(header.split(), re.split(r"\s+", row.strip()), strict=True))


def console_images(item: dict[str, Any]) -> list[tuple[str, str]]:
    """Images of the versions that have replicas, as the plugin lists them (it skips
    ReplicaSets scaled to 0)."""
    out: list[tuple[str, str]] = []
    for role in ("canary", "stable"):
        version = item[role]
        if version and version["desired"] > 0:
            out += [(role, image["reference"]) for image in version["images"]]
    return sorted(out)


@pytest.fixture(scope="module")
def states(kube_lab: KubeLab) -> Iterator[dict[str, str]]:
    """One namespace per state; returns state -> namespace."""
    # Not unique_ns(): its names are deleted after each test, and these serve the module.
    tag = uuid.uuid4().hex[:6]
    names = [f"pp-{state}-{tag}" for state in ("ok", "pa", "ab", "in")]
    healthy, paused, aborted, invalid = names
    deploy_canary(kube_lab, healthy, start=False)
    deploy_canary(kube_lab, paused)
    deploy_canary(kube_lab, aborted)
    plugin(kube_lab, "abort", sample.NAME, "-n", aborted)
    wait_rollout(
        kube_lab,
        aborted,
        lambda ro: ro["status"].get("abort") is True and ro["status"].get("phase") == "Degraded",
        "aborted and Degraded",
    )
    objs = sample.manifests(invalid)
    for obj in objs:
        if obj["kind"] == "Rollout":
            # The CRD takes any int32; the controller's validation refuses > 100.
            obj["spec"]["strategy"]["canary"]["steps"] = [{"setWeight": 120}, {"pause": {}}]
    kube_lab.apply_yaml(yaml.safe_dump_all(objs, sort_keys=False))
    wait_rollout(
        kube_lab,
        invalid,
        lambda ro: any(
            c.get("type") == "InvalidSpec" for c in ro.get("status", {}).get("conditions", [])
        ),
        "InvalidSpec condition",
    )
    yield {"healthy": healthy, "paused": paused, "aborted": aborted, "invalid": invalid}
    kube_lab.kubectl("delete", "namespace", "--wait=false", "--ignore-not-found", *names)


@pytest.mark.parametrize("state", ["healthy", "paused", "aborted", "invalid"])
def test_get_reads_as_the_argo_plugin(
    kube_lab: KubeLab, states: dict[str, str], state: str, tmp_path: Path
) -> None:
    ns = states[state]

    # The controller keeps writing status; compare only a console reading taken between
    # two identical plugin readings, so both clients saw the same object.
    def settled() -> tuple[dict[str, Any], dict[str, Any], dict[str, str]] | None:
        before = (plugin_get(kube_lab, ns), plugin_list(kube_lab, ns))
        got = console_get(kube_lab, ns, tmp_path)
        after = (plugin_get(kube_lab, ns), plugin_list(kube_lab, ns))
        return (got, *after) if before == after else None

    got, want, listed = kube_lab.wait_for(settled, timeout=90, what="two equal plugin readings")

    assert got["phase"] == want["status"] == listed["STATUS"]
    # `get rollout` leaves Step empty where `list rollouts` prints "-".
    assert got["step"]["label"] == (want["Step"] or "-") == listed["STEP"]
    assert str(got["setWeight"]) == want["SetWeight"] == listed["SET-WEIGHT"]
    assert str(got["actualWeight"]) == want["ActualWeight"]
    assert console_images(got) == sorted(want["images"])


def test_states_cover_what_they_claim(kube_lab: KubeLab, states: dict[str, str]) -> None:
    # Guards the parity test against comparing four copies of one state.
    seen = {state: plugin_list(kube_lab, ns) for state, ns in states.items()}
    assert seen["healthy"]["STATUS"] == "Healthy" and seen["healthy"]["STEP"] == "6/6"
    assert seen["paused"]["STATUS"] == "Paused" and seen["paused"]["STEP"] == "1/6"
    assert seen["aborted"]["STATUS"] == "Degraded"
    assert seen["invalid"]["STATUS"] == "Degraded" and seen["invalid"]["STEP"] == "-"
