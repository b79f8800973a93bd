"""Build 5 in the UI: a rollout of a context the config file marks read-only gets
no action keys (not offered, not run); one of another context keeps them."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import replace

from rich.text import Text
from textual.widgets._footer import FooterKey

from console.app import RolloutConsoleApp
from console.backend import RolloutsBackend
from console.metrics.none import NoMetrics
from console.model import Action, ActionResult, RolloutRef, Seen, Snapshot, StreamEvent
from tests.ui.drive import until
from tests.widgets.data import NOW, rollout
from tests.widgets.test_widgets import screen_text
from widgets.key_footer import KeyFooter


class TwoContexts:
    description = "kube: prod-eu, staging"
    read_only = False
    read_only_clusters = frozenset({"prod-eu"})

    def __init__(self) -> None:
        self.acted: list[tuple[str, Action]] = []
        base = rollout("api", namespace="web")
        self.rollouts = [
            replace(base, ref=RolloutRef("prod-eu", "web", "api-prod")),
            replace(base, ref=RolloutRef("staging", "web", "api-staging")),
        ]

    def list(self) -> list:  # type: ignore[type-arg]
        return list(self.rollouts)

    def watch(self, stop: threading.Event) -> Iterator[StreamEvent]:
        yield Snapshot(tuple(self.rollouts))
        while not stop.wait(0.1):
            pass

    def act(
        self, ref: RolloutRef, action: Action, *, note: str = "", seen: Seen | None = None
    ) -> ActionResult:
        self.acted.append((ref.cluster, action))
        return ActionResult(ref, action, f"{action.value} done")

    def annotate(self, ref: RolloutRef, changes: Mapping[str, str | None]) -> None:
        pass


def keys(app: RolloutConsoleApp) -> set[str]:
    return {k.key for k in app.screen.query_one(KeyFooter).query(FooterKey)}


async def test_a_read_only_context_has_no_action_keys() -> None:
    backend = TwoContexts()
    assert isinstance(backend, RolloutsBackend)
    app = RolloutConsoleApp(backend, NoMetrics("none"), clock=lambda: NOW)
    async with app.run_test(size=(160, 30)) as pilot:
        await until(pilot, lambda: "api-staging" in screen_text(app), "the rows")
        await pilot.press("slash", *"api-prod", "enter")
        await until(pilot, lambda: "q" in keys(app) and "p" not in keys(app), "no keys on prod")
        assert not {"a", "A", "x", "u"} & keys(app)
        await pilot.press("p", "a")
        await pilot.press("enter")  # the detail view says why
        await until(
            pilot,
            lambda: (
                "read-only: no actions on prod-eu"
                in getattr(app.screen, "_drawn", {}).get("#versions", Text()).plain
            ),
            "why, in the detail view's notes",
        )
        assert "p" not in keys(app)
        await pilot.press("escape", "escape")
        await pilot.press("slash", *"api-staging", "enter")
        await until(pilot, lambda: "p" in keys(app), "the keys on staging")
        await pilot.press("p")
        await until(pilot, lambda: backend.acted == [("staging", Action.PAUSE)], "the pause")
        assert "[read-only: prod-eu]" in app.sub_title
        # The palette never runs an action on the read-only context either.
        app.request_action(backend.rollouts[0].ref, Action.PAUSE)
        await pilot.pause()
        assert backend.acted == [("staging", Action.PAUSE)]
