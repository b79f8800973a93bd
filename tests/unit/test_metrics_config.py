"""Connection config: file + args, auth, TLS flags, and secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.metrics.config import (
    Secret,
    default_config_path,
    load_config,
    parse_duration,
    parse_quantiles,
    redact,
)
from console.model import ConsoleError

TOKEN = "s3cr3t-token-value"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_url_from_args_only_keeps_path_prefix() -> None:
    c = load_config(url="https://mimir.example.com:8443/prometheus/", config_path=None)
    assert c.url == "https://mimir.example.com:8443/prometheus"
    assert c.request_headers() == {} and c.basic_auth() is None
    assert c.profile == "istio" and c.gpu_profile == "dcgm"
    assert c.quantiles == (0.5, 0.99)


def test_default_config_file_is_read_from_xdg_config_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    path = default_config_path()
    assert path == tmp_path / "rollout-console" / "config.yaml"
    path.parent.mkdir()
    path.write_text("prometheus: {url: 'http://prom:9090'}\nmetrics: {window: 30m, step: 30s}\n")
    c = load_config()
    assert c.url == "http://prom:9090" and c.window_s == 1800 and c.step_s == 30
    # --prometheus wins over the file
    assert load_config(url="http://other:9090").url == "http://other:9090"


def test_full_config_file(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    path = write(
        tmp_path,
        f"""
prometheus:
  url: https://thanos.example.com/
  bearer_token_file: {token_file}
  headers: {{X-Scope-OrgID: team-a}}
  tls: {{ca_file: {ca}}}
  timeout: 3s
metrics:
  profile: generic-http
  gpu_profile: none
  refresh: 30s
  rate_window: 2m
  quantiles: [p50, p95]
  max_concurrency: 1
profiles:
  generic-http:
    labels: {{service: [app]}}
""",
    )
    c = load_config(config_path=path, window_s=600.0)
    assert c.request_headers() == {"X-Scope-OrgID": "team-a", "Authorization": f"Bearer {TOKEN}"}
    assert c.ca_file == str(ca) and not c.insecure_skip_verify
    assert c.timeout_s == 3 and c.refresh_s == 30 and c.rate_window_s == 120
    assert c.quantiles == (0.5, 0.95) and c.max_concurrency == 1
    assert c.requests_profile.service_labels == ("app",)
    assert c.gpu is None and c.window_s == 600.0
    # the token is not in the repr, and redact removes it from any text
    assert TOKEN not in repr(c)
    assert (
        c.redact(f"500: echo Authorization: Bearer {TOKEN}")
        == "500: echo Authorization: Bearer ***"
    )
    # the file is re-read: a rotated token is used at the next request
    token_file.write_text("rotated-token-2")
    assert c.request_headers()["Authorization"] == "Bearer rotated-token-2"


def test_basic_auth_from_url_user_info_is_never_shown(tmp_path: Path) -> None:
    c = load_config(url="http://alice:pa55word@127.0.0.1:9090/prom")
    assert c.url == "http://127.0.0.1:9090/prom"
    assert c.basic_auth() == ("alice", "pa55word")
    assert "pa55word" not in repr(c)
    assert (
        c.redact("failed for http://alice:pa55word@x/ pa55word") == "failed for http://***@x/ ***"
    )


def test_basic_auth_password_file(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("hunter22\n")
    path = write(
        tmp_path,
        f"prometheus: {{url: 'http://p:9090', basic_auth: {{username: u, password_file: {pw}}}}}",
    )
    assert load_config(config_path=path).basic_auth() == ("u", "hunter22")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("prometheus: {url: 'ftp://x'}", "not an http:// or https:// URL"),
        ("prometheus: [1, 2]", "must be a mapping"),
        ("prometheus: {url: 'http://x', insecure_skip_verify: 'yes'}", "true or false"),
        ("prometheus: {url: 'http://x', ca_file: /nope/ca.pem}", "does not exist"),
        ("prometheus: {url: 'http://x', bearer_token: a, basic_auth: {username: u}}", "not both"),
        ("prometheus: {url: 'http://x'}\nmetrics: {window: soon}", "duration"),
        ("prometheus: {url: 'http://x'}\nmetrics: {profile: nope}", "no requests profile"),
        ("prometheus: {url: 'http://x'}\nmetrics: {gpu_profile: istio}", "no GPU profile"),
        ("prometheus: {url: 'http://x'}\nmetrics: {quantiles: [0.5]}", "two numbers"),
        ("prometheus: {url: 'http://x'\n", "not valid YAML"),
        ("metrics: {}", "No Prometheus URL"),
    ],
)
def test_config_problems_are_one_sentence(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(ConsoleError, match=words) as info:
        load_config(config_path=write(tmp_path, text))
    assert "\n" not in str(info.value)


def test_missing_explicit_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConsoleError, match="does not exist"):
        load_config(url="http://x", config_path=tmp_path / "nope.yaml")


def test_secret_and_redact_helpers() -> None:
    s = Secret("abc123")
    assert str(s) == repr(s) == "Secret('***')" and f"{s}" == "Secret('***')"
    assert redact("token abc123 here", ["abc123"]) == "token *** here"
    assert redact("{'Authorization': 'Bearer xyz'}", []) == "{'Authorization': 'Bearer ***'}"


def test_durations_and_quantiles() -> None:
    assert parse_duration("1h30m", "w") == 5400
    assert parse_duration("90", "w") == 90
    assert parse_duration(15, "w") == 15
    with pytest.raises(ConsoleError):
        parse_duration("0s", "w")
    assert parse_quantiles("0.5,0.9") == (0.5, 0.9)
    assert parse_quantiles(["p50", "p99"]) == (0.5, 0.99)


def test_prometheus_configured_by_args_or_default_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from console.metrics import prometheus_configured

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert not prometheus_configured(None, None)
    assert prometheus_configured("http://p:9090", None)
    path = default_config_path()
    path.parent.mkdir()
    path.write_text("metrics: {window: 5m}\n")
    assert not prometheus_configured(None, None)
    path.write_text("prometheus: {url: 'http://p:9090'}\n")
    assert prometheus_configured(None, None)
