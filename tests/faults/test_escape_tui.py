"""Escape injection on the screen: hostile text from a backend is drawn inert and literal.

A small backend of its own (a real RolloutsBackend, no mock) sends what a
hostile cluster could: escape sequences, C1 controls and bidi overrides in a
name, message, image tag, warning, connection error, notice and action result,
plus Rich markup. The app must clean it whichever backend sent it (the store is
its entry), and show markup as typed: in the table, the detail view, the
status line, the confirmation, and toasts.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping

import pytest

from console.app import RolloutConsoleApp
from console.backend import RolloutsBackend, check_available
from console.metrics.none import NoMetrics
from console.model import (
    Action,
    ActionError,
    ActionResult,
    ConnectionState,
    Image,
    Notices,
    Phase,
    ProviderKind,
    Role,
    Rollout,
    RolloutRef,
    Seen,
    Snapshot,
    StreamEvent,
    VersionInfo,
)
from console.screens.confirm import ConfirmScreen
from console.screens.rollout_detail import RolloutDetailScreen
from tests.faults.conftest import Fault
from tests.faults.hostile import C1, MARKUP, OSC_ST, REPRO, RLO, assert_terminal_safe
from tests.ui.drive import until
from tests.widgets.test_widgets import screen_text

SIZE = (140, 44)
REF = RolloutRef("lab", "ml", MARKUP)


def hostile_rollout() -> Rollout:
    return Rollout(
        ref=REF,
        provider=ProviderKind.ISTIO,
        phase=Phase.PAUSED,
        paused=True,
        stable=VersionInfo(
            Role.STABLE, label="v1", images=(Image(f"tensorflow/serving{OSC_ST}", "2.12.0"),)
        ),
        canary=VersionInfo(
            Role.CANARY, label="v2", images=(Image("tensorflow/serving", f"2.13.0-{RLO}gpu{C1}"),)
        ),
        message=f"paused by {REPRO} [b]msg[/b]",
        warnings=(f"plan {C1}[i]w[/i]",),
        set_weight=10,
        actual_weight=10,
    )


class HostileBackend:
    """Serves one rollout full of hostile text; every action succeeds with more of it."""

    description = "hostile"
    read_only = False

    def __init__(self) -> None:
        self.acted: list[Action] = []

    def list(self) -> list[Rollout]:
        return [hostile_rollout()]

    def watch(self, stop: threading.Event) -> Iterator[StreamEvent]:
        yield Snapshot((hostile_rollout(),))
        yield ConnectionState(False, f"reset by {REPRO} [u]peer[/u]", 0.0, cluster="lab")
        yield Notices((f"Forbidden {OSC_ST}[b]n[/b]",), cluster="lab")
        while not stop.wait(0.1):
            pass

    def act(
        self, ref: RolloutRef, action: Action, *, note: str = "", seen: Seen | None = None
    ) -> ActionResult:
        check_available(hostile_rollout(), action)
        self.acted.append(action)
        if action is Action.ADVANCE:  # a refusal quoting the object, as the mesh one does
            raise ActionError(ref, action, f"advance refused by {REPRO}[red]y[/]")
        return ActionResult(ref, action, f"{action.value}d {REPRO}[b]done[/b]", before="x")

    def annotate(self, ref: RolloutRef, changes: Mapping[str, str | None]) -> None:
        raise ActionError(ref, Action.PAUSE, f"annotate refused: {REPRO}")


def make_app() -> tuple[RolloutConsoleApp, HostileBackend]:
    backend = HostileBackend()
    assert isinstance(backend, RolloutsBackend)
    metrics = NoMetrics(f"prom {REPRO}{RLO} [b]m[/b]")
    return RolloutConsoleApp(backend, metrics, clock=lambda: 100.0), backend


def shows(app: RolloutConsoleApp, *texts: str) -> bool:
    screen = screen_text(app)
    return all(t in screen for t in texts)


@pytest.mark.fault(
    "escape set and Rich markup on every TUI screen",
    "inert, markup shown as typed",
)
async def test_hostile_text_is_inert_and_markup_literal_on_every_screen(fault: Fault) -> None:
    app, backend = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        # The list: the name as typed; the status line's stale error; the notice toast.
        await until(pilot, lambda: shows(app, MARKUP), "the rollout in the table")
        fault.observed(f"table shows {MARKUP!r} as typed")
        await until(pilot, lambda: shows(app, "reset by mallory [u]peer[/u]"), "the stale error")
        await until(pilot, lambda: shows(app, "Forbidden [b]n[/b]"), "the notice toast")
        assert_terminal_safe(screen_text(app), newlines=True)

        # The detail view: message, versions, warning, metrics reason.
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RolloutDetailScreen), "the detail view")
        await until(
            pilot,
            lambda: shows(app, f"ml/{MARKUP}", "paused by mallory [b]msg[/b]", "[i]w[/i]"),
            "the title, message and warning as typed",
        )
        await until(pilot, lambda: shows(app, "2.13.0-gpu", "prom mallory"), "versions, metrics")
        assert_terminal_safe(screen_text(app), newlines=True)

        # The confirmation of a dangerous action names the rollout as typed.
        await pilot.press("A")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await until(pilot, lambda: shows(app, f"Promote --full: ml/{MARKUP}?"), "the question")
        assert_terminal_safe(screen_text(app), newlines=True)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, RolloutDetailScreen), "back")

        # An action's result: the toast and the detail log show it literally.
        await pilot.press("r")
        await until(pilot, lambda: backend.acted == [Action.RESUME], "the resume")
        await until(pilot, lambda: shows(app, "resumed mallory[b]done[/b]"), "the result toast")
        assert_terminal_safe(screen_text(app), newlines=True)


@pytest.mark.fault(
    "Rich markup in a refusal toast",
    "shown as typed",
)
async def test_an_error_toast_is_literal(fault: Fault) -> None:
    """The backend refuses with a sentence that quotes the object."""
    app, backend = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: shows(app, MARKUP), "the rollout in the table")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RolloutDetailScreen), "the detail view")
        # (p is dimmed on this already paused rollout: a reaches the backend.)
        await pilot.press("a")
        await until(pilot, lambda: backend.acted == [Action.ADVANCE], "the advance")
        await until(pilot, lambda: shows(app, "advance refused by mallory[red]y[/]"), "the toast")
        fault.observed("toast 'advance refused by mallory[red]y[/]'")
        assert_terminal_safe(screen_text(app), newlines=True)


@pytest.mark.fault(
    "Rich markup in the command palette",
    "shown as typed",
)
async def test_command_palette_lists_the_rollout_as_typed(fault: Fault) -> None:
    app, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: shows(app, MARKUP), "the rollout in the table")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RolloutDetailScreen), "the detail view")
        await pilot.press("ctrl+p")
        await until(pilot, lambda: shows(app, f"Resume: ml/{MARKUP}"), "the discovered command")
        await pilot.press(*"resume")
        await until(pilot, lambda: shows(app, f"Resume: ml/{MARKUP}"), "the matched command")
        fault.observed(f"palette 'Resume: ml/{MARKUP}'")
        assert_terminal_safe(screen_text(app), newlines=True)
