"""Command palette: the same actions as the keys, opening rollouts, and themes."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher

from console.action_state import why_not
from console.model import Action
from console.screens.actions import ACTION_KEYS

if TYPE_CHECKING:
    from console.app import RolloutConsoleApp


#: What each action is in `kubectl argo rollouts`: the palette tells the two promotes apart.
ARGO_CLI = {
    Action.ADVANCE: "kubectl argo rollouts promote: one step",
    Action.PROMOTE_FULL: "kubectl argo rollouts promote --full: all steps, all traffic",
    Action.PAUSE: "kubectl argo rollouts pause",
    Action.RESUME: "kubectl argo rollouts resume (spec.paused)",
    Action.ROLLBACK: "kubectl argo rollouts abort",
    Action.RETRY: "kubectl argo rollouts retry rollout",
    Action.UNDO: "kubectl argo rollouts undo",
}


class RolloutCommands(Provider):
    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        app: RolloutConsoleApp = self.app  # type: ignore[assignment]
        commands: list[tuple[str, Callable[[], object], str]] = []
        target_fn = None
        # The palette is itself a screen: the rollout is on the one beneath it.
        for screen in reversed(app.screen_stack):
            target_fn = getattr(screen, "target", None)
            if target_fn is not None:
                break
        rollout = target_fn() if target_fn is not None else None
        if rollout is not None and not app.cluster_read_only(rollout.ref.cluster):
            for key in ACTION_KEYS:
                reason = why_not(rollout, key.action)
                if reason:
                    continue
                commands.append(
                    (
                        f"{key.action.label}: {rollout.ref.short}",
                        partial(app.request_action, rollout.ref, Action(key.action)),
                        f"key {key.key} · {ARGO_CLI[key.action]}",
                    )
                )
        for theme in ("rollout-dark", "rollout-light", "rollout-high-contrast"):
            commands.append((f"Theme: {theme}", partial(setattr, app, "theme", theme), "theme"))
        return commands

    # A command names a rollout, and the palette reads a plain str as markup: each
    # prompt is a Content, so a rollout named `[red]x[/]` is listed as typed.

    async def discover(self) -> Hits:
        for name, callback, help_text in self._commands():
            yield DiscoveryHit(Content(name), callback, text=name, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, _highlight(matcher, name), callback, text=name, help=help_text)


def _highlight(matcher: Matcher, name: str) -> Content:
    """Matcher.highlight without its markup parsing: the matched letters reversed."""
    content = Content(name)
    _, offsets = matcher.fuzzy_search.match(matcher.query, name)
    for offset in offsets:
        if not name[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return content
