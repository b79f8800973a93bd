"""Exec credential plugins that fail, hang or expire, against the lab's API server.

Before: a plugin that failed after 5 s ran once per resource kind, serially, and
made `get` take 50 s; a hanging plugin left `get` silent for more than 200 s.
Each plugin here is a small script that counts its runs in a file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from console import exit_codes
from console.kube.exec_credentials import EXPIRY_MARGIN_S, PLUGIN_TIMEOUT_S
from console.model import ConnectionState
from tests.faults.conftest import Fault
from tests.kube.helpers import ARGO_READER, backend, deploy_canary, stays, unique_ns
from tests.kube.test_watch_lab import Stream
from tests.lab.kube import KubeLab

pytestmark = pytest.mark.lab

USER = "oidc-alice"
FAIL_AFTER_S = 3.0

_PLUGIN = """\
import datetime, json, os, sys, time
with open({runs!r}, "a") as f:
    f.write(f"{{os.getpid()}}\\n")
mode = {mode!r}
if mode == "fail":
    time.sleep({fail_after!r})
    print("login required: run `oidc login`", file=sys.stderr)
    sys.exit(1)
if mode == "hang":
    time.sleep(3600)
expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds={lifetime!r})
print(json.dumps({{
    "apiVersion": "client.authentication.k8s.io/v1",
    "kind": "ExecCredential",
    "status": {{"token": {token!r}, "expirationTimestamp": expiry.isoformat()}},
}}))
"""


def exec_kubeconfig(
    kube_lab: KubeLab,
    tmp_path: Path,
    mode: str,
    *,
    token: str = "",
    lifetime: float = 0,
    fail_after: float = FAIL_AFTER_S,
) -> tuple[Path, Path]:
    """A copy of the lab's kubeconfig whose user is an exec plugin; (kubeconfig, runs file)."""
    runs = tmp_path / f"{mode}.runs"
    runs.touch()
    plugin = tmp_path / f"plugin-{mode}"
    plugin.write_text(
        f"#!{sys.executable}\n"
        + _PLUGIN.format(
            runs=str(runs), mode=mode, fail_after=fail_after, lifetime=lifetime, token=token
        )
    )
    plugin.chmod(0o755)
    config = yaml.safe_load(kube_lab.kubeconfig.read_text())
    exec_user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin)}}
    config["users"] = [{"name": USER, "user": exec_user}]
    for ctx in config["contexts"]:
        ctx["context"]["user"] = USER
    path = tmp_path / f"{mode}.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path, runs


def runs_of(runs: Path) -> list[int]:
    return [int(line) for line in runs.read_text().split()]


def get_all(kubeconfig: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "console", "get", "-A", "--kubeconfig", str(kubeconfig)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )
    return done, time.monotonic() - started


def one_sentence(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("rollout-console: ") and "Traceback" not in stderr
    return lines[0]


@pytest.mark.fault(
    "exec plugin fails after 3 s, get -A",
    "plugin runs once, get ends in about 3 s (not kinds x 3 s), exit 3, one sentence",
)
def test_a_failing_plugin_runs_once_not_once_per_kind(
    kube_lab: KubeLab, tmp_path: Path, fault: Fault
) -> None:
    kubeconfig, runs = exec_kubeconfig(kube_lab, tmp_path, "fail")
    done, took = get_all(kubeconfig)
    line = one_sentence(done.stderr)
    fault.observed(f"{len(runs_of(runs))} run(s), {took:.1f}s, exit {done.returncode}")
    assert len(runs_of(runs)) == 1
    assert took < FAIL_AFTER_S + 6, f"get took {took:.1f}s"
    assert done.returncode == exit_codes.UNAVAILABLE
    assert f"user {USER!r} exited 1" in line and "login required" in line


@pytest.mark.fault(
    "exec plugin hangs, get -A",
    "plugin killed at 30 s, get exits 3 with one sentence naming the user",
)
def test_a_hanging_plugin_is_killed_after_30s(
    kube_lab: KubeLab, tmp_path: Path, fault: Fault
) -> None:
    kubeconfig, runs = exec_kubeconfig(kube_lab, tmp_path, "hang")
    done, took = get_all(kubeconfig)
    line = one_sentence(done.stderr)
    [pid] = runs_of(runs)
    fault.observed(
        f"exit {done.returncode} after {took:.1f}s: {line.removeprefix('rollout-console: ')}"
    )
    assert done.returncode == exit_codes.UNAVAILABLE
    assert PLUGIN_TIMEOUT_S <= took < PLUGIN_TIMEOUT_S + 8, f"get took {took:.1f}s"
    assert f"user {USER!r}" in line and f"within {PLUGIN_TIMEOUT_S:g} s and was stopped" in line
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed, not left behind


@pytest.mark.fault(
    "exec plugin fails, TUI watches every kind",
    "one run per 10 s back-off across all watch threads, data marked stale",
)
def test_watch_threads_share_one_failing_run_per_back_off(
    kube_lab: KubeLab, tmp_path: Path, fault: Fault
) -> None:
    # A plugin that fails at once: only the cache stops every watch thread running it.
    kubeconfig, runs = exec_kubeconfig(kube_lab, tmp_path, "fail", fail_after=0.0)
    s = Stream(backend(kube_lab, None, kubeconfig=str(kubeconfig)))
    try:
        down = s.wait(lambda e: isinstance(e, ConnectionState) and not e.connected, 20, "stale")
        assert isinstance(down, ConnectionState)
        assert f"user {USER!r}" in down.message
        first = len(runs_of(runs))
        # Over 12 s, at most two more runs (one per 10 s back-off), not one per kind.
        assert stays(lambda: len(runs_of(runs)) <= first + 2, 12)
        fault.observed(f"{len(runs_of(runs))} run(s) in about 12 s of watching")
        assert first <= 2
    finally:
        s.close()


@pytest.mark.fault(
    "exec plugin succeeds with a 12 s expiry",
    "credential reused until its expiry, then the plugin runs again",
)
def test_a_credential_is_reused_until_its_expiry(
    kube_lab: KubeLab, tmp_path: Path, fault: Fault
) -> None:
    ns = unique_ns("ko-exec")
    deploy_canary(kube_lab, ns, start=False)
    sa = kube_lab.create_service_account_kubeconfig(ns, "viewer", ARGO_READER)
    token = yaml.safe_load(sa.read_text())["users"][0]["user"]["token"]
    lifetime = 12.0
    kubeconfig, runs = exec_kubeconfig(kube_lab, tmp_path, "ok", token=token, lifetime=lifetime)
    b = backend(kube_lab, ns, kubeconfig=str(kubeconfig))
    started = time.monotonic()
    assert [r.ref.name for r in b.list()] == ["tf-serving"]
    reuse_until = lifetime - EXPIRY_MARGIN_S - 1.5
    lists = 1
    while time.monotonic() - started < reuse_until:
        b.list()
        lists += 1
    assert len(runs_of(runs)) == 1, f"{len(runs_of(runs))} runs in {lists} lists"
    deadline = time.monotonic() + 15
    while len(runs_of(runs)) < 2 and time.monotonic() < deadline:
        b.list()
    renewed_after = time.monotonic() - started
    fault.observed(f"1 run for {lists} lists, renewed after {renewed_after:.1f}s")
    assert len(runs_of(runs)) == 2
    assert renewed_after >= lifetime - EXPIRY_MARGIN_S - 1.5
