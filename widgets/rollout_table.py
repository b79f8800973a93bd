"""The rollouts list: one row per rollout, keyed by `Rollout.ref.key`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual.binding import Binding
from textual.cache import LRUCache
from textual.strip import Strip
from textual.theme import Theme
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, CellKey, ColumnKey, RowKey

from console.guard.gates import PAUSED_AT_ANNOTATION
from console.guard.verdicts import GateState, Verdict
from console.model import Phase, Rollout, StepKind, VersionInfo, format_duration
from console.timestamps import human_duration
from widgets._palette import Palette, palette
from widgets.column_fit import fit_cell, fit_versions, fit_widths

PHASE_GLYPHS = {
    Phase.HEALTHY: "✔",
    Phase.PROGRESSING: "◐",
    Phase.PAUSED: "‖",  # not U+23F8: many terminal fonts lack it
    Phase.DEGRADED: "✖",
    Phase.UNKNOWN: "?",
}
WARNING = "⚠"
_BAR_CELLS = 6
_EIGHTHS = " ▏▎▍▌▋▊▉"

COLUMNS: tuple[tuple[str, str], ...] = (
    ("cluster", "CLUSTER"),
    ("namespace", "NAMESPACE"),
    ("name", "NAME"),
    ("phase", "PHASE"),
    ("verdict", "GATES"),
    ("step", "STEP"),
    ("weight", "WEIGHT"),
    ("versions", "VERSIONS"),
    ("age", "AGE"),
)

# Below this many columns the table drops to a compact layout, so that at 80x24
# every column fits without horizontal scrolling for typical names.
NARROW_BELOW = 115
_NARROW_NAMESPACE = 9

#: Narrow, the verdict column is as wide as its symbols; the header is one too.
NARROW_VERDICT_LABEL = "✓"
#: The guard's pause annotation: a rollout it froze says so on the list.
GUARD_PAUSED_AT = PAUSED_AT_ANNOTATION

# Wide: the word too. Narrow: the symbol alone (GateState.symbol reads without colour).
_VERDICT_WORDS = {
    GateState.PASS: "pass",
    GateState.FAIL: "fail",
    GateState.INCONCLUSIVE: "unsure",
    GateState.NO_DATA: "no data",
    GateState.STALE: "",
    GateState.ERROR: "",
}

#: Rendered cells kept by identity: a 200-line screen of 9 columns, twice (the rows
#: that moved off and back on), so a redraw that changes a few rows re-renders those.
CELLS_KEPT = 4096
#: Rendered lines kept by identity: a screen of rows at the tallest terminals, twice.
LINES_KEPT = 512
#: Sizes of DataTable's own per-update caches (see RolloutTable.__init__): a frame's
#: worth, at the tallest terminals.
DATATABLE_CELLS_KEPT = 2048
DATATABLE_ROWS_KEPT = 256

Cells = tuple[Text, ...]
SegmentLines = list[list[Segment]]


def weight_bar(set_weight: int, actual_weight: int, cells: int = _BAR_CELLS) -> str:
    """`██▌··· 30/25%`: a bar of the set weight, then set/actual when they differ."""
    filled = max(0, min(100, set_weight)) * cells * 8 // 100
    full, part = divmod(filled, 8)
    bar = "█" * full + (_EIGHTHS[part] if part else "")
    bar += "·" * (cells - len(bar))
    numbers = f"{set_weight}%" if set_weight == actual_weight else f"{set_weight}/{actual_weight}%"
    # Pad to "30/25%" so the common cases line up; a rare "100/95%" just pokes out.
    return f"{bar} {numbers:>6}"


def version_text(version: VersionInfo) -> str:
    """The version's short name, flagged when its image tag can move."""
    return f"{WARNING}{version.display}" if version.moving_image else version.display


