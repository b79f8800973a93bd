"""k9s keys on the selected rollout: `l` logs, `y` YAML, `d` describe.

A base of ActionScreen (console/screens/actions.py), so the list and the detail
view both have them. They only read, so they are bound in read-only mode too.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.screen import Screen

from console.model import Rollout


class InspectScreen(Screen[None]):
    BINDINGS = [
        Binding("l", "logs", "Logs"),
        Binding("y", "yaml", "YAML"),
        Binding("d", "describe", "Describe"),
    ]

    def target(self) -> Rollout | None:
        raise NotImplementedError

    def _selected(self) -> Rollout | None:
        rollout = self.target()
        if rollout is None:
            self.notify("No rollout selected.", severity="warning")
        return rollout

    def action_logs(self) -> None:
        rollout = self._selected()
        if rollout is not None:
            from console.screens.pod_logs import PodLogsScreen

            self.app.push_screen(PodLogsScreen(rollout.ref))

    def action_yaml(self) -> None:
        rollout = self._selected()
        if rollout is not None:
            from console.screens.object_view import ObjectViewScreen

            self.app.push_screen(ObjectViewScreen(rollout.ref, "yaml"))

    def action_describe(self) -> None:
        rollout = self._selected()
        if rollout is not None:
            from console.screens.object_view import ObjectViewScreen

            self.app.push_screen(ObjectViewScreen(rollout.ref, "describe"))
