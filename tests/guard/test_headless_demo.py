"""`rollout-console verdict` and `guard --print-manifests` without a cluster (the demo)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import yaml

from console.cli import main
from console.guard.gates import CONFIGMAP_KEY, GateConfigError, parse_gate_sets
from console.guard.lease import LAST_EVALUATION_ANNOTATION, lease_status
from console.guard.sources import (
    ConfigMapGates,
    builtin_document,
    make_resolver,
    read_gate_file,
)
from console.guard.verdicts import VERDICT_JSON_VERSION


def test_verdict_exit_codes_follow_the_state(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verdict", "vision/yolo-detector", "--demo"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("vision/yolo-detector: FAIL (✖), gate set default")
    assert "p99-latency  FAIL" in out
    assert main(["verdict", "ml-serving/tf-serving", "--demo", "-o", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["apiVersion"] == VERDICT_JSON_VERSION and data["state"] == "PASS"
    assert {g["name"] for g in data["gates"]} == {"p99-latency", "error-rate", "gpu-memory"}
    # whisper-asr was rolled back: its canary serves nothing, which is no data, not a failure.
    assert main(["verdict", "ml-serving/whisper-asr", "--demo"]) == 3
    assert "NO_DATA" in capsys.readouterr().out
    assert main(["verdict", "vision/nope", "--demo"]) == 3
    assert capsys.readouterr().err == "rollout-console: No rollout vision/nope.\n"


def test_a_malformed_gates_file_is_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "gates.yaml"
    bad.write_text(
        "sets:\n  s:\n    gates:\n      - name: x\n        kind: absolute\n        metric: nope\n"
    )
    assert main(["verdict", "vision/yolo-detector", "--demo", "--gates", str(bad)]) == 3
    err = capsys.readouterr().err
    assert err.startswith(f"rollout-console: gates file {bad}, line 6: sets.s.gates[0].metric")
    assert err.count("\n") == 1


def test_config_file_gates_section_is_used(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "prometheus: {url: http://localhost:9}\n"
        "gates:\n"
        "  default: strict\n"
        "  sets:\n"
        "    strict:\n"
        "      gates:\n"
        "        - {name: p99, kind: absolute, metric: latency_p99_ms, op: '<', threshold: 10}\n"
    )
    parsed, source = read_gate_file(None, str(config))
    assert source == f"config file {config}" and parsed.default == "strict"
    from console.demo import make_demo

    backend, _ = make_demo()
    resolver = make_resolver(backend, None, str(config))
    [r] = [r for r in backend.list() if r.ref.name == "tf-serving"]
    assert resolver.for_rollout(r).name == "strict"


def test_watch_prints_one_json_line_per_evaluation(capsys: pytest.CaptureFixture[str]) -> None:
    import os
    import signal

    timer = threading.Timer(2.5, lambda: os.kill(os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        code = main(["verdict", "vision/yolo-detector", "--demo", "--watch", "--interval", "1s"])
    finally:
        timer.cancel()
    lines = capsys.readouterr().out.splitlines()
    assert code == 1 and len(lines) >= 2
    assert all(json.loads(line)["apiVersion"] == VERDICT_JSON_VERSION for line in lines)


def test_manifests_are_least_privilege_and_round_trip_the_builtin_gates(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["guard", "--print-manifests", "-n", "ops", "--image", "reg/rc:1.2.3"]) == 0
    docs = [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]
    kinds = [d["kind"] for d in docs]
    assert kinds == [
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "ConfigMap",
        "Deployment",
    ]
    by_kind = {d["kind"]: d for d in docs}
    rules = by_kind["ClusterRole"]["rules"]
    resources = {res for rule in rules for res in rule["resources"]}
    assert "rollouts/status" not in resources, "the guard must not be able to abort or promote"
    for rule in rules:
        assert "delete" not in rule["verbs"] and "update" not in rule["verbs"]
        assert "*" not in rule["verbs"] and "*" not in rule["resources"]
    [cm_rule] = [r for r in rules if "configmaps" in r["resources"]]
    assert cm_rule["resourceNames"] == ["rollout-console-gates"]
    deploy = by_kind["Deployment"]
    assert deploy["spec"]["replicas"] == 2 and deploy["metadata"]["namespace"] == "ops"
    [container] = deploy["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "reg/rc:1.2.3"
    assert container["args"][:2] == ["guard", "-A"]
    sets, default = parse_gate_sets(by_kind["ConfigMap"]["data"][CONFIGMAP_KEY], "cm")
    assert default == "default" and [g.name for g in sets["default"].gates] == [
        "p99-latency",
        "error-rate",
        "gpu-memory",
    ]
    assert by_kind["ConfigMap"]["data"][CONFIGMAP_KEY] == builtin_document()


class _FakeConfigMaps:
    """The one API call ConfigMapGates makes, answered from a dict (namespace -> data)."""

    cluster = "c"

    def __init__(self, data: dict[str, dict[str, str]]) -> None:
        self.data = data
        self.gets = 0

    def get(self, rt: object, namespace: str, name: str) -> dict[str, object]:
        self.gets += 1
        if namespace not in self.data:
            from console.kube.errors import ApiError

            raise ApiError(404, "Not Found", "")
        return {"metadata": {"namespace": namespace, "name": name}, "data": self.data[namespace]}

    def request(self, *args: object, **kwargs: object) -> object:
        from console.kube.errors import ApiError

        raise ApiError(403, "Forbidden", "")


def test_configmap_gates_are_cached_and_a_bad_one_is_a_sentence() -> None:
    now = [0.0]
    api = _FakeConfigMaps(
        {
            "good": {CONFIGMAP_KEY: builtin_document()},
            "bad": {CONFIGMAP_KEY: "sets: [1, 2]\n"},
            "empty": {"other": "x"},
        }
    )
    gates = ConfigMapGates(api, ttl_s=30, clock=lambda: now[0])
    gates.prefetch({"good", "bad"})  # list forbidden: falls back to GETs
    sets, default = gates("good")
    assert default == "default" and "default" in sets
    assert gates("absent") == ({}, None)
    with pytest.raises(GateConfigError) as bad:
        gates("bad")
    assert str(bad.value).startswith("ConfigMap bad/rollout-console-gates, line 1: sets")
    with pytest.raises(GateConfigError) as empty:
        gates("empty")
    assert str(empty.value) == "ConfigMap empty/rollout-console-gates: data.gates.yaml is missing."
    calls = api.gets
    gates("good")
    assert api.gets == calls, "cached"
    now[0] = 31.0
    gates("good")
    assert api.gets == calls + 1


def test_lease_status_reads_holder_age_and_dry_run() -> None:
    lease = {
        "metadata": {
            "annotations": {
                LAST_EVALUATION_ANNOTATION: "2026-11-30T12:00:00.000000Z",
                "rollout-console.io/dry-run": "true",
            }
        },
        "spec": {
            "holderIdentity": "guard-a\x1b[2J",
            "leaseDurationSeconds": 15,
            "renewTime": "2026-11-30T12:00:05.000000Z",
        },
    }
    t = 1796040005.0  # 2026-11-30T12:00:05Z
    s = lease_status(lease, t + 10, "lab")
    assert s.active and s.holder == "guard-a" and s.dry_run and s.cluster == "lab"
    assert s.last_evaluation == t - 5
    assert not lease_status(lease, t + 16).active
    assert not lease_status(None, t).active
    released = {"spec": {"holderIdentity": "", "renewTime": "2026-11-30T12:00:05Z"}}
    assert not lease_status(released, t).active