class RolloutTable(DataTable[Text]):
    """Rows in the caller's order; cursor stays on the same rollout across updates.

    When the keys and their order are unchanged, only changed cells are
    updated, so a 200-row list refreshes without rebuilding the table.
    """

    # k9s and vi movement. Home/End move the cursor to the first/last row: the
    # table's own Home/End scroll sideways, which a row list never needs.
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g,home", "scroll_top", "First", show=False),
        Binding("G,end", "scroll_bottom", "Last", show=False),
        Binding("ctrl+f", "page_down", "Page down", show=False),
        Binding("ctrl+b", "page_up", "Page up", show=False),
    ]

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(
            cursor_type="row",
            zebra_stripes=False,
            name=name,
            id=id,
            classes=classes,
            disabled=disabled,
        )
        self._keys: tuple[str, ...] = ()
        self._sources: dict[str, tuple[Rollout, str, str]] = {}
        self._verdicts: Mapping[str, Verdict] = {}
        self._cells: dict[str, Cells] = {}
        self._show_cluster: bool | None = None
        self._narrow: bool | None = None
        self._palette: Palette | None = None
        self._last: tuple[Sequence[Rollout], float, bool, Mapping[str, Verdict]] | None = None
        # DataTable's own render caches key on its update counter, which moves on every
        # change, so under churn they fill with dead entries up to their sizes (10,000
        # cells, 1,000 rows and lines: tens of MB). The identity-keyed caches below
        # answer across updates; a frame needs at most a screenful in these.
        self._cell_render_cache = LRUCache(DATATABLE_CELLS_KEPT)
        self._row_render_cache = LRUCache(DATATABLE_ROWS_KEPT)
        self._row_renderable_cache = LRUCache(DATATABLE_ROWS_KEPT)
        self._line_cache = LRUCache(DATATABLE_ROWS_KEPT)
        self._cell_lines: LRUCache[tuple[Any, ...], tuple[object, SegmentLines]] = LRUCache(
            CELLS_KEPT
        )
        self._widths: tuple[int, ...] = ()
        #: Natural (uncut) cell widths per row; the fitted column widths; what is shown.
        self._natural_w: dict[str, tuple[int, ...]] = {}
        self._fit: dict[str, int] = {}
        self._shown: dict[str, Cells] = {}
        self._shown_width = 0
        self._sort_mark: tuple[str, bool] | None = None
        self._row_lines: LRUCache[tuple[Any, ...], tuple[tuple[object, ...], Strip]] = LRUCache(
            LINES_KEPT
        )

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, _theme: Theme) -> None:
        if self._last is not None:
            rollouts, now, show_cluster, verdicts = self._last
            self.show(rollouts, now, show_cluster=show_cluster, verdicts=verdicts)

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> SegmentLines:
        # DataTable keys its cell cache on a table-wide update counter, so one
        # update_cell re-renders every visible cell through Rich (~0.3 ms each:
        # 40-120 ms a frame at 160x48). Cells here are replaced, never mutated,
        # so the cell object's identity says whether its rendering is still valid.
        try:
            row_key = self._row_locations.get_key(row_index)
            column_key = self._column_locations.get_key(column_index)
            value = (
                self._data[row_key][column_key]
                if row_key is not None and column_key is not None
                else None
            )
        except (KeyError, IndexError):
            value = None
        if value is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        key = (
            row_key,
            column_key,
            # Only header and fixed rows are styled by position: a row that moves
            # keeps its rendering (cursor and hover come in as flags).
            row_index < self.fixed_rows,
            column_index,
            base_style,
            width,
            cursor,
            hover,
            self._show_hover_cursor,
            self._pseudo_class_state,
        )
        cached = self._cell_lines.get(key)
        if cached is not None and cached[0] is value:
            return cached[1]
        lines = super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        self._cell_lines[key] = (value, lines)
        return lines

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        # DataTable measures every cell of every new row through Rich (~0.25 ms a
        # cell) to size auto-width columns: 2-3 s when a cleared filter brings back
        # 1,000 rows. Once show() has fitted the widths no column is auto-width and
        # rows are one line high, so those measurements would change nothing.
        if self._fit and not any(column.auto_width for column in self.columns.values()):
            new_rows = ()
        super()._update_dimensions(new_rows)

    def _render_line(self, y: int, x1: int, x2: int, base_style: Style) -> Strip:
        # Same idea one level up: DataTable's line cache is also keyed on the
        # update counter, so one changed age re-joins every visible line. A line
        # is reused while its row holds the very same cell objects.
        try:
            row_key, line_in_row = self._get_offsets(y)
            row = self._data.get(row_key)
        except LookupError:
            row = None
        if row is None or self.fixed_rows:
            return super()._render_line(y, x1, x2, base_style)
        cells = tuple(row.values())
        index = self._row_locations.get(row_key)
        widths = tuple(column.get_render_width(self) for column in self.ordered_columns)
        if widths != self._widths:
            # Columns are measured on idle, after the first paint; DataTable's own
            # line caches do not key on widths, so they must be invalidated here.
            self._widths = widths
            self._update_count += 1
        key = (
            row_key,
            line_in_row,
            x1,
            x2,
            self.size.width,
            widths,
            # A row cursor highlights whole rows: only "is it this row" matters.
            index == self.cursor_coordinate.row,
            index == self.hover_coordinate.row,
            base_style,
            self.cursor_type,
            self._show_hover_cursor,
            self._pseudo_class_state,
        )
        cached = self._row_lines.get(key)
        if (
            cached is not None
            and len(cached[0]) == len(cells)
            and all(a is b for a, b in zip(cached[0], cells, strict=True))
        ):
            return cached[1]
        strip = super()._render_line(y, x1, x2, base_style)
        # The cells are kept referenced, so their ids cannot be reused meanwhile.
        self._row_lines[key] = (cells, strip)
        return strip

    @property
    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except CellDoesNotExist:
            return None
        return row_key.value

    def tick(self, now: float) -> None:
        """Move the clock only: AGE changes, rows do not (cells whose text is the
        same are left alone; countdowns come with the rollouts, on redraw)."""
        if self._last is None:
            return
        near = self._near_view(self._keys)
        if near is not None and not any(
            key in self._sources and _age(self._sources[key][0], now) != self._sources[key][1]
            for key in near
        ):
            # No AGE on or near the screen moves this second: nothing to redo
            # for the other rows either (their ages wait until they scroll in).
            return
        rollouts, _, show_cluster, verdicts = self._last
        self.show(rollouts, now, show_cluster=show_cluster, verdicts=verdicts)

    def show(
        self,
        rollouts: Sequence[Rollout],
        now: float,
        *,
        show_cluster: bool = False,
        verdicts: Mapping[str, Verdict] | None = None,
    ) -> None:
        """`verdicts`: the guard's, by rollout key; a rollout without one shows "-"."""
        verdicts = verdicts if verdicts is not None else {}
        self._verdicts = verdicts
        self._last = (rollouts, now, show_cluster, verdicts)
        colours = palette(self.app)
        # Later duplicates of a key would make add_row raise; the first one wins.
        unique: dict[str, Rollout] = {}
        for rollout in rollouts:
            unique.setdefault(rollout.ref.key, rollout)
        keys = tuple(unique)

        # Read before any rebuild below clears the table (theme, width, cluster).
        selected = self.selected_key
        narrow = self._is_narrow()
        if show_cluster != self._show_cluster or colours != self._palette or narrow != self._narrow:
            self._show_cluster = show_cluster
            self._palette = colours
            self._narrow = narrow
            self._rebuild_columns()

        for key in set(self._cells) - set(keys):
            self._sources.pop(key, None)
            self._cells.pop(key, None)
            self._natural_w.pop(key, None)
        changed = self._compute_cells(unique, now, colours, self._near_view(keys))
        fit = self._layout(keys)
        if fit != self._fit:
            self._apply_widths(fit)
            changed = set(keys)  # every cell is cut anew
        in_place = [k for k in keys if k in changed]

        if keys == self._keys and self.row_count == len(keys):
            self._write_rows(in_place)
            return

        # Order or membership changed (attention order moves rows often): remove
        # and add only the rows that differ, update the rest in place, then reorder.
        # Rebuilding would re-measure and re-render all 200 rows.
        present = set(self._keys) if self.row_count == len(self._keys) else set()
        if not present and self.row_count:
            self.clear()
            self._shown = {}
        self._remove_rows(present - set(keys))
        self._write_rows([k for k in in_place if k in present])
        for key in keys:
            if key in present:
                continue
            cells = self._fitted(key)
            self._shown[key] = cells
            self.add_row(*cells, key=key)
        # Rows are told apart by the identity of their first cell object.
        position = {id(next(iter(self._data[RowKey(k)].values()))): i for i, k in enumerate(keys)}
        self.sort(key=lambda row: position[id(row[0])])
        self._keys = keys
        if selected is not None and selected in unique:
            self.move_cursor(row=self.get_row_index(selected), animate=False)

    def _remove_rows(self, gone: set[str]) -> None:
        """Remove these rows at once. DataTable.remove_row re-indexes every row for each
        row removed: a filter that narrows 1,000 rows to 10 took seconds a key."""
        if not gone:
            return
        for key in gone:
            row_key = RowKey(key)
            for column_key in self._data.get(row_key, {}):
                self._updated_cells.discard(CellKey(row_key, column_key))
            self.rows.pop(row_key, None)
            self._data.pop(row_key, None)
            self._shown.pop(key, None)
        kept = sorted(
            (k for k in self._row_locations if k.value not in gone),
            key=lambda k: self._row_locations.get(k) or 0,
        )
        self._row_locations = TwoWayDict({k: i for i, k in enumerate(kept)})
        self._require_update_dimensions = True
        self.check_idle()
        # What remove_row does after its removal: the cursor stays in range.
        self.cursor_coordinate = self.cursor_coordinate
        self.hover_coordinate = self.hover_coordinate
        self._update_count += 1
        self.refresh(layout=True)

    def _near_view(self, keys: Sequence[str]) -> set[str] | None:
        """The rows on screen and a screen either side (None: all, not laid out yet)."""
        height = self.size.height
        if not height:
            return None
        top = int(self.scroll_offset.y)
        return set(keys[max(0, top - height) : top + 2 * height])

    def _compute_cells(
        self,
        unique: dict[str, Rollout],
        now: float,
        colours: Palette,
        near: set[str] | None = None,
    ) -> set[str]:
        """Each row's cells at their natural width; the keys whose cells changed.

        Rows whose only change is their AGE are updated when `near` the view (None:
        all): under ten minutes old every age moves every second, and rows nobody sees
        cost most of a 1,000-row list's CPU. A row scrolled into view shows its age
        at the next tick (at most a second late)."""
        changed: set[str] = set()
        for key, rollout in unique.items():
            verdict = self._verdict_key(key)
            source = self._sources.get(key)
            # Rollouts are frozen dataclasses: equal means every cell is equal.
            if (
                source is not None
                and source[2] == verdict
                and (source[0] is rollout or source[0] == rollout)
            ):
                if near is not None and key not in near:
                    continue
                age = _age(rollout, now)
                if source[1] == age:
                    continue
                old = self._cells.get(key)
                if old is not None:
                    # Only the clock moved: a new AGE cell (the last), the other cell
                    # objects kept. Under ten minutes old every age moves every second,
                    # and rebuilding 1,000 rows a second was most of an idle list's CPU.
                    age_cell = Text(age, justify="right")
                    self._sources[key] = (rollout, age, verdict)
                    self._cells[key] = (*old[:-1], age_cell)
                    self._natural_w[key] = (*self._natural_w[key][:-1], age_cell.cell_len)
                    changed.add(key)
                    continue
            age = _age(rollout, now)
            self._sources[key] = (rollout, age, verdict)
            cells = self._row_cells(rollout, age, colours)
            old = self._cells.get(key)
            if old is not None and old == cells:
                continue
            if old is not None and len(old) == len(cells):
                # Keep the unchanged cells' objects: render caches key on identity.
                cells = tuple(o if o == c else c for o, c in zip(old, cells, strict=True))
            self._cells[key] = cells
            self._natural_w[key] = tuple(cell.cell_len for cell in cells)
            changed.add(key)
        return changed

    def _layout(self, keys: Sequence[str]) -> dict[str, int]:
        column_keys = self._column_keys()
        natural = {
            key: self.columns[ColumnKey(key)].label.cell_len
            if ColumnKey(key) in self.columns
            else 0
            for key in column_keys
        }
        labels = dict(natural)
        for key in keys:
            for column_key, width in zip(column_keys, self._natural_w.get(key, ()), strict=False):
                if width > natural[column_key]:
                    natural[column_key] = width
        available = self.size.width or (self.app.size.width if self.is_attached else 0)
        if not available:
            return natural
        # A vertical scrollbar takes cells from the row once the rows do not fit.
        if len(keys) > max(1, self.size.height - 1):
            available -= self.styles.scrollbar_size_vertical
        fit = fit_widths(natural, column_keys, available, padding=2 * self.cell_padding)
        # A header is never cut below its label (AGE stays AGE).
        for key in ("age", "step", "weight"):
            fit[key] = max(fit[key], labels[key])
        return fit

    def _apply_widths(self, fit: dict[str, int]) -> None:
        self._fit = fit
        for key, width in fit.items():
            column = self.columns.get(ColumnKey(key))
            if column is not None:
                column.width = width
                column.auto_width = False
        self._require_update_dimensions = True
        self._update_count += 1
        self.check_idle()
        self.refresh()

    def _fitted(self, key: str) -> Cells:
        """The row's cells cut to the column widths; unchanged cells keep their object."""
        cells = self._cells[key]
        out: list[Text] = []
        arrow = "→" if self._narrow else " → "
        for column_key, cell in zip(self._column_keys(), cells, strict=True):
            width = self._fit.get(column_key, cell.cell_len)
            if column_key == "versions":
                out.append(fit_versions(cell, width, arrow))
            else:
                out.append(fit_cell(cell, width))
        old = self._shown.get(key)
        if old is not None and len(old) == len(out):
            return tuple(o if o == c else c for o, c in zip(old, out, strict=True))
        return tuple(out)

    def _write_rows(self, keys: Sequence[str]) -> None:
        """Set the rows' cells without DataTable's update_cell, which would repaint
        the whole table for one cell; repaint only the rows that changed."""
        column_keys = self._column_keys()
        repaint: list[str] = []
        for key in keys:
            row = self._data.get(RowKey(key))
            if row is None:
                continue
            cells = self._fitted(key)
            if cells == self._shown.get(key) and all(
                row.get(ColumnKey(c)) is cell for c, cell in zip(column_keys, cells, strict=True)
            ):
                continue
            for column_key, cell in zip(column_keys, cells, strict=True):
                row[ColumnKey(column_key)] = cell
            self._shown[key] = cells
            repaint.append(key)
        if repaint:
            self._update_count += 1  # DataTable's own caches key on this
            # Off-screen rows are drawn when scrolled to (the count above makes them
            # anew); refresh_row's region costs a sort of every row each call.
            top = int(self.scroll_offset.y)
            bottom = top + (self.size.height or len(self._keys))
            for key in repaint:
                index = self.get_row_index(key)
                if top - 1 <= index <= bottom:
                    self.refresh_row(index)

    def _is_narrow(self) -> bool:
        width = self.size.width or (self.app.size.width if self.is_attached else 0)
        return 0 < width < NARROW_BELOW

    def on_resize(self) -> None:
        # Any width change re-fits the columns (not only the narrow/wide switch).
        if self._last is not None and self.size.width != self._shown_width:
            self._shown_width = self.size.width
            rollouts, now, show_cluster, verdicts = self._last
            self.show(rollouts, now, show_cluster=show_cluster, verdicts=verdicts)

    def _verdict_key(self, key: str) -> str:
        """What the verdict cell depends on: a new evaluation with the same outcome
        changes nothing on screen."""
        verdict = self._verdicts.get(key)
        return verdict.state.value if verdict is not None else ""

    def _column_keys(self) -> list[str]:
        return [key for key, _ in COLUMNS if self._show_cluster or key != "cluster"]

    def mark_sorted(self, column: str | None, descending: bool = False) -> None:
        """An arrow on the header of the column the rows are sorted by (k9s style)."""
        mark = (column, descending) if column else None
        if mark == self._sort_mark:
            return
        self._sort_mark = mark
        for key, label in COLUMNS:
            found = self.columns.get(ColumnKey(key))
            if found is not None:
                found.label = Text(self._label(key, label))
        self._fit = {}  # the header's width may have changed: the next show() re-fits
        self._update_count += 1
        self.refresh()

    def _label(self, key: str, label: str) -> str:
        if self._narrow and key == "namespace":
            label = "NS"
        if self._narrow and key == "verdict":
            label = NARROW_VERDICT_LABEL
        if self._sort_mark is not None and self._sort_mark[0] == key:
            label += "↓" if self._sort_mark[1] else "↑"
        return label

    def _rebuild_columns(self) -> None:
        self.clear(columns=True)
        self._keys = ()
        self._sources.clear()
        self._cells.clear()
        self._natural_w.clear()
        self._shown.clear()
        self._fit = {}
        for key, label in COLUMNS:
            if key == "cluster" and not self._show_cluster:
                continue
            self.add_column(self._label(key, label), key=key)

    def _row_cells(self, rollout: Rollout, age: str, colours: Palette) -> Cells:
        narrow = bool(self._narrow)
        cells: list[Text] = []
        if self._show_cluster:
            cells.append(Text(rollout.ref.cluster))
        namespace = rollout.ref.namespace
        if narrow and len(namespace) > _NARROW_NAMESPACE:
            namespace = namespace[: _NARROW_NAMESPACE - 1] + "…"
        cells.append(Text(namespace))
        name = Text(rollout.ref.name)
        if rollout.warnings:
            name = Text.assemble((f"{WARNING} ", colours.attention), rollout.ref.name)
        cells.append(name)
        cells.append(_phase_cell(rollout, colours, narrow=narrow))
        cells.append(verdict_cell(self._verdicts.get(rollout.ref.key), colours, narrow=narrow))
        cells.append(Text(rollout.step_label, justify="right"))
        if narrow:
            # The bar gave way to the verdict column: the numbers say the same.
            weight = Text(weight_bar(rollout.set_weight, rollout.actual_weight, 0).strip())
            weight.justify = "right"
            if rollout.set_weight != rollout.actual_weight:
                weight.stylize(colours.attention)
        else:
            weight = Text(weight_bar(rollout.set_weight, rollout.actual_weight, _BAR_CELLS))
            weight.stylize(colours.canary, 0, _BAR_CELLS)
            if rollout.set_weight != rollout.actual_weight:
                weight.stylize(colours.attention, _BAR_CELLS + 1)
        cells.append(weight)
        cells.append(_versions_cell(rollout, colours, arrow="→" if narrow else " → "))
        cells.append(Text(age, justify="right"))
        return tuple(cells)


