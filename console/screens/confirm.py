"""Confirmation for dangerous actions: `y` confirms, any other key cancels."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from console.model import Action, Rollout, RolloutRef


class ConfirmScreen(ModalScreen[bool]):
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 64; max-width: 100%; height: auto;
        border: thick $error; background: $surface; padding: 1 2;
    }
    ConfirmScreen .question { text-style: bold; }
    ConfirmScreen .hint { color: $text-muted; margin-top: 1; }
    """

    def __init__(self, ref: RolloutRef, action: Action, rollout: Rollout | None) -> None:
        super().__init__()
        self.ref = ref
        self.action_to_confirm = action
        self.rollout = rollout

    def compose(self) -> ComposeResult:
        detail = ""
        if self.rollout is not None:
            r = self.rollout
            canary = r.canary.display if r.canary else "-"
            detail = (
                f"now: {r.status_text}, step {r.step_label}, canary {canary} "
                f"at {r.actual_weight}% (set {r.set_weight}%)"
            )
        consequence = {
            Action.ROLLBACK: "All traffic goes back to stable; the canary keeps running.",
            Action.PROMOTE_FULL: "The canary gets 100% now, skipping remaining steps and pauses.",
            Action.UNDO: "Starts a rollout back to the previous revision.",
        }.get(self.action_to_confirm, "")
        with Vertical():
            # Names and versions come from the cluster: literal text, not markup.
            yield Static(
                f"{self.action_to_confirm.label}: {self.ref.short}?",
                classes="question",
                markup=False,
            )
            if self.ref.cluster:
                yield Static(f"cluster: {self.ref.cluster}", markup=False)
            if detail:
                yield Static(detail, markup=False)
            if consequence:
                yield Static(consequence)
            yield Static("Press y to confirm — any other key cancels.", classes="hint")

    def on_key(self, event: events.Key) -> None:
        event.stop()
        event.prevent_default()
        self.dismiss(event.key == "y")
