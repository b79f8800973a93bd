"""Kubeconfig loading, error sentences, redaction and the audit log (no cluster needed)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from console import audit
from console.kube.config import load_clusters
from console.kube.errors import describe_error, redact
from console.kube.events import event_body
from console.kube.transport import ApiError
from console.model import Action, ConsoleError

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2VjcmV0"


def write_config(path: Path, **overrides: Any) -> Path:
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "c-a",
                "cluster": {
                    "server": "https://127.0.0.1:6443",
                    "certificate-authority-data": base64.b64encode(b"not a cert").decode(),
                },
            },
            {
                "name": "c-b",
                "cluster": {"server": "https://127.0.0.1:7443", "insecure-skip-tls-verify": True},
            },
        ],
        "users": [
            {"name": "alice", "user": {"token": TOKEN}},
            {"name": "bob", "user": {"tokenFile": "bob.token"}},
            {"name": "legacy", "user": {"auth-provider": {"name": "gcp"}}},
        ],
        "contexts": [
            {"name": "ctx-a", "context": {"cluster": "c-a", "user": "alice", "namespace": "ml"}},
            {"name": "ctx-b", "context": {"cluster": "c-b", "user": "bob"}},
            {"name": "ctx-legacy", "context": {"cluster": "c-b", "user": "legacy"}},
        ],
        "current-context": "ctx-a",
    }
    config.update(overrides)
    path.write_text(yaml.safe_dump(config))
    return path


def test_contexts_and_default_namespace(tmp_path: Path) -> None:
    path = write_config(tmp_path / "config")
    (tmp_path / "bob.token").write_text("bobs-token\n")
    [a] = load_clusters(str(path), [])
    assert (a.name, a.namespace, a.user) == ("ctx-a", "ml", "alice")
    a2, b = load_clusters(str(path), ["ctx-a", "ctx-b"])
    assert (b.name, b.namespace, b.user) == ("ctx-b", "default", "bob")
    # tokenFile is relative to the kubeconfig's directory and re-read on use.
    assert b.transport.creds.bearer() == "bobs-token"
    assert a2.transport.host == "127.0.0.1" and a2.transport.port == 6443


def test_kubeconfig_env_and_merge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = write_config(tmp_path / "one", **{"current-context": "ctx-b"})
    second = write_config(tmp_path / "two")
    monkeypatch.setenv("KUBECONFIG", f"{first}:{second}:{tmp_path / 'missing'}")
    [c] = load_clusters(None, [])
    assert c.name == "ctx-b"  # the first file's current-context wins


def test_unknown_context_is_one_sentence(tmp_path: Path) -> None:
    path = write_config(tmp_path / "config")
    with pytest.raises(ConsoleError) as err:
        load_clusters(str(path), ["nope"])
    assert str(err.value) == (
        f"Unknown context 'nope' in {path} (known: ctx-a, ctx-b, ctx-legacy)."
    )


def test_unreadable_and_invalid_kubeconfig(tmp_path: Path) -> None:
    with pytest.raises(ConsoleError) as err:
        load_clusters(str(tmp_path / "absent"), [])
    assert "No kubeconfig at" in str(err.value)
    bad = tmp_path / "bad"
    bad.write_text(f"users: [token: {TOKEN}\n  - : :")
    with pytest.raises(ConsoleError) as err:
        load_clusters(str(bad), [])
    assert "invalid YAML" in str(err.value) and TOKEN not in str(err.value)


def test_legacy_auth_provider_refused(tmp_path: Path) -> None:
    path = write_config(tmp_path / "config")
    with pytest.raises(ConsoleError) as err:
        load_clusters(str(path), ["ctx-legacy"])
    assert "auth-provider 'gcp'" in str(err.value)


def test_exec_plugin_token(tmp_path: Path) -> None:
    plugin = tmp_path / "plugin.sh"
    plugin.write_text(
        "#!/bin/sh\n"
        'echo \'{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",'
        '"status":{"token":"from-exec"}}\'\n'
    )
    plugin.chmod(0o755)
    path = write_config(
        tmp_path / "config",
        users=[
            {
                "name": "alice",
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1",
                        "command": str(plugin),
                    }
                },
            }
        ],
    )
    [c] = load_clusters(str(path), [])
    assert c.transport.creds.bearer() == "from-exec"


def test_redaction() -> None:
    assert TOKEN not in redact(f"Authorization: Bearer {TOKEN}")
    assert "s3cret" not in redact("password: s3cret")
    assert "abc" not in redact('{"token": "abc"}')
    assert redact('rollouts.argoproj.io "x" not found') == 'rollouts.argoproj.io "x" not found'


@pytest.mark.parametrize(
    ("exc", "start"),
    [
        (ApiError(403, "Forbidden", json.dumps({"message": "no"})), "Forbidden: user 'u' may not"),
        (ApiError(404, "Not Found", json.dumps({"message": "gone"})), "Not found:"),
        (ApiError(409, "Conflict", "{}"), "Conflict: the object changed"),
        (TimeoutError("timed out"), "Timed out:"),
        (TimeoutError("timed out"), "Timed out:"),
        (ConnectionRefusedError(111, "Connection refused"), "Connection refused:"),
        (
            ApiError(500, "Internal", json.dumps({"message": f"Bearer {TOKEN}"})),
            "The API server answered 500",
        ),
    ],
)
def test_error_sentences(exc: BaseException, start: str) -> None:
    text = describe_error(exc, what="pause ml/x", cluster="lab", user="u")
    assert text.startswith(start), text
    assert "\n" not in text and TOKEN not in text
    assert text.endswith(".")


def test_audit_log_in_xdg_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    path = audit.append(
        audit.AuditRecord(
            who="alice",
            cluster="lab",
            namespace="ml",
            name="x",
            action="advance",
            result="ok",
            before="step 1/6, weight 20%",
            after="step 2/6, weight 20%",
            provider="argo",
        )
    )
    assert path == tmp_path / "rollout-console" / "audit.jsonl"
    [line] = audit.read(path)
    assert line["who"] == "alice" and line["before"].startswith("step 1/6")
    assert line["time"].endswith("+00:00")


def test_event_body() -> None:
    obj = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "x", "namespace": "ml", "uid": "u1", "resourceVersion": "5"},
    }
    body = event_body(obj, Action.ADVANCE, "alice", "step 1/6", "step 2/6")
    assert body["reason"] == "RolloutConsoleAdvance"
    assert body["message"] == "alice: advance: step 1/6 -> step 2/6"
    assert body["involvedObject"]["uid"] == "u1" and body["type"] == "Normal"
