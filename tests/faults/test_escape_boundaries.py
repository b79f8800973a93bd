"""Escape injection (issue 9, item 1) at each boundary, without a server.

Hostile text enters through an object (names, annotations, messages, images),
an API error body or a Prometheus answer. Each boundary here is the real code
path the lab and the TUI use; tests/faults/test_escape_lab.py repeats the
report's exact repro against the real apiserver, tests/faults/test_escape_tui.py
on the screen.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from console import audit
from console.headless import list_json, table
from console.kube import mesh
from console.kube.backend import KubeBackend
from console.kube.errors import ApiError, describe_error
from console.kube.events import event_body
from console.metrics.prometheus import QueryError, _http_reason, parse_result
from console.model import Action, ActionError, ConsoleError, Rollout, RolloutRef
from tests.faults.conftest import Fault
from tests.faults.hostile import OSC_ST, REPRO, RLO, assert_terminal_safe
from tests.unit.test_mesh_istio import ISTIO, deployment_obj, standard, vs_obj

HOSTILE_ANNOTATIONS = {
    mesh.PAUSED_ANNOTATION: "true",
    mesh.PAUSED_BY_ANNOTATION: REPRO,
    mesh.PAUSED_AT_ANNOTATION: f"2026-11-30T12:00:00Z{OSC_ST}",
    # A 5,000-character plan: must not be echoed whole in the warning.
    mesh.STEPS_ANNOTATION: "10,x" + "9" * 5000,
}


def hostile_mesh_rollout() -> Rollout:
    rel = dict(standard())
    rel[mesh.DEPLOYMENTS] = [
        deployment_obj("tf-serving-v1", "v1", "tensorflow/serving:2.12.0"),
        deployment_obj("tf-serving-v2", "v2", f"tensorflow/serving:2.13.0-{RLO}gpu"),
    ]
    [r] = KubeBackend._to_rollouts(ISTIO, [vs_obj(annotations=HOSTILE_ANNOTATIONS)], rel, "lab")
    return r


@pytest.mark.fault(
    "escape set in object fields (provider output)",
    "no control/bidi character, 'paused by mallory', warning clipped",
)
def test_provider_output_is_clean_where_objects_become_rollouts(fault: Fault) -> None:
    r = hostile_mesh_rollout()
    fault.observed(f"message {r.message!r}, warning of {len(r.warnings[0])} chars")
    assert_terminal_safe(repr(r))
    assert "paused by mallory" in r.message
    assert r.canary is not None and r.canary.images[0].tag == "2.13.0-gpu"
    [warning] = r.warnings
    assert len(warning) < 400 and "…" in warning


@pytest.mark.fault(
    "escape set reaches the provider raw (guard is not vacuous)",
    "the unclean provider output carries the RLO",
)
def test_the_unclean_provider_output_really_is_hostile(fault: Fault) -> None:
    """The guard above would pass vacuously if the provider never passed the text on."""
    rel = dict(standard())
    image = f"tensorflow/serving:2.13.0-{RLO}gpu"
    rel[mesh.DEPLOYMENTS] = [rel[mesh.DEPLOYMENTS][0], deployment_obj("tf-serving-v2", "v2", image)]
    [raw] = ISTIO.to_rollouts([vs_obj()], rel, "lab")
    fault.observed(f"raw tag {raw.canary.images[0].tag if raw.canary else None!r}")
    assert raw.canary is not None and RLO in raw.canary.images[0].tag


@pytest.mark.fault(
    "escape set in headless get (json, table)",
    "no control character in either output",
)
def test_headless_json_and_table_carry_no_control_character(fault: Fault) -> None:
    r = hostile_mesh_rollout()
    text = json.dumps(list_json([r]), indent=2, ensure_ascii=True)  # as `get -o json`
    fault.observed(f"json message {json.loads(text)['items'][0]['message'][:40]!r}")
    assert_terminal_safe(text, newlines=True)
    assert_terminal_safe(table([r], clusters=True), newlines=True)
    assert json.loads(text)["items"][0]["message"].startswith("paused by mallory")


@pytest.mark.fault(
    "escape set in an API error body",
    "one clean sentence under 600 chars",
)
def test_api_error_body_becomes_one_clean_clipped_sentence(fault: Fault) -> None:
    body = json.dumps(
        {"kind": "Status", "message": f"admission denied: {REPRO} {RLO}" + "A" * 5000}
    )
    text = describe_error(ApiError(422, "Unprocessable Entity", body), what="patch x", cluster="c")
    fault.observed(f"{len(text)} chars: {text[:60]!r}")
    assert_terminal_safe(text)
    assert "admission denied: mallory" in text and len(text) < 600
    # Not JSON at all, and no status: the exception's own text.
    text = describe_error(OSError(f"boom {REPRO}"), what="list x", cluster="c")
    assert_terminal_safe(text)
    assert "boom mallory" in text


@pytest.mark.fault(
    "escape set in a console error",
    "every error one clean line",
)
def test_every_console_error_is_one_clean_line(fault: Fault) -> None:
    ref = RolloutRef("lab", "ns", "x")
    for exc in (ConsoleError(f"bad {REPRO}\nline"), ActionError(ref, Action.PAUSE, REPRO)):
        fault.observed(repr(str(exc)))
        assert_terminal_safe(str(exc))


@pytest.mark.fault(
    "escape set in the Event the console writes",
    "a clean Event message",
)
def test_event_written_to_the_cluster_is_clean(fault: Fault) -> None:
    obj = vs_obj()
    body = event_body(obj, Action.RESUME, "admin", f"paused by {REPRO}", "running")
    fault.observed(repr(body["message"]))
    assert_terminal_safe(body["message"])
    assert body["message"] == "admin: resume: paused by mallory -> running"


@pytest.mark.fault(
    "escape set in the audit log",
    "escapes removed, not merely escaped",
)
def test_audit_line_is_clean(tmp_path: Path, fault: Fault) -> None:
    path = tmp_path / "audit.jsonl"
    record = audit.AuditRecord(
        who="admin",
        cluster="lab",
        namespace="ns",
        name=f"vs{RLO}",
        action="resume",
        result="ok",
        before=f"paused by {REPRO}",
        message=f"resumed {OSC_ST}",
    )
    audit.append(record, path)
    line = path.read_text(encoding="utf-8")
    fault.observed(f"before={audit.read(path)[0]['before']!r}")
    assert "\\u001b" not in line  # removed, not merely escaped
    assert_terminal_safe(line, newlines=True)
    assert audit.read(path)[0]["before"] == "paused by mallory"


@pytest.mark.fault(
    "escape set in Prometheus error bodies and labels",
    "clean, clipped reason; clean labels",
)
def test_prometheus_error_body_and_labels_are_clean(fault: Fault) -> None:
    body = json.dumps({"status": "error", "error": f"{REPRO} {RLO}" + "E" * 5000}).encode()
    error = _http_reason(500, body, "http://prom")
    fault.observed(f"{len(error.reason)} chars: {error.reason[:50]!r}")
    assert_terminal_safe(error.reason)
    assert len(error.reason) < 300
    assert error.reason.startswith("http://prom answered HTTP 500: mallory")
    assert_terminal_safe(str(QueryError(f"x {REPRO}")))
    data = [{"metric": {"pod": f"p{REPRO}", f"l{RLO}": "v"}, "values": [[1, "1"]]}]
    [(labels, _)] = parse_result(data, expect="matrix")
    assert dict(labels) == {"pod": "pmallory", "l": "v"}
