"""The Textual application: wires a backend and a metrics source to the screens.

All blocking calls (watch, fetch, act) run in thread workers that post typed
messages; the UI thread only updates the store and redraws what changed.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.css.query import NoMatches

from console.backend import MetricsSource, RolloutsBackend
from console.commands import RolloutCommands
from console.guard.loop import Guard
from console.guard.verdicts import DecisionKind, GuardStatus
from console.messages import (
    ActionFinished,
    GuardEvaluated,
    GuardFailed,
    GuardStatusFetched,
    MetricsFetched,
    StreamReceived,
)
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
#: How often an in-cluster guard's Lease is read for the status line.
GUARD_STATUS_S = 15.0
#: Guard decisions that pop up: the evidence is the point, so they stay a while.
TOASTED = {
    DecisionKind.PAUSED: ("Guard paused a rollout", "warning"),
    DecisionKind.WOULD_PAUSE: ("Guard (dry-run) would pause", "warning"),
    DecisionKind.PAUSE_FAILED: ("Guard's pause did not take effect", "error"),
}
TOAST_S = 20.0


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
        guard: Guard | None = None,
        guard_every_s: float = 5.0,
        guard_status: Callable[[], GuardStatus] | None = None,
        guard_statuses: Callable[[], list[GuardStatus]] | None = None,
        guard_clock: Callable[[], float] | None = None,
    ) -> None:
        """`guard`: the guard loop run inside this console (`--guard`, the demo);
        `guard_status()`: its Lease state after each evaluation; `guard_statuses()`:
        in-cluster guards' Leases, read every GUARD_STATUS_S (blocking: a worker);
        `guard_clock`: the clock of the guard's times (the demo's simulated clock)."""
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
        self.guard = guard
        #: Now, on the clock the guard's times are on: ages of verdicts and decisions.
        self.guard_now: Callable[[], float] = guard_clock or clock
        self.guard_every_s = guard_every_s
        self._guard_status = guard_status
        self._guard_statuses = guard_statuses
        self.guard_clock: float | None = None  # the clock at the last evaluation asked for
        if guard is not None:
            self.store.set_guard_status(self._local_status(None))
        self.sub_title = backend.description + ("  [read-only]" if self.read_only else "")

    def on_mount(self) -> None:
        register_themes(self)
        self.theme = self._initial_theme
        self.push_screen(RolloutListScreen())
        if self._start_workers:
            self.watch_rollouts()
            self.set_interval(self.metrics_every_s, self.refresh_metrics)
            if self.guard is not None:
                self.set_interval(self.guard_every_s, self.run_guard)
            if self._guard_statuses is not None:
                self.read_guard_statuses()
                self.set_interval(GUARD_STATUS_S, self.read_guard_statuses)
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
        wanted: list[str] = getattr(self.screen, "metrics_keys", lambda: [])()
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

    def _local_status(self, at: float | None) -> GuardStatus:
        if self._guard_status is not None:
            return self._guard_status()
        dry_run = self.guard.dry_run if self.guard is not None else False
        return GuardStatus(active=True, holder="this console", last_evaluation=at, dry_run=dry_run)

    def run_guard(self) -> None:
        """One evaluation of what the store knows, unless the clock has not moved
        (a frozen demo clock: the same data would count as another evaluation)."""
        if self.guard is None:
            return
        now = self.clock()
        if self.guard_clock is not None and now <= self.guard_clock:
            return
        self.guard_clock = now
        self.evaluate_guard(list(self.store.rollouts.values()))

    @work(thread=True, exclusive=True, group="guard")
    def evaluate_guard(self, rollouts: list[Rollout]) -> None:
        guard = self.guard
        if guard is None:
            return
        try:
            report = guard.evaluate(rollouts)
            status = self._local_status(report.at)
        except Exception as exc:  # the guard never takes the console down
            self.post_message(GuardFailed(f"The guard's evaluation failed: {exc}"))
            return
        self.post_message(GuardEvaluated(report, status))

    @work(thread=True, exclusive=True, group="guard-status")
    def read_guard_statuses(self) -> None:
        if self._guard_statuses is None:
            return
        try:
            statuses = self._guard_statuses()
        except Exception:  # shown as unknown next time; the console keeps going
            return
        self.post_message(GuardStatusFetched(statuses))

    # --- messages ---------------------------------------------------------------

    def on_guard_evaluated(self, message: GuardEvaluated) -> None:
        report = message.report
        # Ages of evaluations on this console's clock: at --speed 10 the demo's clock
        # runs ten times faster, and "evaluated 40s ago" would look stale.
        arrived = self.clock()
        self.store.set_guard_status(replace(message.status, last_evaluation=arrived))
        for decision in self.store.set_guard_report(report.verdicts, report.decisions, arrived):
            toast = TOASTED.get(decision.kind)
            if toast is not None:
                title, severity = toast
                # The text carries names and values from the cluster: never markup.
                self.notify(
                    decision.text,
                    title=title,
                    severity=severity,  # type: ignore[arg-type]
                    timeout=TOAST_S,
                    markup=False,
                )
        self.redraw_if_changed()

    def on_guard_failed(self, message: GuardFailed) -> None:
        self.notify(message.error, severity="error", timeout=8, markup=False)

    def on_guard_status_fetched(self, message: GuardStatusFetched) -> None:
        for status in message.statuses:
            self.store.set_guard_status(status)

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
            self.run_guard()  # a verdict now, not one interval later

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
        call = getattr(self.screen, method, None)
        if call is None:
            return
        # The screen may be torn down under a timer: then there is nothing to draw.
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
