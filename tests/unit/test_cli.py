"""Command-line options: every bad value is one sentence and exit 2, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from console import cli


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:  # argparse's own exit for usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--theme", "nope"], "no theme 'nope'; choose one of rollout-dark"),
        (["--speed", "nan"], "'nan' is out of range"),
        (["--speed", "1e9"], "'1e9' is out of range"),
        (["--speed", "0"], "'0' is out of range"),
        (["--speed", "fast"], "'fast' is not a number"),
        (["--prometheus", "not-a-url", "--kube"], "'not-a-url' is not an http(s) URL"),
        (["--prometheus", "http://prom:9090"], "--prometheus needs a cluster: add --kube"),
    ],
)
def test_bad_options_are_one_sentence_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    code, _, err = run_main(capsys, *argv)
    assert code == 2
    assert says in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("given", "theme"),
    [
        ("light", "rollout-light"),
        ("dark", "rollout-dark"),
        ("high-contrast", "rollout-high-contrast"),
        ("rollout-light", "rollout-light"),
    ],
)
def test_theme_takes_the_names_help_offers(given: str, theme: str) -> None:
    assert cli.build_parser().parse_args(["--theme", given]).theme == theme


def test_theme_names_are_the_registered_themes() -> None:
    from themes import THEMES

    assert tuple(t.name for t in THEMES) == cli.THEME_NAMES


def test_get_takes_demo(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys, "get", "--demo", "-o", "json")
    assert code == 0, err
    names = {item["name"] for item in json.loads(out)["items"]}
    assert {"yolo-detector", "tf-serving"} <= names


def test_the_tui_refuses_to_run_without_a_terminal() -> None:
    """`rollout-console </dev/null >file` says why and stops, writing no escape codes."""
    done = subprocess.run(
        [sys.executable, "-m", "console", "--demo"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "needs a terminal" in done.stderr
    assert "\x1b" not in done.stdout + done.stderr
