"""The Textual application: wires a backend and a metrics source to the screens.

All blocking calls (watch, fetch, act) run in thread workers that post typed
messages; the UI thread only updates the store and redraws what changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from textual import work
from textual._styles_cache import StylesCache
from textual.app import App, ScreenStackError, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.filter import NoColor
from textual.notifications import SeverityLevel
from textual.screen import Screen

from console.audit import screenshot_dir
from console.backend import MetricsSource, RolloutsBackend
from console.commands import RolloutCommands
from console.guard.loop import Guard
from console.guard.verdicts import DecisionKind, GuardStatus
from console.memory import FULL_COLLECTION_S, collect_settled, settle_heap, trim
from console.messages import (
    ActionFinished,
    GuardEvaluated,
    GuardFailed,
    GuardStatusFetched,
    MetricsFetched,
    StreamReceived,
)
from console.model import (
    Action,
    ConsoleError,
    Notices,
    Removed,
    Rollout,
    RolloutRef,
    Seen,
    Snapshot,
    StreamEvent,
    format_duration,
)
from console.screens.confirm import ConfirmScreen
from console.screens.help import HelpScreen
from console.screens.rollout_list import RolloutListScreen
from console.store import RolloutStore
from console.untrusted import clean_line, clip
from themes import register_themes

#: How often screens redraw from the store (only if something changed).
REDRAW_S = 0.5
#: Ticks that only move clocks: ages, countdowns, stale ages.
CLOCK_S = 1.0
#: How often freed heap memory is handed back (console/memory.py): RSS then shows
#: what is in use, not the high-water mark of the busiest minute.
TRIM_S = 60.0
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
        # An SRE's ctrl+c quits, as in k9s (Textual's default only says "press ctrl+q").
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
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
        handle_signals: bool = False,
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
        #: Freeze the heap after the first list (console/memory.py): the console's
        #: own process only; a test process runs many apps and would keep them all.
        self.settle_heap = False
        self._settled_at: float | None = None
        if os.environ.get("TERM") == "dumb":
            # A dumb terminal gets no colour at all. Textual's NO_COLOR still paints
            # greys in 24-bit, and it falls back to truecolor when Rich detects none;
            # its NoColor filter leaves only the default colours.
            self._filters.append(NoColor())
        self.backend = backend
        self.metrics_source = metrics
        # Read-only is enforced twice: no keys in the UI, refusal in the backend.
        self.read_only = read_only or backend.read_only
        #: Contexts the config file marks read-only: their rollouts get no action keys.
        self.read_only_clusters: frozenset[str] = frozenset(
            getattr(backend, "read_only_clusters", ())
        )
        self.clock = clock
        self.store = RolloutStore(clock=clock)
        self.metrics_every_s = metrics_every_s
        self.window_s = window_s
        self._initial_theme = theme
        self._stop = threading.Event()
        self._start_workers = start_workers
        self._handle_signals = handle_signals
        self._drawn_version = -1
        #: Stream events from the watch worker not yet applied (see watch_rollouts).
        self._stream_lock = threading.Lock()
        self._stream_buffer: list[StreamEvent] = []
        self._stream_posted = False
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
        if self.read_only_clusters and not self.read_only:
            self.sub_title += f"  [read-only: {', '.join(sorted(self.read_only_clusters))}]"

    def on_mount(self) -> None:
        if self._handle_signals:
            self._exit_on_signals()
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
        self.set_interval(TRIM_S, self._trim_memory)

    def _trim_memory(self) -> None:
        # Textual memoises StylesCache.get_inner_outer with the widget's cache in the
        # key (lru_cache(1024)): every footer key or filter box that has gone stays
        # alive there, with its render caches, until 1,024 newer ones push it out.
        StylesCache.get_inner_outer.cache_clear()
        if (
            self._settled_at is not None
            and time.monotonic() - self._settled_at >= FULL_COLLECTION_S
        ):
            collect_settled()
            self._settled_at = time.monotonic()
        trim()

    def on_unmount(self) -> None:
        self._stop.set()

    def _exit_on_signals(self) -> None:
        """SIGTERM, and SIGHUP from a dropped SSH session, leave like `q` does.

        Left to Python's default they kill the process in the alternate screen with
        the cursor hidden and mouse reporting on: the operator's shell is unusable.
        """
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, self._exit_for_signal, sig)

    def _exit_for_signal(self, sig: int) -> None:
        self.exit(return_code=128 + sig)

    # --- workers: blocking I/O, results come back as messages ------------------

    @work(thread=True, exclusive=True, group="watch")
    def watch_rollouts(self) -> None:
        for event in self.backend.watch(self._stop):
            if self._stop.is_set():
                return
            # Events wait in a buffer, with at most one message in the app's queue
            # to fetch them. A message per event queued keys behind every change
            # not yet applied: at 50 changes/s on a busy machine a key waited seconds.
            with self._stream_lock:
                self._stream_buffer.append(event)
                if self._stream_posted:
                    continue
                self._stream_posted = True
            self.post_message(StreamReceived([]))

    def _take_stream_buffer(self) -> list[StreamEvent]:
        with self._stream_lock:
            events = list(self._stream_buffer)
            self._stream_buffer.clear()
            self._stream_posted = False
        return events

    @property
    def metrics_period_s(self) -> float:
        """How often metrics really change: a source may answer faster calls from its
        cache (Prometheus: never faster than the scrape interval)."""
        source_s = getattr(self.metrics_source, "refresh_interval_s", 0.0)
        return max(self.metrics_every_s, float(source_s or 0.0))

    def metrics_targets(self) -> list[Rollout]:
        """Rollouts whose metrics the visible screen shows."""
        screen = self._current_screen()
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
    def perform_action(self, ref: RolloutRef, action: Action, seen: Seen | None = None) -> None:
        try:
            result = self.backend.act(ref, action, seen=seen)
        except ConsoleError as exc:
            self.post_message(ActionFinished(ref, action, None, str(exc)))
        except Exception as exc:  # a backend bug must not kill the app
            text = f"{action.value} failed: {clip(clean_line(str(exc)))}"
            self.post_message(ActionFinished(ref, action, None, text))
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
        if any(w.group == "guard" and not w.is_finished for w in self.workers):
            # A slow evaluation (a Prometheus timeout) is still running: a thread
            # worker cannot be cancelled, so the next one waits for its turn.
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
        for event in [*message.events, *self._take_stream_buffer()]:
            if isinstance(event, Notices):
                # Said once, in full, where it wraps; the status line keeps a count
                # and the help screen lists them.
                said = self.store.notices.get(event.cluster, ())
                for text in event.messages:
                    if text not in said:
                        self.say(text, severity="warning", timeout=10)
            if isinstance(event, Removed | Snapshot):
                before = set(self.store.rollouts)
                self.store.apply(event)
                self._forget_metrics(before - set(self.store.rollouts))
            else:
                self.store.apply(event)
        if first and self.store.rollouts:
            # The first list is drawn at once; later changes are coalesced by the
            # redraw interval (a busy cluster sends many events a second).
            self.redraw_if_changed()
            self.run_guard()  # a verdict now, not one interval later
            if self.settle_heap:
                settle_heap()
                self._settled_at = time.monotonic()

    def _forget_metrics(self, gone: set[str]) -> None:
        """Deleted rollouts: the metrics source drops what it kept for them too."""
        forget = getattr(self.metrics_source, "forget", None)
        if gone and forget is not None:
            forget(gone)

    def on_metrics_fetched(self, message: MetricsFetched) -> None:
        self.store.set_metrics(message.metrics)
        self.redraw_if_changed()

    def on_action_finished(self, message: ActionFinished) -> None:
        key = message.ref.key
        if message.result is not None:
            result = message.result
            change = f" ({result.before} → {result.after})" if result.before else ""
            self.store.log_action(key, f"{message.action.value}: {result.message}{change}")
            self.say(result.message, title=message.action.label, timeout=4)
        else:
            self.store.log_action(key, f"{message.action.value}: {message.error}", error=True)
            self.say(message.error, title=message.action.label, severity="error", timeout=8)
        self.redraw_if_changed()

    def say(
        self,
        text: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
    ) -> None:
        """A toast whose text may quote the cluster: shown literally, never as markup.

        The backends already made the text clean (console/untrusted.py); markup=False
        keeps a name like `[red]x[/]` as typed instead of turning it red.
        """
        self.notify(clean_line(text), title=title, severity=severity, timeout=timeout, markup=False)

    # --- drawing ------------------------------------------------------------------

    def redraw_if_changed(self) -> None:
        if self.store.version == self._drawn_version:
            return
        self._drawn_version = self.store.version
        self._call_screen("redraw")

    def tick_clocks(self) -> None:
        self._call_screen("tick")

    def _current_screen(self) -> Screen[object] | None:
        """The active screen; None while the app shuts down and a worker's message or
        a timer still arrives after the last screen has gone."""
        try:
            return self.screen
        except ScreenStackError:
            return None

    def _call_screen(self, method: str) -> None:
        call = getattr(self._current_screen(), method, None)
        if call is None:
            return
        with contextlib.suppress(NoMatches):
            call()

    # --- actions ------------------------------------------------------------------

    def cluster_read_only(self, cluster: str) -> bool:
        return self.read_only or cluster in self.read_only_clusters

    def request_action(self, ref: RolloutRef, action: Action) -> None:
        """Run an action, asking first for the dangerous ones."""
        if self.read_only:
            self.notify("The console is read-only.", severity="warning")
            return
        if ref.cluster in self.read_only_clusters:
            self.say(f"The context {ref.cluster} is read-only.", severity="warning")
            return
        rollout = self.store.rollouts.get(ref.key)
        reason = rollout.why_unavailable(action) if rollout else None
        if reason:
            self.say(f"{action.label} is unavailable: {reason}", severity="warning")
            return
        # What the operator sees now: the backend refuses an advance from anywhere else.
        seen = Seen.of(rollout) if rollout is not None else None
        if not action.dangerous:
            self.perform_action(ref, action, seen)
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.perform_action(ref, action, seen)
            else:
                self.notify(f"{action.label} cancelled.", timeout=3)

        self.push_screen(ConfirmScreen(ref, action, rollout), confirmed)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title == "Theme":
                continue  # Textual's lists its own 24 themes; ours are in RolloutCommands
            if command.title == "Screenshot":
                yield SystemCommand(
                    "Screenshot",
                    "Save an SVG of the screen in the console's state directory",
                    lambda: self.set_timer(0.1, self.save_screen),
                )
                continue
            yield command

    def save_screen(self) -> Path:
        """Save an SVG of the screen where it can always be written (Textual's default,
        ~/Downloads, does not exist on a server) and say where."""
        directory = screenshot_dir()
        directory.mkdir(parents=True, exist_ok=True)
        path = Path(self.save_screenshot(path=str(directory)))
        self.notify(f"Saved screenshot to {path}", title="Screenshot", markup=False)
        return path

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            now = self.clock()
            stale = [
                f"{state.cluster or 'the cluster'}: stale for "
                f"{format_duration(now - state.since)}: {state.message}"
                for state in self.store.disconnected
            ]
            self.push_screen(
                HelpScreen(read_only=self.read_only, notices=self.store.all_notices, stale=stale)
            )
