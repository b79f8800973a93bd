"""`rollout-console serve`: the served command line, the host warning, read-only on a cluster.

The command textual-serve runs goes through /bin/sh: it must say exactly the parsed
options, with no value able to become shell syntax.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from console.cli import build_parser, main
from console.serve import (
    SERVED_THEME,
    is_loopback,
    page_url,
    served_argv,
    served_command,
    served_read_only,
)


def _serve(*argv: str) -> argparse.Namespace:
    args = build_parser().parse_args(["serve", *argv])
    assert args.command == "serve"
    return args


def _tui(argv: list[str]) -> argparse.Namespace:
    """The served console's own parse of the command line it is given."""
    return build_parser().parse_args(argv)


def test_the_demo_is_served_light_with_its_seed_speed_and_scenario() -> None:
    argv = served_argv(_serve("--demo", "--seed", "9", "--speed", "10", "--scenario", "gpu-leak"))
    tui = _tui(argv)
    assert (tui.demo, tui.seed, tui.speed, tui.scenario) == (True, 9, 10.0, "gpu-leak")
    assert tui.theme == SERVED_THEME == "rollout-light"
    assert not tui.read_only, "the demo acts: nothing real behind it"


def test_theme_given_wins_over_the_served_default() -> None:
    assert _tui(served_argv(_serve("--theme", "high-contrast"))).theme == "rollout-high-contrast"


def test_a_cluster_is_served_read_only_unless_actions_are_allowed() -> None:
    args = _serve("--kube", "--context", "prod", "-n", "ml", "--guard")
    assert served_read_only(args)
    tui = _tui(served_argv(args))
    assert tui.read_only and tui.kube and tui.context == ["prod"] and tui.namespace == "ml"
    assert tui.guard, "the guard runs too, and read-only makes it a dry-run"
    assert "--read-only" in shlex.split(served_command(args))
    allowed = _serve("--kube", "--allow-actions")
    assert not served_read_only(allowed)
    assert "--read-only" not in shlex.split(served_command(allowed))


def test_every_cluster_option_reaches_the_served_console(tmp_path: Path) -> None:
    args = _serve(
        "--kubeconfig",
        str(tmp_path / "kube config"),
        "--context",
        "a",
        "--context",
        "b",
        "-A",
        "--request-timeout",
        "5s",
        "--prometheus",
        "http://prom:9090",
        "--config",
        str(tmp_path / "c.yaml"),
        "--lease-namespace",
        "ops",
        "--read-only",
        "--theme",
        "dark",
    )
    tui = _tui(served_argv(args))
    assert tui.kube and tui.kubeconfig == str(tmp_path / "kube config")
    assert tui.context == ["a", "b"] and tui.all_namespaces and tui.request_timeout == 5.0
    assert tui.prometheus == "http://prom:9090" and tui.config == str(tmp_path / "c.yaml")
    assert tui.lease_namespace == "ops" and tui.read_only and tui.theme == "rollout-dark"


def test_option_values_never_become_shell_syntax(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    hostile = f"x'; touch {marker}; echo '$(touch {marker})`touch {marker}`"
    args = _serve("--kube", "--context", hostile, "--context=-n", "-n", "a b")
    command = served_command(args)
    words = shlex.split(command)
    assert words[:3] == [sys.executable, "-m", "console"]
    tui = _tui(words[3:])
    assert tui.context == [hostile, "-n"] and tui.namespace == "a b"
    # What /bin/sh makes of it: the same words, and nothing run.
    echoed = subprocess.run(
        ["/bin/sh", "-c", command.replace(shlex.quote(sys.executable), "printf '%s\\n'", 1)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert echoed.stdout.splitlines() == words[1:]
    assert not marker.exists()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("10.1.2.3", False), ("::", False), ("demo.example", False)],
)  # fmt: skip
def test_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_page_url() -> None:
    assert page_url(_serve()) == "http://127.0.0.1:8000"
    assert page_url(_serve("--host", "::1", "--port", "9000")) == "http://[::1]:9000"
    assert page_url(_serve("--public-url", "https://demo.example/")) == "https://demo.example"


def test_scenario_list_prints_one_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--scenario", "list"], ["serve", "--scenario", "list"]):
        assert main(argv) == 0
        lines = capsys.readouterr().out.splitlines()
        assert [line.split()[0] for line in lines] == [
            "bad-canary",
            "gpu-leak",
            "healthy",
            "latest-tag",
        ]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--scenario", "nope"], "no scenario 'nope'; choose one of bad-canary, gpu-leak, "
         "healthy, latest-tag (or list)"),
        (["serve", "--scenario", "nope"], "no scenario 'nope'"),
        (["--kube", "--scenario", "healthy"], "--scenario is a demo story"),
        (["serve", "--kube", "--allow-actions", "--read-only"], "contradict"),
        (["serve", "--port", "70000"], "give a port 1-65535"),
        (["serve", "--public-url", "demo:8000"], "is not an http(s) URL"),
    ],
)  # fmt: skip
def test_usage_errors_are_one_sentence_and_exit_2(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert says in capsys.readouterr().err


def test_serve_warns_off_loopback_and_says_read_only(tmp_path: Path) -> None:
    """The real command, on a taken port: the warnings come first, then one sentence."""
    import socket

    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        serve = ["serve", "--kube", "--host", "0.0.0.0", "--port", str(port)]
        done = subprocess.run(
            [sys.executable, "-m", "console", *serve],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2, done
    assert "warning: listening on 0.0.0.0: anyone who can reach" in done.stderr
    assert "read-only: the page shows the cluster and cannot act on it" in done.stderr
    assert f"cannot listen on 0.0.0.0:{port}" in done.stderr


def test_the_served_cluster_console_refuses_actions_in_its_backend_too() -> None:
    """Below the UI: the backend a served --kube console builds refuses every action."""
    from console.kube.backend import KubeBackend
    from console.kube.config import ClusterConfig
    from console.model import Action, ActionUnavailable, RolloutRef

    tui = _tui(served_argv(_serve("--kube", "--context", "prod")))
    clusters = [ClusterConfig("prod", None, "default", "me")]  # type: ignore[arg-type]
    backend = KubeBackend(clusters, read_only=tui.read_only, check_access=False)
    ref = RolloutRef("prod", "ml", "app")
    for action in Action:
        with pytest.raises(ActionUnavailable, match="read-only"):
            backend.act(ref, action)
    with pytest.raises(ActionUnavailable, match="read-only"):
        backend.annotate(ref, {"rollout-console.io/x": "1"})


@pytest.mark.parametrize(("speed", "every_s"), [("1", 5.0), ("10", 0.5), ("1000", 0.25)])
def test_a_scenario_guard_judges_on_simulated_time(speed: str, every_s: float) -> None:
    """Every 5 simulated seconds (so the story's point comes at the same simulated time
    at any speed), but never more often than 4 times a real second."""
    from console.sources import make_guard, make_sources

    args = build_parser().parse_args(["--scenario", "bad-canary", "--speed", speed])
    backend, metrics = make_sources(args)
    assert [r.ref.name for r in backend.list()] == ["yolo-detector"]
    wiring = make_guard(args, backend, metrics)
    assert wiring.guard is not None and wiring.every_s == every_s
    plain = build_parser().parse_args(["--speed", speed])
    assert make_guard(plain, *make_sources(plain)).every_s == 5.0, "the demo's own: unchanged"
