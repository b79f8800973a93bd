"""Escape injection against the lab: the report's exact repro (issue 9, item 1).

A mesh VirtualService paused with a `paused-by` annotation that clears the
screen, turns the text red and retitles the tmux pane, and a canary image tag
with a right-to-left override. `get` (JSON and table), a refused `advance`, a
`resume`, the audit line and the Kubernetes Event written must carry none of
it. Prometheus: an error body with the same payload.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.kube import mesh
from console.metrics import make_prometheus_source
from console.model import (
    MetricsState,
    Phase,
    ProviderKind,
    Role,
    Rollout,
    RolloutRef,
    VersionInfo,
)
from tests.e2e.tmux import TmuxSession, installed_binary
from tests.faults.conftest import Fault
from tests.faults.hostile import REPRO, RLO, assert_terminal_safe
from tests.kube.test_headless_lab import REPO, run
from tests.kube.test_mesh_lab import APP, apply, istio_docs, unique, wait_ready
from tests.lab.kube import KubeLab
from tests.metrics.fault_proxy import FaultProxy

pytestmark = pytest.mark.lab

CANARY_IMAGE = f"tensorflow/serving:2.13.0-{RLO}gpu"


@pytest.fixture
def hostile_vs(kube_lab: KubeLab) -> Iterator[str]:
    """An Istio canary whose v2 image tag carries U+202E, paused by a hostile annotation."""
    ns = unique("fault-esc")
    docs = istio_docs(ns)
    for doc in docs:
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] == f"{APP}-v2":
            doc["spec"]["template"]["spec"]["containers"][0]["image"] = CANARY_IMAGE
    apply(kube_lab, docs)
    wait_ready(kube_lab, ns, f"{APP}-v1", f"{APP}-v2")
    # Exactly what the report ran.
    kube_lab.kubectl(
        "annotate",
        "vs",
        APP,
        "-n",
        ns,
        f"{mesh.PAUSED_ANNOTATION}=true",
        f"{mesh.PAUSED_BY_ANNOTATION}={REPRO}",
    )
    vs = kube_lab.get_json("virtualservice", APP, "-n", ns)
    assert vs["metadata"]["annotations"][mesh.PAUSED_BY_ANNOTATION] == REPRO  # stored raw
    yield ns
    kube_lab.kubectl("delete", "namespace", ns, "--wait=false", check=False)


@pytest.mark.fault(
    "escape repro in an annotation: get, advance, resume, audit, Event",
    "no control character anywhere; 'paused by mallory' as text",
)
def test_headless_output_audit_and_event_carry_no_control_character(
    kube_lab: KubeLab, hostile_vs: str, tmp_path: Path, fault: Fault
) -> None:
    ns = hostile_vs

    got = run(kube_lab, "get", "-n", ns, "-o", "json", tmp=tmp_path)
    fault.observed(f"get -o json exit {got.returncode}, {len(got.stdout)} bytes")
    assert got.returncode == 0, got.stderr
    assert_terminal_safe(got.stdout + got.stderr, newlines=True)
    [item] = [i for i in json.loads(got.stdout)["items"] if i["provider"] == "istio"]
    assert item["paused"] is True and item["message"].startswith("paused by mallory")
    assert item["canary"]["images"][0]["tag"] == "2.13.0-gpu"
    assert dict(item["extra"])["paused"] == "paused by mallory"

    table = run(kube_lab, "get", "-n", ns, tmp=tmp_path)
    assert table.returncode == 0, table.stderr
    assert_terminal_safe(table.stdout + table.stderr, newlines=True)
    assert APP in table.stdout and "Paused" in table.stdout

    # Refused while paused: the sentence quotes the annotation, cleaned.
    advance = run(kube_lab, "advance", f"{ns}/{APP}", tmp=tmp_path)
    assert advance.returncode == 1, advance.stdout
    assert_terminal_safe(advance.stdout + advance.stderr, newlines=True)
    assert "paused by mallory" in advance.stderr

    resume = run(kube_lab, "resume", f"{ns}/{APP}", tmp=tmp_path)
    assert resume.returncode == 0, resume.stderr
    assert_terminal_safe(resume.stdout + resume.stderr, newlines=True)
    assert "before: paused by mallory" in resume.stdout

    audit_text = (tmp_path / "state" / "rollout-console" / "audit.jsonl").read_text("utf-8")
    assert_terminal_safe(audit_text, newlines=True)
    assert "\\u001b" not in audit_text  # removed, not merely escaped
    lines = [json.loads(line) for line in audit_text.splitlines()]
    assert [(x["action"], x["result"]) for x in lines] == [
        ("advance", "refused"),
        ("resume", "ok"),
    ]
    assert "paused by mallory" in lines[0]["message"]
    assert lines[1]["before"] == "paused by mallory"

    # The Event other operators read with `kubectl describe`.
    events = kube_lab.get_json(
        "events", "-n", ns, "--field-selector", f"involvedObject.name={APP}"
    )["items"]
    messages = [e["message"] for e in events if e["reason"].startswith("RolloutConsoleResume")]
    assert messages and all("paused by mallory" in m for m in messages)
    for message in messages:
        assert_terminal_safe(message)


@pytest.mark.fault(
    "escape repro in an annotation, TUI in tmux",
    "top lines kept, pane title unchanged",
)
@pytest.mark.e2e
def test_tui_in_tmux_keeps_its_screen_and_the_pane_title(
    kube_lab: KubeLab, hostile_vs: str, tmp_path: Path, fault: Fault
) -> None:
    """The report's symptom: the top lines wiped and the tmux pane retitled "pwned"."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),  # this checkout's code behind the installed command
        "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "KUBECONFIG": str(kube_lab.kubeconfig),
    }
    tmux = TmuxSession([installed_binary(), "-n", hostile_vs], 140, 40, env)
    try:
        title = tmux.pane_title()
        screen = tmux.wait_for(
            lambda s: APP in s and "Paused" in s, "the paused canary in the list", 60
        )
        tmux.keys("Enter")
        screen = tmux.wait_text("paused by mallory", timeout=30)
        first = screen.splitlines()[0][:40]
        fault.observed(f"pane title {tmux.pane_title()!r}, first line {first!r}")
        assert "rollouts" in screen.splitlines()[0] or hostile_vs in screen.splitlines()[0]
        assert tmux.pane_title() == title and "pwned" not in tmux.pane_title()
        assert "2.13.0-gpu" in screen
        tmux.keys("q")
        tmux.wait_for(lambda _: tmux.pane_dead(), "the console to exit")
    finally:
        tmux.close()


@pytest.mark.fault(
    "Prometheus 500 with an escape-laden 5,000-char body",
    "UNAVAILABLE, one clean reason under 400 chars",
)
def test_prometheus_error_body_is_clean(proxy: FaultProxy, fault: Fault) -> None:
    rollout = Rollout(
        ref=RolloutRef("lab", "fault-esc", "detector"),
        provider=ProviderKind.ARGO,
        phase=Phase.PROGRESSING,
        stable=VersionInfo(Role.STABLE, label="v1", pods=("detector-v1-a",)),
        canary=VersionInfo(Role.CANARY, label="v2", pods=("detector-v2-a",)),
    )
    source = make_prometheus_source(url=proxy.url)
    proxy.mode = "hostile5xx"
    m = source.fetch([rollout], window_s=300, step_s=15)[rollout.ref.key]
    fault.observed(f"{m.state.name}, {len(m.reason)} chars: {m.reason[:50]!r}")
    assert m.state is MetricsState.UNAVAILABLE
    assert_terminal_safe(m.reason)
    assert "mallory" in m.reason and len(m.reason) < 400, m.reason
