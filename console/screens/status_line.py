"""The one-line status at the top of every screen: source, mode, staleness."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widget import Widget

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
