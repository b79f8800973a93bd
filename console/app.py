"""The Textual application: wires a backend and a metrics source to the screens.

All blocking calls (watch, fetch, act) run in thread workers that post typed
messages; the UI thread only updates the store and redraws what changed.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

from textual import work
from textual.app import App, ScreenStackError
from textual.binding import Binding
from textual.css.query import NoMatches

from console.backend import MetricsSource, RolloutsBackend
from console.commands import RolloutCommands
from console.messages import ActionFinished, MetricsFetched, StreamReceived
from console.model import Action, ConsoleError, Notices, Rollout, RolloutRef
from console.screens.confirm import ConfirmScreen
from console.screens.help import HelpScreen
from console.screens.rollout_list import RolloutListScreen
from console.store import RolloutStore
from themes import register_themes

#: How often screens redraw from the store (only if something changed).
REDRAW_S = 0.5
#: Ticks that only move clocks: ages, countdowns, stale ages.
CLOCK_S = 1.0


class RolloutConsoleApp(App[int]):
    TITLE = "rollout-console"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {RolloutCommands}
    BINDINGS = [
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        backend: RolloutsBackend,
        metrics: MetricsSource,
        *,
        read_only: bool = False,
        theme: str = "rollout-dark",
        metrics_every_s: float = 2.0,
        window_s: float = 300.0,
        clock: Callable[[], float] = time.time,
        start_workers: bool = True,
    ) -> None:
        super().__init__()
        self.backend = backend
        self.metrics_source = metrics
        # Read-only is enforced twice: no keys in the UI, refusal in the backend.
        self.read_only = read_only or backend.read_only
        self.clock = clock
        self.store = RolloutStore(clock=clock)
        self.metrics_every_s = metrics_every_s
        self.window_s = window_s
        self._initial_theme = theme
        self._stop = threading.Event()
        self._start_workers = start_workers
        self._drawn_version = -1
        self.sub_title = backend.description + ("  [read-only]" if self.read_only else "")

    def on_mount(self) -> None:
        register_themes(self)
        self.theme = self._initial_theme
        self.push_screen(RolloutListScreen())
        if self._start_workers:
            self.watch_rollouts()
            self.set_interval(self.metrics_every_s, self.refresh_metrics)
        self.set_interval(REDRAW_S, self.redraw_if_changed)
        self.set_interval(CLOCK_S, self.tick_clocks)

    def on_unmount(self) -> None:
        self._stop.set()

    # --- workers: blocking I/O, results come back as messages ------------------

    @work(thread=True, exclusive=True, group="watch")
    def watch_rollouts(self) -> None:
        for event in self.backend.watch(self._stop):
            if self._stop.is_set():
                return
            self.post_message(StreamReceived([event]))

    @property
    def metrics_period_s(self) -> float:
        """How often metrics really change: a source may answer faster calls from its
        cache (Prometheus: never faster than the scrape interval)."""
        source_s = getattr(self.metrics_source, "refresh_interval_s", 0.0)
        return max(self.metrics_every_s, float(source_s or 0.0))

    def metrics_targets(self) -> list[Rollout]:
        """Rollouts whose metrics the visible screen shows."""
        try:
            screen = self.screen
        except ScreenStackError:  # the app is exiting
            return []
        wanted: list[str] = getattr(screen, "metrics_keys", lambda: [])()
        return [self.store.rollouts[k] for k in wanted if k in self.store.rollouts]

    def refresh_metrics(self) -> None:
        targets = self.metrics_targets()
        if targets:
            self.fetch_metrics(targets)

    @work(thread=True, exclusive=True, group="metrics")
    def fetch_metrics(self, rollouts: list[Rollout]) -> None:
        step = max(1.0, self.window_s / 300)
        fetched = self.metrics_source.fetch(rollouts, self.window_s, step)
        self.post_message(MetricsFetched(fetched))

    @work(thread=True, group="actions")
    def perform_action(self, ref: RolloutRef, action: Action) -> None:
        try:
            result = self.backend.act(ref, action)
        except ConsoleError as exc:
            self.post_message(ActionFinished(ref, action, None, str(exc)))
        except Exception as exc:  # a backend bug must not kill the app
            self.post_message(ActionFinished(ref, action, None, f"{action.value} failed: {exc}"))
        else:
            self.post_message(ActionFinished(ref, action, result))

    # --- messages ---------------------------------------------------------------

    def on_stream_received(self, message: StreamReceived) -> None:
        first = not self.store.rollouts
        for event in message.events:
            if isinstance(event, Notices):
                # Said once, in full, where it wraps; the status line keeps a count
                # and the help screen lists them.
                said = self.store.notices.get(event.cluster, ())
                for text in event.messages:
                    if text not in said:
                        self.notify(text, severity="warning", timeout=10)
            self.store.apply(event)
        if first and self.store.rollouts:
            # The first list is drawn at once; later changes are coalesced by the
            # redraw interval (a busy cluster sends many events a second).
            self.redraw_if_changed()

    def on_metrics_fetched(self, message: MetricsFetched) -> None:
        self.store.set_metrics(message.metrics)
        self.redraw_if_changed()

    def on_action_finished(self, message: ActionFinished) -> None:
        key = message.ref.key
        if message.result is not None:
            result = message.result
            change = f" ({result.before} → {result.after})" if result.before else ""
            self.store.log_action(key, f"{message.action.value}: {result.message}{change}")
            self.notify(result.message, title=message.action.label, timeout=4)
        else:
            self.store.log_action(key, f"{message.action.value}: {message.error}", error=True)
            self.notify(message.error, title=message.action.label, severity="error", timeout=8)
        self.redraw_if_changed()

    # --- drawing ------------------------------------------------------------------

    def redraw_if_changed(self) -> None:
        if self.store.version == self._drawn_version:
            return
        self._drawn_version = self.store.version
        self._call_screen("redraw")

    def tick_clocks(self) -> None:
        self._call_screen("tick")

    def _call_screen(self, method: str) -> None:
        # The screens may be torn down under a timer or a late worker's message (the
        # app is exiting): then there is nothing to draw.
        try:
            screen = self.screen
        except ScreenStackError:
            return
        call = getattr(screen, method, None)
        if call is None:
            return
        with contextlib.suppress(NoMatches):
            call()

    # --- actions ------------------------------------------------------------------

    def request_action(self, ref: RolloutRef, action: Action) -> None:
        """Run an action, asking first for the dangerous ones."""
        if self.read_only:
            self.notify("The console is read-only.", severity="warning")
            return
        rollout = self.store.rollouts.get(ref.key)
        reason = rollout.why_unavailable(action) if rollout else None
        if reason:
            self.notify(f"{action.label} is unavailable: {reason}", severity="warning")
            return
        if not action.dangerous:
            self.perform_action(ref, action)
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.perform_action(ref, action)
            else:
                self.notify(f"{action.label} cancelled.", timeout=3)

        self.push_screen(ConfirmScreen(ref, action, rollout), confirmed)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(read_only=self.read_only, notices=self.store.all_notices))
