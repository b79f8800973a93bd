"""The action keys, shared by the list and detail screens.

k9s model: in read-only mode the keys are not bound at all (not merely
disabled), so nothing can reach the backend by a keypress and the footer
does not offer them.
"""

from __future__ import annotations

from dataclasses import dataclass

from console.action_state import why_not
from console.model import Action, Rollout
from console.screens.inspect_keys import InspectScreen


@dataclass(frozen=True)
class ActionKey:
    key: str
    action: Action
    description: str
    key_display: str | None = None


ACTION_KEYS: tuple[ActionKey, ...] = (
    # Argo's words: `kubectl argo rollouts promote` and `promote --full`.
    ActionKey("a", Action.ADVANCE, "Promote step"),
    ActionKey("A", Action.PROMOTE_FULL, "Promote full", "A"),
    ActionKey("p", Action.PAUSE, "Pause"),
    ActionKey("r", Action.RESUME, "Resume"),
    ActionKey("x", Action.ROLLBACK, "Rollback"),
    ActionKey("R", Action.RETRY, "Retry", "R"),
    ActionKey("u", Action.UNDO, "Undo"),
)


#: Always in the footer, dimmed when they cannot act: the incident keys keep their
#: place, where the operator's eye finds them. The others are hidden then.
DIMMED_NOT_HIDDEN = frozenset({Action.ADVANCE, Action.PAUSE, Action.ROLLBACK})

#: What stays in a narrow footer, most important first: leaving, help, then the
#: keys an incident responder needs (pause before anything that moves traffic).
FOOTER_PRIORITY: tuple[str, ...] = (
    "quit",
    "help",
    "back",
    "filter",
    *(
        f"act('{a.value}')"
        for a in (
            Action.PAUSE,
            Action.ROLLBACK,
            Action.ADVANCE,
            Action.RESUME,
            Action.PROMOTE_FULL,
            Action.UNDO,
            Action.RETRY,
        )
    ),
)


class ActionScreen(InspectScreen):  # l/y/d: console/screens/inspect_keys.py
    """A screen that acts on one rollout: the highlighted or the opened one."""

    def __init__(self) -> None:
        super().__init__()
        if not self.app.read_only:  # type: ignore[attr-defined]
            for key in ACTION_KEYS:
                self._bindings.bind(
                    key.key,
                    f"act('{key.action.value}')",
                    key.description,
                    key_display=key.key_display,
                )

    _bindings_for: object = None

    def target(self) -> Rollout | None:
        raise NotImplementedError

    def refresh_bindings_if_changed(self) -> None:
        """Refresh the footer only when the target or what it can take changed.

        refresh_bindings() makes the Footer recompose (tens of ms with every key
        restyled), so it must not run on each periodic redraw.
        """
        rollout = self.target()
        state = (
            (rollout.ref.key, tuple(why_not(rollout, k.action) for k in ACTION_KEYS))
            if rollout is not None
            else None
        )
        if state != self._bindings_for:
            self._bindings_for = state
            self.refresh_bindings()

    def action_act(self, action_name: str) -> None:
        rollout = self.target()
        if rollout is None:
            self.notify("No rollout selected.", severity="warning")
            return
        self.app.request_action(rollout.ref, Action(action_name))  # type: ignore[attr-defined]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Keys the selected rollout cannot take now (its state, RBAC, provider
        # limits): a p x are dimmed in place (None), the others hidden (False).
        # The detail view says why; a dimmed key does nothing when pressed.
        if action == "act" and parameters:
            rollout = self.target()
            wanted = Action(str(parameters[0]))
            if rollout is not None and self.app.cluster_read_only(rollout.ref.cluster):  # type: ignore[attr-defined]
                return False  # a read-only context: no action keys at all, as k9s
            if rollout is not None and why_not(rollout, wanted):
                return None if wanted in DIMMED_NOT_HIDDEN else False
        return True
