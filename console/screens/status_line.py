"""The one-line status at the top of every screen: source, mode, staleness."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

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
    return text
