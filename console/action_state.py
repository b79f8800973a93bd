"""Which actions a rollout can take now, by its state, and why not.

The backends refuse what cannot act (the demo, Argo, the mesh and Flagger each in
their words); this is the same judgement made before a key is offered, so the
footer does not offer `a A p r R` on a rollout where they would do nothing. Pure
logic on the model: no textual, no I/O.
"""

from __future__ import annotations

from console.model import Action, ProviderKind, Rollout

_MOVING = (Action.ADVANCE, Action.PROMOTE_FULL)


def state_reason(rollout: Rollout, action: Action) -> str | None:
    """Why `action` cannot act on `rollout` in its current state; None = it can."""
    if action is Action.UNDO:
        return None  # the backend knows the revision history; the model does not
    if action is Action.RETRY:
        return None if rollout.aborted else "not aborted"
    if action is Action.RESUME:
        return None if rollout.paused else "not paused by an operator"
    if rollout.aborted:
        if action is Action.ROLLBACK:
            return "already aborted"
        if action is Action.PAUSE and not rollout.paused:
            return "aborted: retry it first"
        if action in _MOVING:
            return "aborted: retry it first"
    if action is Action.PAUSE and rollout.paused:
        return "already paused"
    if rollout.canary is None:
        # Flagger's suspend also holds back the next run: pausing an idle canary means something.
        if action is Action.PAUSE and rollout.provider is ProviderKind.FLAGGER:
            return None
        if action in (*_MOVING, Action.PAUSE, Action.ROLLBACK):
            return "fully promoted, no canary"
    if (
        action in _MOVING
        and not rollout.paused
        and rollout.steps
        and rollout.current_step is not None
        and rollout.current_step >= len(rollout.steps)
    ):
        return "all steps done, promoting"
    return None


def why_not(rollout: Rollout, action: Action) -> str | None:
    """The backend's reason (RBAC, provider limits) first, else the state's."""
    return rollout.why_unavailable(action) or state_reason(rollout, action)


def unavailable_now(rollout: Rollout, actions: tuple[Action, ...]) -> list[tuple[Action, str]]:
    return [(a, r) for a in actions if (r := why_not(rollout, a)) is not None]
