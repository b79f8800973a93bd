"""`python -m console get|ACTION` as a subprocess against the lab: what a runbook runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kube.helpers import deploy_canary, unique_ns, wait_rollout
from tests.lab import sample
from tests.lab.kube import KubeLab

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]


def run(lab: KubeLab, *args: str, tmp: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, XDG_STATE_HOME=str(tmp / "state"), PYTHONPATH=str(REPO))
    env.pop("KUBECONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "console", *args, "--kubeconfig", str(lab.kubeconfig)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=REPO,
    )


def test_get_json_and_table(kube_lab: KubeLab, tmp_path: Path) -> None:
    ns = unique_ns("ko-get")
    ro = deploy_canary(kube_lab, ns)
    done = run(kube_lab, "get", "-n", ns, "-o", "json", tmp=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["apiVersion"] == "rollout-console/v1" and data["kind"] == "RolloutList"
    [item] = data["items"]
    assert item["cluster"] == "lab" and item["namespace"] == ns and item["name"] == sample.NAME
    assert item["provider"] == "argo" and item["phase"] == "Paused"
    assert item["step"] == {"current": 1, "total": 6, "label": "1/6"}
    assert item["setWeight"] == 20 and item["actualWeight"] == 20
    assert item["stable"]["podTemplateHash"] == ro["status"]["stableRS"]
    assert item["canary"]["images"][0]["reference"] == sample.CANARY_IMAGE
    assert item["unavailable"] == [] and item["warnings"] == []

    table = run(kube_lab, "get", "-n", ns, tmp=tmp_path)
    assert table.returncode == 0, table.stderr
    header, row = table.stdout.splitlines()
    assert header.split() == [
        "NAMESPACE",
        "NAME",
        "KIND",
        "STATUS",
        "STEP",
        "SET-WEIGHT",
        "ACTUAL-WEIGHT",
        "READY",
        "DESIRED",
        "UP-TO-DATE",
        "AVAILABLE",
        "WARNINGS",
    ]
    assert row.split()[:7] == [ns, sample.NAME, "argo", "Paused", "1/6", "20", "20"]


def test_actions_exit_codes_and_confirmation(kube_lab: KubeLab, tmp_path: Path) -> None:
    ns = unique_ns("ko-cli")
    deploy_canary(kube_lab, ns)
    target = f"{ns}/{sample.NAME}"

    # Dangerous without --yes and without a terminal: refused, nothing sent.
    refused = run(kube_lab, "rollback", target, tmp=tmp_path)
    assert refused.returncode == 2
    assert "--yes" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert sample.get_rollout(kube_lab, ns)["status"].get("abort") is not True

    paused = run(kube_lab, "pause", target, tmp=tmp_path)
    assert paused.returncode == 0, paused.stderr
    assert "paused" in paused.stdout
    assert sample.get_rollout(kube_lab, ns)["spec"]["paused"] is True

    aborted = run(kube_lab, "rollback", target, "--yes", tmp=tmp_path)
    assert aborted.returncode == 0, aborted.stderr
    wait_rollout(kube_lab, ns, lambda ro: ro["status"].get("abort") is True, "aborted")

    missing = run(kube_lab, "pause", f"{ns}/nope", tmp=tmp_path)
    assert missing.returncode == 1
    [line] = missing.stderr.strip().splitlines()
    assert line.startswith("rollout-console: Not found:")

    audit_lines = (tmp_path / "state" / "rollout-console" / "audit.jsonl").read_text().splitlines()
    results = [(json.loads(x)["action"], json.loads(x)["result"]) for x in audit_lines]
    assert ("pause", "ok") in results and ("rollback", "ok") in results
