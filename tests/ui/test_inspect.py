"""The rollout tree and the k9s keys `l`, `y`, `d` against the demo (Pilot)."""

from __future__ import annotations

from typing import Any

import pytest

from console.app import RolloutConsoleApp
from console.demo_app import frozen_demo_app
from console.screens.object_view import ObjectViewScreen
from console.screens.pod_logs import PodLogsScreen
from console.screens.rollout_detail import RolloutDetailScreen
from console.screens.rollout_list import RolloutListScreen
from console.tree import tree_text
from tests.ui.drive import open_rollout, until
from widgets.rollout_tree import RolloutTreeView

SIZE = (120, 40)


def test_demo_tree_has_the_plugin_symbols_and_layout() -> None:
    app, clock = frozen_demo_app()
    ref = next(r.ref for r in app.backend.list() if r.ref.name == "whisper-asr")
    tree = app.backend.tree(ref)  # type: ignore[attr-defined]
    lines = tree_text(tree, clock.now()).splitlines()
    assert lines[0].split() == ["NAME", "KIND", "STATUS", "AGE", "INFO"]
    assert lines[1].startswith("⟳ whisper-asr ") and "✖ Degraded" in lines[1]
    # Revisions newest first, each with its tagged ReplicaSet, pods under it.
    assert lines[2] == "├──# revision:8"
    assert lines[3].startswith("│  └──⧉ whisper-asr-mjcb6qvfn ")
    assert lines[3].split()[-1].startswith("canary,delay:")
    assert lines[4].startswith("│     ├──□ whisper-asr-mjcb6qvfn-")
    assert "✖ CrashLoopBackOff" in lines[4] and "ready:1/2,restarts:4,node:gpu-node-" in lines[4]
    assert lines[6] == "├──# revision:7"
    assert lines[7].rstrip().endswith("stable") and "✔ Healthy" in lines[7]
    assert "✔ Running" in lines[8] and "ready:2/2" in lines[8]
    assert lines[-2] == "└──# revision:6"
    assert lines[-1].startswith("   └──⧉ ") and "• ScaledDown" in lines[-1]


async def test_detail_view_draws_the_tree() -> None:
    app, clock = frozen_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_rollout(pilot, "tf-serving")
        view = app.screen.query_one(RolloutTreeView)
        await until(pilot, lambda: view.text.startswith("NAME"), "the tree")
        ref = app.store.rollouts[app.screen.key].ref  # type: ignore[attr-defined]
        assert view.text == tree_text(app.backend.tree(ref), clock.now())  # type: ignore[attr-defined]
        assert "⧉ tf-serving-md5wrkfd4" in view.text and "canary" in view.text


@pytest.mark.parametrize(("key", "wanted"), [("y", "kind: Rollout"), ("d", "Events:")])
async def test_yaml_and_describe_open_show_and_escape_returns(key: str, wanted: str) -> None:
    app, _ = frozen_demo_app(read_only=True)  # reading works read-only too
    async with app.run_test(size=SIZE) as pilot:
        await open_rollout(pilot, "whisper-asr")
        await pilot.press(key)
        await until(pilot, lambda: isinstance(app.screen, ObjectViewScreen), "the object view")
        screen = app.screen
        assert isinstance(screen, ObjectViewScreen)
        await until(pilot, lambda: screen.loaded, "the text")
        assert wanted in screen.text and "whisper-asr" in screen.text
        assert not screen.error
        if key == "d":
            assert "Progressing  False   RolloutAborted" in screen.text
            assert "roll back (abort)" in screen.text  # the Event of the abort
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, RolloutDetailScreen), "the detail view")


async def test_yaml_from_the_list_is_of_the_highlighted_rollout() -> None:
    app, _ = frozen_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RolloutListScreen), "the list")
        await pilot.press("slash", *"bert", "enter")
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ObjectViewScreen), "the object view")
        screen = app.screen
        assert isinstance(screen, ObjectViewScreen)
        await until(pilot, lambda: screen.loaded, "the text")
        assert "name: bert-ranker" in screen.text


async def test_logs_stream_switch_side_and_container() -> None:
    app, _ = frozen_demo_app(read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await open_rollout(pilot, "whisper-asr")
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, PodLogsScreen), "the logs view")
        screen = app.screen
        assert isinstance(screen, PodLogsScreen)
        await until(pilot, lambda: len(screen.lines) >= 2, "streamed lines")
        # The canary first, its main container; the failing canary logs its errors.
        assert screen.current is not None and screen.current.role.value == "canary"
        assert screen.container == "whisper-asr"
        assert "canary pod whisper-asr-mjcb6qvfn-" in screen.state
        assert any("ERROR" in line for line in screen.lines)
        await pilot.press("s")
        await until(pilot, lambda: "stable pod" in screen.state, "the stable pod")
        await until(pilot, lambda: len(screen.lines) >= 1, "stable lines")
        assert all("ERROR" not in line for line in screen.lines)
        await pilot.press("t")
        await until(pilot, lambda: screen.container == "istio-proxy", "the sidecar")
        await until(pilot, lambda: any("HTTP/1.1" in line for line in screen.lines), "access log")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, RolloutDetailScreen), "the detail view")


class _PlainBackend:
    """A RolloutsBackend without the inspection capability."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.description = "plain"
        self.read_only = True

    def list(self) -> Any:
        return self.inner.list()

    def watch(self, stop: Any) -> Any:
        return self.inner.watch(stop)

    def act(self, *args: Any, **kwargs: Any) -> Any:
        return self.inner.act(*args, **kwargs)

    def annotate(self, *args: Any, **kwargs: Any) -> Any:
        return self.inner.annotate(*args, **kwargs)


async def test_a_backend_without_the_capability_says_so_in_one_sentence() -> None:
    demo, _ = frozen_demo_app()
    app = RolloutConsoleApp(_PlainBackend(demo.backend), demo.metrics_source, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await open_rollout(pilot, "tf-serving")
        view = app.screen.query_one(RolloutTreeView)
        await until(
            pilot, lambda: view.text == "This backend cannot show the rollout tree.", "note"
        )
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ObjectViewScreen), "the object view")
        screen = app.screen
        assert isinstance(screen, ObjectViewScreen)
        await until(pilot, lambda: screen.loaded, "the answer")
        assert screen.error == "This backend cannot show YAML."
        await pilot.press("escape", "l")
        await until(pilot, lambda: isinstance(app.screen, PodLogsScreen), "the logs view")
        logs = app.screen
        assert isinstance(logs, PodLogsScreen)
        await until(pilot, lambda: logs.state == "This backend cannot show logs.", "the sentence")
