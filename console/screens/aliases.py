"""`ctrl+a`: the aliases of the `:` command, as k9s lists its own."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from console.jump import ALIASES

EXAMPLES = {
    "namespace": ":ns ml-serving   :ns all",
    "context": ":ctx prod-eu   :ctx all",
}


def aliases_text() -> str:
    lines = ["[b]Aliases[/b] (type : then one; → or tab completes names)", ""]
    for kind in ("namespace", "context"):
        names = ", ".join(f":{a}" for a, k in ALIASES.items() if k == kind)
        lines.append(f"  [b]{names:<22}[/b] {kind}: {EXAMPLES[kind]}")
    lines += ["", "Press any key to close."]
    return "\n".join(lines)


class AliasesScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    AliasesScreen { align: center middle; }
    AliasesScreen > VerticalScroll {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(aliases_text())

    def on_key(self, event: events.Key) -> None:
        event.stop()
        self.dismiss()
