"""Kubeconfig loading, error sentences, redaction and the audit log (no cluster needed)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import urllib3
import yaml

from console import audit
from console.kube import config, connection
from console.kube.config import ClusterConfig, load_clusters
from console.kube.errors import ApiError, describe_error, redact
from console.kube.events import event_body
from console.model import Action, ConsoleError


def authorization(cluster: ClusterConfig) -> str:
    """The Authorization header the cluster's next request carries."""
    api = cluster.connection.api_client()
    headers = api.param_serialize("GET", "/version", auth_settings=["BearerToken"])[2]
    return str(headers.get("authorization") or "")


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
    # tokenFile is relative to the kubeconfig's directory.
    assert authorization(b) == "Bearer bobs-token"
    assert authorization(a2) == f"Bearer {TOKEN}"
    assert a2.connection.host == "https://127.0.0.1:6443"
    # insecure-skip-tls-verify reaches the package's Configuration.
    assert b.connection.configuration.verify_ssl is False
    assert a2.connection.configuration.verify_ssl is True


def test_token_file_is_read_again_once_a_minute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(tmp_path / "config")
    token = tmp_path / "bob.token"
    token.write_text("first\n")
    [b] = load_clusters(str(path), ["ctx-b"])
    assert authorization(b) == "Bearer first"
    token.write_text("rotated\n")  # a projected service-account token rotates
    assert authorization(b) == "Bearer first"
    monkeypatch.setattr(connection, "RELOAD_S", 0.0)
    b.connection._next_reload = 0.0
    assert authorization(b) == "Bearer rotated"


def test_kubeconfig_env_and_merge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = write_config(tmp_path / "one", **{"current-context": "ctx-b"})
    (tmp_path / "bob.token").write_text("bobs-token\n")  # the tokenFile of ctx-b's user
    second = write_config(
        tmp_path / "two",
        users=[{"name": "alice", "user": {"token": "from-the-second-file"}}],
        contexts=[
            {"name": "ctx-a", "context": {"cluster": "c-b", "user": "alice"}},
            {"name": "ctx-c", "context": {"cluster": "c-a", "user": "alice"}},
        ],
    )
    monkeypatch.setenv("KUBECONFIG", f"{first}:{second}:{tmp_path / 'missing'}")
    [c] = load_clusters(None, [])
    assert c.name == "ctx-b"  # the first file's current-context wins
    a, only_second = load_clusters(None, ["ctx-a", "ctx-c"])
    # The first file to define a name wins; names only the second defines are there.
    assert a.connection.host == "https://127.0.0.1:6443"
    assert authorization(a) == f"Bearer {TOKEN}"
    assert only_second.connection.host == "https://127.0.0.1:6443"
    assert authorization(only_second) == f"Bearer {TOKEN}"


def test_tls_server_name_and_proxy_url_reach_the_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    clusters = [
        {
            "name": "c-a",
            "cluster": {
                "server": "https://127.0.0.1:6443",
                "insecure-skip-tls-verify": True,
                "tls-server-name": "kubernetes.lab",
                "proxy-url": "http://127.0.0.1:3128",
            },
        }
    ]
    [a] = load_clusters(str(write_config(tmp_path / "config", clusters=clusters)), ["ctx-a"])
    pool = a.connection.api_client().rest_client.pool_manager
    # proxy-url wins over NO_PROXY, as kubectl has it.
    assert isinstance(pool, urllib3.ProxyManager)
    assert pool.proxy.url == "http://127.0.0.1:3128"
    assert pool.connection_pool_kw["server_hostname"] == "kubernetes.lab"


def test_https_proxy_environment_and_no_proxy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    [a] = load_clusters(str(write_config(tmp_path / "config")), ["ctx-a"])
    pool = a.connection.api_client().rest_client.pool_manager
    assert isinstance(pool, urllib3.ProxyManager)
    monkeypatch.setenv("NO_PROXY", "127.0.0.0/8")
    [a] = load_clusters(str(write_config(tmp_path / "config")), ["ctx-a"])
    pool = a.connection.api_client().rest_client.pool_manager
    assert not isinstance(pool, urllib3.ProxyManager)


def test_in_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "token").write_text("sa-token")
    (tmp_path / "ca.crt").write_text("not empty")
    (tmp_path / "namespace").write_text("guard-ns\n")
    monkeypatch.setattr(config, "SA_DIR", str(tmp_path))
    monkeypatch.setenv("KUBECONFIG", "")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    [c] = load_clusters(None, [])
    assert (c.name, c.namespace) == ("in-cluster", "guard-ns")
    assert c.connection.host == "https://10.0.0.1:443"
    assert authorization(c).lower() == "bearer sa-token"
    with pytest.raises(ConsoleError, match="--context needs a kubeconfig"):
        load_clusters(None, ["x"])
    (tmp_path / "token").unlink()
    with pytest.raises(ConsoleError) as err:
        load_clusters(None, [])
    assert str(err.value).startswith("In-cluster configuration failed: ")


def test_missing_cluster_and_bad_files(tmp_path: Path) -> None:
    path = write_config(
        tmp_path / "config",
        contexts=[{"name": "ctx-a", "context": {"cluster": "gone", "user": "alice"}}],
    )
    with pytest.raises(ConsoleError) as err:
        load_clusters(str(path), [])
    assert str(err.value) == f"Context 'ctx-a' names cluster 'gone', not in {path}."
    missing_ca = write_config(
        tmp_path / "ca",
        clusters=[
            {
                "name": "c-a",
                "cluster": {"server": "https://x:1", "certificate-authority": "nope.crt"},
            }
        ],
    )
    with pytest.raises(ConsoleError) as err:
        load_clusters(str(missing_ca), [])
    assert str(err.value).startswith(f"Cannot use context 'ctx-a' of {missing_ca}: ")
    assert "nope.crt" in str(err.value)
    listed = tmp_path / "list"
    listed.write_text("- a\n- b\n")
    with pytest.raises(ConsoleError, match="not a kubeconfig mapping"):
        load_clusters(str(listed), [])


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
    # The package's loader never sees the exec entry: the plugin runs through the
    # console's cache (once), not kubernetes' ExecProvider.
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
    assert authorization(c) == "Bearer from-exec"


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