def _age(rollout: Rollout, now: float) -> str:
    # kubectl's AGE (HumanDuration): seconds only under 10 minutes. Besides being
    # what operators read elsewhere, a list of 1,000 rollouts under an hour old
    # otherwise re-rendered every visible row every second.
    return human_duration(now - rollout.created_at) if rollout.created_at else "-"


def _phase_cell(rollout: Rollout, colours: Palette, *, narrow: bool = False) -> Text:
    styles = {
        Phase.HEALTHY: colours.success,
        Phase.PROGRESSING: colours.primary,
        Phase.PAUSED: colours.warning,
        Phase.DEGRADED: colours.error,
        Phase.UNKNOWN: colours.muted,
    }
    glyph = "✖" if rollout.aborted else PHASE_GLYPHS.get(rollout.phase, "?")
    style = colours.error if rollout.aborted else styles.get(rollout.phase, Style())
    # "Degraded (aborted)" is the widest cell of the table; narrow, "Aborted" says it.
    text = "Aborted" if narrow and rollout.aborted else rollout.status_text
    if rollout.phase is Phase.PAUSED and not rollout.aborted:
        text = pause_text(rollout, narrow=narrow)
    return Text(f"{glyph} {text}", style)


def pause_text(rollout: Rollout, *, narrow: bool = False) -> str:
    """A pause that ends by itself shows its countdown; one that waits for a human
    says who froze it or that it waits ("‖ 45s" vs "‖ waiting")."""
    if rollout.paused:
        if rollout.annotation(GUARD_PAUSED_AT) is not None:
            return "guard" if narrow else "Paused by guard"
        return "Paused"
    step = rollout.current
    if step is not None and step.kind is StepKind.PAUSE:
        if step.duration_s is not None:
            left = format_duration(rollout.pause_remaining_s)
            return left if narrow else f"Paused {left}"
        return "waiting" if narrow else "Paused, waiting"
    return "Paused"


def verdict_cell(verdict: Verdict | None, colours: Palette, *, narrow: bool = False) -> Text:
    """The guard's verdict: a symbol that reads without colour; "-" when none."""
    if verdict is None:
        return Text("-", colours.muted)
    state = verdict.state
    styles = {
        GateState.PASS: colours.success,
        GateState.FAIL: colours.error,
        GateState.INCONCLUSIVE: colours.warning,
        GateState.NO_DATA: colours.muted,
        GateState.STALE: colours.attention,
        GateState.ERROR: colours.attention,
    }
    word = "" if narrow else _VERDICT_WORDS[state]
    return Text(f"{state.symbol} {word}".strip(), styles[state])


def _versions_cell(rollout: Rollout, colours: Palette, *, arrow: str = " → ") -> Text:
    text = Text()
    _append_version(text, rollout.stable, colours.stable, colours)
    if rollout.canary is not None:
        text.append(arrow)
        _append_version(text, rollout.canary, colours.canary, colours)
    return text


def _append_version(text: Text, version: VersionInfo, style: Style, colours: Palette) -> None:
    if version.moving_image:
        text.append(WARNING, colours.attention)
    text.append(version.display, style)
