"""The `?` help screen: every key, generated from the same tables as the bindings."""

from __future__ import annotations

from collections.abc import Sequence

from rich.markup import escape
from textual import events
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from console.screens.actions import ACTION_KEYS

NAVIGATION_KEYS = (
    ("enter", "open the highlighted rollout"),
    ("esc", "back / clear the filter"),
    ("/", "filter the list (words match namespace, name, phase, version)"),
    ("↑ ↓ j k", "move; g/Home first, G/End last, ctrl+f/b page"),
    ("l", "logs of a pod (s/c stable/canary, n next pod, t container)"),
    ("y", "the rollout's YAML"),
    ("d", "describe: conditions and Events"),
    ("N S P W O", "sort by name, status, step, weight, age; D default"),
    (":", "jump: ns NAME / ctx NAME (all: every one); ctrl+a aliases"),
    ("ctrl+p", "command palette: actions and themes"),
    ("?", "this help"),
    ("q", "quit"),
)

CONFIRMED = {"A", "x", "u"}


def help_text(read_only: bool, notices: Sequence[str] = (), stale: Sequence[str] = ()) -> str:
    lines: list[str] = []
    if stale:
        # The status line has room for the start of the reason only.
        lines += ["[b]Stale data[/b]", ""]
        lines += [f"  ✖ {escape(text)}" for text in stale]
        lines.append("")
    if notices:
        lines += ["[b]Notices[/b]", ""]
        lines += [f"  ⚠ {escape(text)}" for text in notices]
        lines.append("")
    lines += ["[b]Keys[/b]", ""]
    for key, text in NAVIGATION_KEYS:
        lines.append(f"  [b]{key:<8}[/b] {text}")
    lines.append("")
    if read_only:
        lines.append("  Read-only: action keys are not bound, and the backend refuses actions.")
    else:
        for k in ACTION_KEYS:
            note = " (asks: y confirms, any other key cancels)" if k.key in CONFIRMED else ""
            lines.append(f"  [b]{k.key:<8}[/b] {k.action.label}{note}")
    # The list's verdict column, in the words it uses (one line: 80x24 keeps the hint).
    lines += ["", "[b]GATES[/b]  ✔ pass  ✖ fail  ? unsure  ∅ no data  stale  error  - no verdict"]
    lines += ["", "Press any key to close."]
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    """

    def __init__(
        self, read_only: bool, notices: Sequence[str] = (), stale: Sequence[str] = ()
    ) -> None:
        super().__init__()
        self.read_only = read_only
        self.notices = tuple(notices)
        self.stale = tuple(stale)

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(help_text(self.read_only, self.notices, self.stale))

    def on_key(self, event: events.Key) -> None:
        event.stop()
        self.dismiss()
