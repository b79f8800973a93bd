"""`l`: the logs of a pod of the stable or canary version, followed as they come.

A thread worker reads the backend's log stream and posts each line as a typed
message; switching pod or container stops the old stream (its socket is shut
down) and starts a new one. Lines of an old stream that arrive late are dropped
by their generation number. Logs that cannot be read give one sentence.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Log, Static

from console.inspection import NOT_SUPPORTED, LogTarget, inspector_of
from console.model import ConsoleError, Role, RolloutRef
from console.untrusted import clean_line, clip
from widgets.key_footer import KeyFooter

#: Lines kept on screen; older ones scroll away (k9s keeps a similar buffer).
MAX_LINES = 5000


@dataclass
class TargetsLoaded(Message):
    targets: list[LogTarget]
    error: str = ""


@dataclass
class LogLine(Message):
    generation: int
    line: str


@dataclass
class LogEnded(Message):
    generation: int
    error: str = ""


class PodLogsScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("s", "side('stable')", "Stable"),
        Binding("c", "side('canary')", "Canary"),
        Binding("n", "next_pod", "Next pod"),
        Binding("t", "next_container", "Container"),
    ]
    DEFAULT_CSS = """
    PodLogsScreen #logs-title { height: auto; text-style: bold; }
    PodLogsScreen #logs-state { height: auto; }
    PodLogsScreen Log { height: 1fr; }
    """

    def __init__(self, ref: RolloutRef) -> None:
        super().__init__()
        self.ref = ref
        self.targets: list[LogTarget] = []
        self.pod_index = 0
        self.container_index = 0
        self.generation = 0
        self.state = "looking for pods…"
        self.lines: list[str] = []  # what was shown, for tests and copy
        self._stop = threading.Event()

    def compose(self) -> ComposeResult:
        yield Static(Text(f"logs: {self.ref.short}  @{self.ref.cluster}"), id="logs-title")
        yield Static(Text(self.state, style="dim"), id="logs-state")
        yield Log(max_lines=MAX_LINES, id="logs")
        yield KeyFooter(priority=("back", "side('stable')", "side('canary')", "next_container"))

    def on_mount(self) -> None:
        self.load_targets()

    def on_unmount(self) -> None:
        self._stop.set()

    # --- workers ------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="log-targets")
    def load_targets(self) -> None:
        inspector = inspector_of(self.app.backend)  # type: ignore[attr-defined]
        if inspector is None:
            self.post_message(TargetsLoaded([], NOT_SUPPORTED.format(what="logs")))
            return
        try:
            self.post_message(TargetsLoaded(inspector.log_targets(self.ref)))
        except ConsoleError as exc:
            self.post_message(TargetsLoaded([], str(exc)))

    @work(thread=True, group="log-stream")
    def stream(self, generation: int, pod: str, container: str, stop: threading.Event) -> None:
        inspector = inspector_of(self.app.backend)  # type: ignore[attr-defined]
        if inspector is None:
            return
        try:
            for line in inspector.logs(self.ref, pod, container, stop):
                if stop.is_set():
                    return
                self.post_message(LogLine(generation, line))
        except ConsoleError as exc:
            self.post_message(LogEnded(generation, str(exc)))
        except Exception as exc:  # a backend bug must not kill the app
            self.post_message(
                LogEnded(generation, f"Reading logs failed: {clip(clean_line(str(exc)))}")
            )
        else:
            if not stop.is_set():
                self.post_message(LogEnded(generation))

    # --- messages -----------------------------------------------------------------

    def on_targets_loaded(self, message: TargetsLoaded) -> None:
        self.targets = message.targets
        if message.error:
            self._say(message.error, error=True)
            return
        if not self.targets:
            self._say(f"No pods of {self.ref.short} to read logs from.", error=True)
            return
        self.pod_index = 0  # canary pods come first
        self.start()

    def on_log_line(self, message: LogLine) -> None:
        if message.generation != self.generation:
            return
        self.lines.append(message.line)
        if len(self.lines) > MAX_LINES:
            del self.lines[: len(self.lines) - MAX_LINES]
        self.query_one(Log).write_line(message.line)

    def on_log_ended(self, message: LogEnded) -> None:
        if message.generation != self.generation:
            return
        if message.error:
            self._say(message.error, error=True)
        else:
            self._say(f"{self._where()}: the log stream ended.")

    # --- switching ------------------------------------------------------------------

    @property
    def current(self) -> LogTarget | None:
        return self.targets[self.pod_index] if self.targets else None

    @property
    def container(self) -> str:
        target = self.current
        if target is None or not target.containers:
            return ""
        return target.containers[self.container_index % len(target.containers)]

    def _where(self) -> str:
        target = self.current
        if target is None:
            return ""
        return f"{target.role.value} pod {target.pod}, container {self.container}"

    def start(self) -> None:
        """Stop the current stream and follow the chosen pod and container."""
        self._stop.set()
        self._stop = threading.Event()
        self.generation += 1
        self.lines = []
        self.query_one(Log).clear()
        target = self.current
        if target is None or not self.container:
            self._say("This pod has no container to read logs from.", error=True)
            return
        containers = ", ".join(target.containers)
        self._say(f"{self._where()} (following; containers: {containers})")
        self.stream(self.generation, target.pod, self.container, self._stop)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.state = text
        self.query_one("#logs-state", Static).update(Text(text, style="bold" if error else "dim"))

    def action_side(self, role: str) -> None:
        wanted = Role(role)
        for i, target in enumerate(self.targets):
            if target.role is wanted:
                self.pod_index, self.container_index = i, 0
                self.start()
                return
        self.notify(f"No {role} pod to read logs from.", severity="warning")

    def action_next_pod(self) -> None:
        if len(self.targets) > 1:
            self.pod_index = (self.pod_index + 1) % len(self.targets)
            self.container_index = 0
            self.start()

    def action_next_container(self) -> None:
        target = self.current
        if target is not None and len(target.containers) > 1:
            self.container_index = (self.container_index + 1) % len(target.containers)
            self.start()

    def action_back(self) -> None:
        self._stop.set()
        self.app.pop_screen()
