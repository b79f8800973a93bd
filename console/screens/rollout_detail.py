"""One rollout: traffic split, steps, per-version numbers and charts, change log."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Static

from console.action_state import unavailable_now
from console.guard.gates import PAUSED_AT_ANNOTATION
from console.model import (
    Metric,
    MetricsState,
    ProviderKind,
    Rollout,
    RolloutMetrics,
    Series,
    VersionInfo,
    VersionMetrics,
)
from console.screens.actions import ACTION_KEYS, FOOTER_PRIORITY, ActionScreen
from console.screens.scrolling import SCROLL_BINDINGS, scroll
from console.screens.status_line import StatusLine, status_line
from console.screens.tree_panel import draw_tree
from widgets.gates_panel import GatesPanel
from widgets.key_footer import KeyFooter
from widgets.metric_summary import MetricSummary
from widgets.rollout_tree import RolloutTreeView
from widgets.step_timeline import StepTimeline
from widgets.traffic_bar import TrafficBar
from widgets.version_chart import VersionChartPair

# (widget id, title, unit, metrics drawn, their labels)
CHARTS: tuple[tuple[str, str, str, tuple[Metric, ...], tuple[str, ...]], ...] = (
    ("latency", "latency", "ms", (Metric.LATENCY_P50, Metric.LATENCY_P99), ("p50", "p99")),
    ("errors", "errors", "%", (Metric.ERROR_PCT,), ("5xx %",)),
    ("gpu-util", "GPU util", "%", (Metric.GPU_UTIL,), ("util %",)),
    ("gpu-mem", "GPU memory", "GiB", (Metric.GPU_MEMORY,), ("GiB",)),
)
LOG_LINES = 8


class RolloutDetailScreen(ActionScreen):
    BINDINGS = [
        Binding("escape", "back", "Back"),
        *SCROLL_BINDINGS,
    ]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall"), (46, "-taller")]

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key
        self._drawn: dict[str, Text] = {}

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status", classes="status-line")
        yield Static(id="title")
        yield TrafficBar(id="traffic")
        with VerticalScroll(id="body"):
            # Charts first: they are what an operator watches during a canary,
            # and on a short terminal the first (latency) must be in view.
            with Vertical(id="charts"):
                for index, (chart_id, title, unit, _, _) in enumerate(CHARTS):
                    # Short terminals show only the first; the summary has the rest.
                    classes = "chart" if index == 0 else "chart -secondary"
                    yield VersionChartPair(title, unit, id=chart_id, classes=classes)
            # Right under the latency chart: the guard's verdict on what it shows.
            yield GatesPanel(id="gates")
            with Horizontal(id="info"):
                with Vertical(id="info-left"):
                    yield MetricSummary(id="summary")
                    yield Static(id="versions")
                yield StepTimeline(id="steps")
            yield RolloutTreeView(id="tree")
        # Outside the scrolling body: the result of the key just pressed stays in view.
        yield Static(id="log")
        yield KeyFooter(priority=FOOTER_PRIORITY)

    def on_mount(self) -> None:
        self.redraw()
        self.app.refresh_metrics()  # type: ignore[attr-defined]

    # --- data -------------------------------------------------------------------

    def target(self) -> Rollout | None:
        return self.app.store.rollouts.get(self.key)  # type: ignore[attr-defined, no-any-return]

    def metrics_keys(self) -> list[str]:
        return [self.key]

    def redraw(self) -> None:
        if not self.is_attached or not self.is_mounted:
            return  # a refresh can land while the screen is being popped
        rollout = self.target()
        now: float = self.app.clock()  # type: ignore[attr-defined]
        if rollout is None:
            self._update(
                "#title",
                Text(f"{self.key}: this rollout no longer exists (deleted?)", style="bold"),
            )
            self.tick()
            return
        self._update("#title", title_text(rollout))
        canary = rollout.canary
        self.query_one(TrafficBar).show(
            set_weight=rollout.set_weight,
            actual_weight=rollout.actual_weight,
            stable_label=rollout.stable.display,
            canary_label=canary.display if canary else None,
        )
        self.query_one(StepTimeline).show(
            rollout.steps,
            rollout.current_step,
            pause_remaining_s=rollout.pause_remaining_s,
            paused=rollout.paused,
            aborted=rollout.aborted,
            paused_by="the guard" if rollout.annotation(PAUSED_AT_ANNOTATION) else "operator",
        )
        locked = self.app.cluster_read_only(rollout.ref.cluster)  # type: ignore[attr-defined]
        self._update("#versions", versions_text(rollout, read_only=locked))
        metrics = self.app.store.metrics.get(self.key)  # type: ignore[attr-defined]
        refresh_s: float = self.app.metrics_period_s  # type: ignore[attr-defined]
        self.query_one(MetricSummary).show(metrics, now=now, refresh_s=refresh_s)
        self.draw_gates(rollout, now)
        self.draw_charts(rollout, metrics, now)
        self.draw_log()
        self.tick()
        self.refresh_bindings_if_changed()

    def _update(self, selector: str, text: Text) -> None:
        # Static.update always runs a layout pass of the screen: skip equal text.
        if self._drawn.get(selector) != text:
            self._drawn[selector] = text
            self.query_one(selector, Static).update(text)

    def draw_charts(self, rollout: Rollout, metrics: RolloutMetrics | None, now: float) -> None:
        note = ""
        stale_s: float | None = None
        if metrics is None:
            note = "waiting for metrics…"
        elif metrics.state is not MetricsState.OK:
            has_data = any(metrics.stable.get(m).points for _, _, _, ms, _ in CHARTS for m in ms)
            if has_data and metrics.state is MetricsState.UNAVAILABLE:
                stale_s = now - metrics.taken_at
            elif has_data:
                pass  # e.g. an aborted canary serves nothing: its side says "no data"
            else:
                note = (
                    f"{metrics.state.value}: {metrics.reason}"
                    if metrics.reason
                    else (metrics.state.value)
                )
        stable_v = rollout.stable.display
        canary_v = rollout.canary.display if rollout.canary else ""
        window = chart_window(metrics)
        for chart_id, _, _, wanted, labels in CHARTS:
            chart = self.query_one(f"#{chart_id}", VersionChartPair)
            stable = _series(metrics.stable if metrics else None, wanted)
            canary = _series(metrics.canary, wanted) if metrics and metrics.canary else None
            chart.show(
                stable,
                canary,
                labels=labels,
                stable_version=stable_v,
                canary_version=canary_v,
                note=note,
                stale_s=stale_s,
                window=window,
            )

    def draw_gates(self, rollout: Rollout, now: float) -> None:
        store = self.app.store  # type: ignore[attr-defined]
        decisions = store.decisions_for(self.key)
        local = store.guard.get("")
        evaluated_s = (
            now - local.last_evaluation
            if local is not None and local.last_evaluation is not None
            else None
        )
        self.query_one(GatesPanel).show(
            store.verdicts.get(self.key),
            now=self.app.guard_now(),  # type: ignore[attr-defined]
            decision=decisions[-1] if decisions else None,
            extra=analysis_lines(rollout),
            enabled=self.app.guard is not None,  # type: ignore[attr-defined]
            evaluated_s=evaluated_s,
        )

    def draw_log(self) -> None:
        entries = self.app.store.log_for(self.key)[-LOG_LINES:]  # type: ignore[attr-defined]
        # Wall-clock times (UTC, as incident notes use), not "5s ago": the text then
        # changes only when an entry arrives, not on every refresh.
        text = Text("recent changes and actions (UTC)\n", style="bold")
        if not entries:
            text.append("(none yet)", style="dim")
        for entry in reversed(entries):
            at = time.strftime("%H:%M:%S", time.gmtime(entry.at))
            mark = {"action": "» ", "error": "✖ ", "guard": "» "}.get(entry.kind, "· ")
            style = "bold" if entry.kind != "status" else ""
            text.append(f"{at} {mark}{entry.text}\n", style=style)
        self._update("#log", text)

    def tick(self) -> None:
        if not self.is_attached or not self.is_mounted:
            return
        draw_tree(self, self.key)  # ages and pods move without a store change
        rollout = self.target()
        label = f"{rollout.ref.short}" if rollout else self.key
        self.query_one("#status", StatusLine).show(status_line(self.app, label))  # type: ignore[arg-type]

    def action_scroll(self, how: str) -> None:
        scroll(self.query_one("#body", VerticalScroll), how)

    def action_back(self) -> None:
        self.app.pop_screen()


def analysis_lines(rollout: Rollout) -> list[Text]:
    """Argo AnalysisRuns of the current canary, per metric as `kubectl argo rollouts get
    rollout` shows them (✔ ✖ ? ⚠ counts), and whether the controller may still roll
    back by itself."""
    lines: list[Text] = []
    for run in rollout.analysis:
        head = Text(no_wrap=True, end="")
        head.append("AnalysisRun ", style="bold")
        head.append(run.name)
        head.append(f"  {run.phase or 'Pending'}")
        if run.kind:
            head.append(f"  ({run.kind})", style="dim")
        if run.message:
            head.append(f"  {run.message}", style="italic")
        lines.append(head)
        for m in run.metrics:
            line = Text(no_wrap=True, end="")
            line.append(f"  {m.name:<18}{m.phase or 'Pending':<13}{m.counts or '-':<16}")
            line.append(f"last {m.last_value or '-'}  ")
            line.append(m.condition, style="dim")
            if m.dry_run:
                line.append("  dry-run", style="dim")
            lines.append(line)
    if rollout.auto_rollback:
        lines.append(Text(f"⚠ {rollout.auto_rollback}", style="bold", no_wrap=True, end=""))
    return lines


def chart_window(metrics: RolloutMetrics | None) -> tuple[float, float] | None:
    """The time window every chart of the view shows: the metrics' window up to the newest
    point of any series, so a view's charts line up and stay put while no new point came."""
    if metrics is None:
        return None
    ends = [
        series.points[-1][0]
        for version in (metrics.stable, metrics.canary)
        if version is not None
        for series in version.series.values()
        if series.points
    ]
    if not ends:
        return None
    end = max(ends)
    return (end - (metrics.window_s or 300.0), end)


