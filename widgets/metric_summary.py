"""Latest value per version and the canary/stable ratio, one line per metric.

This is what keeps 80x24 usable: the numbers stay readable when the charts
are only a few rows high.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.app import RenderResult
from textual.geometry import Size
from textual.theme import Theme
from textual.widget import Widget

from console.model import Metric, MetricsState, RolloutMetrics, format_duration
from widgets._numbers import fmt_value
from widgets._palette import Palette, palette

WORSE = "▲"
TIMES = "\u00d7"  # multiplication sign; ruff flags the literal as ambiguous
BETTER = "▼"


@dataclass(frozen=True)
class Row:
    metric: Metric
    label: str
    # Ratio above which the canary is flagged as worse; None = higher is not worse
    # (request rate follows the weights, GPU utilisation follows the load).
    worse_above: float | None
    # Below this absolute canary value a ratio is noise (0.01% vs 0.02% errors).
    floor: float = 0.0


# Thresholds from the seed notes: regress by >20%, GPU memory growth >15%.
ROWS: tuple[Row, ...] = (
    Row(Metric.LATENCY_P50, "p50 ms", 1.20),
    Row(Metric.LATENCY_P99, "p99 ms", 1.20),
    Row(Metric.ERROR_PCT, "error %", 1.20, floor=0.1),
    Row(Metric.REQUEST_RATE, "req/s", None),
    Row(Metric.GPU_UTIL, "GPU util %", None),
    # Per GPU, never summed over pods: stable on 4 pods and a canary on 1 compare
    # like for like; the count says how many GPUs each figure is over.
    Row(Metric.GPU_MEMORY, "mem/GPU GiB", 1.15),
    Row(Metric.GPU_MEMORY_MAX, "max/GPU GiB", 1.15),
    Row(Metric.GPU_COUNT, "GPUs", None),
)

_LABEL_W, _VALUE_W, _RATIO_W = 12, 9, 9


def ratio_cell(stable: float | None, canary: float | None, row: Row) -> tuple[str, bool]:
    """The ratio column's text and whether it flags a regression."""
    if stable is None or canary is None:
        return "—", False
    if stable == 0:
        if canary == 0:
            return "=", False
        worse = row.worse_above is not None and canary > row.floor
        return (f"{WORSE}new" if worse else "new"), worse
    ratio = canary / stable
    worse = row.worse_above is not None and ratio > row.worse_above and canary > row.floor
    text = f"{ratio:.2f}{TIMES}" if ratio < 10 else f"{ratio:.0f}{TIMES}"
    if worse:
        return f"{WORSE}{text}", True
    if row.worse_above is not None and ratio < 1 / row.worse_above:
        return f"{BETTER}{text}", False
    return text, False


class MetricSummary(Widget):
    """A compact table: metric, S stable, C canary, C/S ratio."""

    DEFAULT_CSS = """
    MetricSummary {
        height: auto;
        width: 1fr;
    }
    """

    def __init__(
        self,
        *,
        refresh_s: float = 5.0,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.refresh_s = refresh_s
        self._metrics: RolloutMetrics | None = None
        self._stale_s: int | None = None
        self._memo_for: tuple[RolloutMetrics | None, int | None] = (None, None)
        self._memo: dict[Palette | None, list[Text]] = {}

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, _theme: Theme) -> None:
        self.refresh()

    def show(
        self, metrics: RolloutMetrics | None, *, now: float, refresh_s: float | None = None
    ) -> None:
        """`refresh_s` is the metrics refresh period: older than twice it is stale."""
        if refresh_s is not None:
            self.refresh_s = refresh_s
        stale: int | None = None
        if metrics is not None and metrics.taken_at and now - metrics.taken_at > 2 * self.refresh_s:
            stale = int(now - metrics.taken_at)
        # Equal figures in a new object (a source that rebuilds its answer) repaint nothing.
        if (metrics is self._metrics or metrics == self._metrics) and stale == self._stale_s:
            return
        height = len(self._lines(None))
        self._metrics = metrics
        self._stale_s = stale
        # New figures repaint; only a different number of lines needs a layout pass.
        self.refresh(layout=len(self._lines(None)) != height)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._lines(None))

    @property
    def text(self) -> str:
        return "\n".join(line.plain for line in self._lines(None))

    def _lines(self, colours: Palette | None) -> list[Text]:
        # Asked for by show() and layout (no colours) and by render (colours) in one
        # refresh: build each once per metrics/staleness.
        if self._memo_for[0] is not self._metrics or self._memo_for[1] != self._stale_s:
            self._memo_for = (self._metrics, self._stale_s)
            self._memo.clear()
        lines = self._memo.get(colours)
        if lines is None:
            lines = self._memo[colours] = self._build_lines(colours)
        return lines

    def _build_lines(self, colours: Palette | None) -> list[Text]:
        metrics = self._metrics
        attention = colours.attention if colours else Style()
        if metrics is None:
            return [Text("metrics: no data", Style(dim=True))]
        reason = f": {metrics.reason}" if metrics.reason else ""
        has_data = any(
            version is not None and version.get(row.metric).points
            for version in (metrics.stable, metrics.canary)
            for row in ROWS
        )
        problem: Text | None = None
        if metrics.state is MetricsState.UNAVAILABLE:
            problem = Text(f"⚠ metrics unavailable{reason}", attention)
        elif metrics.state is MetricsState.NO_DATA:
            problem = Text(f"no data{reason}", Style(dim=True))
        if problem is not None and not has_data:
            return [problem]

        stable_style = colours.stable if colours else Style()
        canary_style = colours.canary if colours else Style()
        header = Text(no_wrap=True, end="")
        header.append(f"{'metric':<{_LABEL_W}}", Style(bold=True))
        header.append(f"{'S stable':>{_VALUE_W}}", stable_style + Style(bold=True))
        header.append(f"{'C canary':>{_VALUE_W}}", canary_style + Style(bold=True))
        header.append(f"{'C/S':>{_RATIO_W}}", Style(bold=True))
        if self._stale_s is not None:
            header.append(f"  ⚠ stale {format_duration(self._stale_s)}", attention)
        # A failed refresh keeps the last numbers visible under the warning:
        # an operator mid-incident needs them more than a blank panel.
        lines = [header] if problem is None else [problem, header]
        for row in ROWS:
            stable = metrics.stable.get(row.metric).latest
            canary = None if metrics.canary is None else metrics.canary.get(row.metric).latest
            if stable is None and canary is None:
                continue  # e.g. no GPU metrics for a CPU model: don't pad with dashes
            ratio, worse = ratio_cell(stable, canary, row)
            line = Text(no_wrap=True, end="")
            line.append(f"{row.label:<{_LABEL_W}}")
            line.append(f"{_value(stable):>{_VALUE_W}}")
            line.append(f"{_value(canary):>{_VALUE_W}}")
            line.append(f"{ratio:>{_RATIO_W}}", attention if worse else Style(dim=True))
            lines.append(line)
        return lines

    def render(self) -> RenderResult:
        return Text("\n", end="").join(self._lines(palette(self.app)))


def _value(value: float | None) -> str:
    return "—" if value is None else fmt_value(value)
