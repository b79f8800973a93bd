"""Exit codes, defined once in console/exit_codes.py and used by every headless command."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml

from console import cli, exit_codes


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kubeconfig_to(tmp_path: Path, server: str) -> Path:
    path = tmp_path / "config"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": "t0ps3cret"}}],
                "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "ctx",
            }
        )
    )
    return path


@pytest.mark.parametrize("command", [["get"], ["pause", "ns/x"], ["advance", "ns/x"]])
def test_a_missing_kubeconfig_is_a_config_error_everywhere(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: list[str]
) -> None:
    code, _, err = run(capsys, *command, "--kubeconfig", str(tmp_path / "nope"))
    assert code == exit_codes.USAGE, err
    assert err.startswith("rollout-console: ") and "Traceback" not in err


@pytest.mark.parametrize("command", [["get", "-A"], ["pause", "ns/x"]])
def test_an_unreachable_cluster_is_unavailable(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: list[str]
) -> None:
    config = kubeconfig_to(tmp_path, f"https://127.0.0.1:{closed_port()}")
    code, _, err = run(capsys, *command, "--kubeconfig", str(config), "--request-timeout", "2s")
    assert code == exit_codes.UNAVAILABLE, err
    assert "t0ps3cret" not in err


def test_advance_with_a_step_the_runbook_did_not_expect_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, "advance", "vision/yolo-detector", "--demo", "--expect-step", "7")
    assert code == exit_codes.REFUSED
    assert "not step 7/" in err and "press again" in err


def test_resuming_a_running_rollout_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    """Like a repeated pause: nothing to do is not a failure for a runbook."""
    code, out, _ = run(capsys, "resume", "vision/yolo-detector", "--demo")
    assert code == exit_codes.OK and "not paused" in out
