"""The one-line status at the top of every screen: source, mode, staleness."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widget import Widget

from console.guard.verdicts import GuardStatus
from console.model import format_duration

if TYPE_CHECKING:
    from console.app import RolloutConsoleApp


def status_line(app: RolloutConsoleApp, left: str) -> Text:
    text = Text(left)
    text.append(f"  ·  {app.backend.description}", style="dim")
    if app.read_only:
        text.append("  ·  ")
        text.append("READ-ONLY", style="bold reverse")
    now = app.clock()
    for state in app.store.disconnected:
        where = f" {state.cluster}" if state.cluster else ""
        text.append("  ·  ")
        text.append(
            f"STALE{where} {format_duration(now - state.since)}: {state.message}",
            style="bold reverse",
        )
    notices = len(app.store.all_notices)
    if notices:
        text.append("  ·  ")
        text.append(f"⚠ {notices} notice{'s' if notices > 1 else ''} (? lists them)", style="bold")
    # Last: at 80 columns the guard's age may be cut, a notice count must not be.
    for status in app.store.guard.values():
        text.append("  ·  ")
        text.append_text(guard_text(status, now))
    return text


def guard_text(status: GuardStatus, now: float) -> Text:
    """ "guard dry-run: this console, 3s ago": whether a guard acts, who holds its
    Lease, and how old its last evaluation is."""
    where = f" {status.cluster}" if status.cluster else ""
    if not status.active:
        lease = f" (Lease: {status.holder}, expired)" if status.holder else ""
        return Text(f"no guard{where}{lease}", style="dim")
    mode = " dry-run" if status.dry_run else ""
    text = Text(f"guard{where}{mode}", style="bold")
    if status.holder:
        text.append(f": {status.holder}")
    if status.last_evaluation is None:
        text.append(", not evaluated yet", style="dim")
    else:
        text.append(f", {format_duration(now - status.last_evaluation)} ago", style="dim")
    return text


class StatusLine(Widget):
    """One fixed-height line. Unlike Static.update, a new text repaints this line
    only: no layout pass of the whole screen every second."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._text = Text()

    def show(self, text: Text) -> None:
        if text != self._text:
            self._text = text
            self.refresh()

    def render(self) -> Text:
        return self._text
