"""Confirmation for dangerous actions: `y` confirms, any other key cancels."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from console.model import Action, ProviderKind, Rollout, RolloutRef


def consequence_of(action: Action, rollout: Rollout | None) -> str:
    """What the action really does, in the provider's own terms."""
    provider = rollout.provider if rollout is not None else None
    if action is Action.ROLLBACK:
        if provider is ProviderKind.ARGO:
            return (
                "Argo aborts: all traffic goes back to stable now; the canary's ReplicaSet "
                "is scaled down after abortScaleDownDelaySeconds (30 s by default)."
            )
        if provider in (ProviderKind.ISTIO, ProviderKind.GATEWAY):
            return "The canary's weight goes to 0; its Deployment keeps running."
        return "All traffic goes back to stable; the canary keeps running."
    if action is Action.PROMOTE_FULL:
        return "The canary gets 100% now, skipping remaining steps, pauses and analysis."
    if action is Action.UNDO:
        return "Starts a rollout back to the previous revision."
    return ""


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
            if r.canary is None:
                where = f"stable {r.stable.display} takes all traffic"
            else:
                where = f"canary {r.canary.display} at {r.actual_weight}%"
                if r.set_weight != r.actual_weight:
                    where += f" (set {r.set_weight}%)"
            detail = f"now: {r.status_text}, step {r.step_label}, {where}"
        consequence = consequence_of(self.action_to_confirm, self.rollout)
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