def _series(version: VersionMetrics | None, wanted: tuple[Metric, ...]) -> list[Series]:
    if version is None:
        return [Series() for _ in wanted]
    return [version.get(m) for m in wanted]


def title_text(r: Rollout) -> Text:
    """One line at any width (80 columns over SSH): what is cut is the message's
    end, and the whole message is in the notes under it (`notes_text`)."""
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    text.append(f"{r.ref.namespace}/{r.ref.name}", style="bold")
    if r.ref.cluster:
        text.append(f" @{r.ref.cluster}", style="dim")
    if r.provider is not ProviderKind.DEMO:
        text.append(f" {r.provider.value}")
    text.append(" ")
    text.append(f" {r.status_text} ", style="reverse")
    text.append(f" step {r.step_label}")
    if r.message:
        text.append(f"  {r.message}", style="italic")
    return text


#: A message longer than this may be cut in the title: it is repeated in the notes.
TITLE_MESSAGE_CHARS = 30


def notes_text(r: Rollout, *, read_only: bool = False) -> Text:
    """Warnings, the long message, and why keys cannot act now (dimmed or hidden
    in the footer), one reason a line with the keys it stops."""
    text = Text()
    lines: list[tuple[str, str]] = []
    if len(r.message) > TITLE_MESSAGE_CHARS:
        lines.append((r.message, "italic"))
    lines.extend((f"⚠ {w}", "bold") for w in r.warnings)
    if read_only:
        # No action keys at all: the reasons below would be noise.
        lines.append((f"read-only: no actions on {r.ref.cluster or 'this cluster'}", "dim"))
        return _join(text, lines)
    by_reason: dict[str, list[str]] = {}
    for action, reason in unavailable_now(r, tuple(k.action for k in ACTION_KEYS)):
        key = next(k.key for k in ACTION_KEYS if k.action is action)
        by_reason.setdefault(reason, []).append(key)
    lines.extend(
        (f"not now {' '.join(keys)}: {reason}", "dim") for reason, keys in by_reason.items()
    )
    return _join(text, lines)


def _join(text: Text, lines: list[tuple[str, str]]) -> Text:
    for i, (line, style) in enumerate(lines):
        text.append(("\n" if i else "") + line, style=style)
    return text


def _version_line(tag: str, v: VersionInfo | None) -> Text:
    line = Text()
    line.append(f"{tag} ", style="bold")
    if v is None:
        line.append("none")
        return line
    line.append(f"{v.display}", style="bold")
    ident = v.pod_hash or v.label or v.revision
    if ident:
        line.append(f"  [{ident}]", style="dim")
    line.append(f"  {v.ready}/{v.desired} ready")
    for image in v.images:
        line.append(f"\n    {image.repository}:{image.tag or '(no tag)'}")
        if image.digest:
            algo, _, digest = image.digest.partition(":")
            line.append(f"@{algo}:{digest[:12]}…", style="dim")
        if image.moving:
            line.append("  ⚠ moving tag, no digest", style="bold")
    return line


def versions_text(r: Rollout, *, read_only: bool = False) -> Text:
    text = notes_text(r, read_only=read_only)
    if text.plain:
        text.append("\n")
    text.append_text(_version_line("S stable", r.stable))
    text.append("\n")
    text.append_text(_version_line("C canary", r.canary))
    return text
