"""The command line and the headless commands run without textual (issue 11).

The import-linter contract checks the import graph; these check what a real run
loads: a fresh interpreter per command, so nothing a test imported earlier counts.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: What only the TUI may load: textual itself and the console's textual modules.
TUI_ONLY = re.compile(r"^(textual|widgets|themes|console\.(app|screens|tui|demo_app))(\.|$)")

PROBE = """
import contextlib, io, json, sys
from console.cli import main
out, err = io.StringIO(), io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    try:
        rc = main(sys.argv[1:])
    except SystemExit as exc:  # --help
        rc = exc.code
said = {"rc": rc, "out": out.getvalue(), "err": err.getvalue()}
print(json.dumps({**said, "modules": sorted(sys.modules)}))
"""


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CONFIG_HOME": str(ROOT / "nonexistent")}


def run_probe(*argv: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        env=env(),
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def tui_modules(modules: object) -> list[str]:
    assert isinstance(modules, list)
    return [m for m in modules if TUI_ONLY.match(m)]


def first_demo_rollout() -> str:
    listed = run_probe("get", "--demo", "-o", "json")
    data = json.loads(str(listed["out"]))
    items = data["items"] if isinstance(data, dict) else data
    return f"{items[0]['namespace']}/{items[0]['name']}"


@pytest.mark.parametrize(
    ("argv", "rc"),
    [
        (("--help",), 0),
        (("get", "--demo", "-o", "json"), 0),
        (("get", "--demo"), 0),
        (("pause", "--demo", "--yes", "no-such/rollout"), 1),
        (("guard", "--print-manifests"), 0),
    ],
)
def test_headless_commands_never_load_textual(argv: tuple[str, ...], rc: int) -> None:
    result = run_probe(*argv)
    assert result["rc"] == rc, result["err"]
    assert result["out"] or result["err"], f"{argv} said nothing"
    assert "console.cli" in result["modules"]  # type: ignore[operator]
    assert tui_modules(result["modules"]) == [], argv


def test_verdict_on_the_demo_never_loads_textual() -> None:
    result = run_probe("verdict", "--demo", first_demo_rollout(), "-o", "json")
    assert json.loads(str(result["out"]))["kind"] == "Verdict"
    assert tui_modules(result["modules"]) == []


def test_the_probe_sees_textual_when_the_tui_module_is_loaded() -> None:
    # The control: the same check does see textual once the TUI's module is imported.
    done = subprocess.run(
        [sys.executable, "-c", "import sys, console.tui; print('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        env=env(),
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    loaded = tui_modules(done.stdout.split())
    assert "textual" in loaded and "console.app" in loaded


def test_get_imports_no_textual_as_a_command() -> None:
    """`python -X importtime -m console get --demo -o json`: what the command really
    imports, start-up included, as `rollout-console get` runs it."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "console", "get", "--demo", "-o", "json"],
        capture_output=True,
        text=True,
        env=env(),
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    json.loads(done.stdout)
    imported = re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", done.stderr, re.M)
    assert "console.headless" in imported and "console.demo" in imported
    assert [m for m in imported if TUI_ONLY.match(m)] == []
