"""The rollouts list: what needs attention first, `/` to filter, enter to open."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.suggester import SuggestFromList
from textual.widgets import DataTable, Input

from console.jump import JumpError, Scope, apply, completions
from console.listing import SORTS, SortOrder, StickyRanks, ordered
from console.model import Rollout
from console.screens.actions import FOOTER_PRIORITY, ActionScreen
from console.screens.status_line import StatusLine, status_line
from widgets.key_footer import KeyFooter
from widgets.rollout_table import RolloutTable


class FilterBox(Input):
    """The filter input. Enter hands focus back to the table at once."""

    async def action_submit(self) -> None:
        await super().action_submit()
        # Now, not when Submitted is handled: in a burst ("/yolo⏎⏎" over SSH) the
        # next enter is resolved against whatever has focus when it bubbles up.
        self.screen.focus_next()


class RolloutListScreen(ActionScreen):
    # Textual focuses this on every resume; a manual focus() in on_mount would
    # be deferred and could steal focus from the filter box typed into at once.
    AUTO_FOCUS = "RolloutTable"
    BINDINGS = [
        # Priority: resolved before later keys of the same read are forwarded, so
        # "/yolo" typed in one burst (over SSH, pasted) all lands in the filter.
        Binding("slash", "filter", "Filter", key_display="/", priority=True),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("enter", "open", "Open", show=False),
        # k9s: shift+column letter sorts, again turns the direction. A (promote
        # --full), R (retry) and G (last row) are taken: STEP is P, AGE is O (oldest).
        Binding("N", "sort('name')", "Sort by name", show=False),
        Binding("S", "sort('status')", "Sort by status", show=False),
        Binding("P", "sort('step')", "Sort by step", show=False),
        Binding("W", "sort('weight')", "Sort by weight", show=False),
        Binding("O", "sort('age')", "Sort by age", show=False),
        Binding("D", "sort('')", "Default order", show=False),
        # k9s: `:ns NAME`, `:ctx NAME` jump; ctrl+a lists the aliases.
        Binding("colon", "jump", "Jump", key_display=":", show=False),
        Binding("ctrl+a", "aliases", "Aliases", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.query_text = ""
        self.ranks = StickyRanks()
        #: None: the default, needs-attention-first order.
        self.sort: SortOrder | None = None
        self.scope = Scope()
        self._filter_pending = False

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status", classes="status-line")
        # select_on_focus would select the first typed letter and the next would replace it.
        yield FilterBox(
            placeholder="filter: words match namespace, name, phase, version",
            id="filter",
            select_on_focus=False,
        )
        yield Input(placeholder=":ns NAME  :ctx NAME  (all = every one; → completes)", id="jump")
        yield RolloutTable(id="rollouts")
        yield KeyFooter(priority=FOOTER_PRIORITY)

    def on_mount(self) -> None:
        self.redraw()

    @property
    def table(self) -> RolloutTable:
        return self.query_one(RolloutTable)

    def shown_rollouts(self) -> list[Rollout]:
        store = self.app.store  # type: ignore[attr-defined]
        self.ranks.forget_except(store.rollouts)
        scope = self.scope
        return ordered(
            (r for r in store.rollouts.values() if scope.admits(r.ref.cluster, r.ref.namespace)),
            self.query_text,
            store.verdicts,
            ranks=self.ranks,
            now=self.app.clock(),  # type: ignore[attr-defined]
            sort=self.sort,
        )

    def redraw(self) -> None:
        store = self.app.store  # type: ignore[attr-defined]
        rows = self.shown_rollouts()
        clusters = {r.ref.cluster for r in store.rollouts.values()}
        self.table.show(
            rows,
            self.app.clock(),  # type: ignore[attr-defined]
            show_cluster=len(clusters) > 1,
            verdicts=store.verdicts,
        )
        self._show_status()
        self.refresh_bindings_if_changed()

    def on_screen_resume(self) -> None:
        # Back from the detail view: the store moved on while this screen was hidden
        # (the app redraws only the screen on top), so draw it from the store now.
        self.redraw()

    def tick(self) -> None:
        self.table.tick(self.app.clock())  # type: ignore[attr-defined]
        self._show_status()

    def _show_status(self) -> None:
        store = self.app.store  # type: ignore[attr-defined]
        shown = len(self.table.rows)
        total = len(store.rollouts)
        narrowed = self.query_text or self.scope.text
        counts = f"{shown} of {total} rollouts" if narrowed else f"{total} rollouts"
        flt = f"  filter: {self.query_text}" if self.query_text else ""
        if self.scope.text:
            flt += f"  {self.scope.text}"
        if self.sort is not None:
            flt += f"  sorted by {self.sort.column} {'↓' if self.sort.descending else '↑'}"
        self.query_one("#status", StatusLine).show(
            status_line(self.app, f"{counts}{flt}")  # type: ignore[arg-type]
        )

    def target(self) -> Rollout | None:
        # "/yolo⏎⏎" in one burst: the second enter opens what the filter leaves.
        self._apply_filter()
        key = self.table.selected_key
        if key is None:
            return None
        return self.app.store.rollouts.get(key)  # type: ignore[attr-defined, no-any-return]

    def metrics_keys(self) -> list[str]:
        return []

    # --- keys -------------------------------------------------------------------

    def action_sort(self, column: str) -> None:
        if not column:
            self.sort = None
            # The default order starts afresh: no rank held from before the sort.
            self.ranks = StickyRanks()
        elif self.sort is None:
            self.sort = SortOrder(column)
        else:
            self.sort = self.sort.toggled(column)
        marked = SORTS[self.sort.column][0] if self.sort is not None else None
        self.table.mark_sorted(marked, self.sort.descending if self.sort else False)
        self.redraw()

    def _known(self) -> tuple[set[str], set[str]]:
        rollouts = self.app.store.rollouts.values()  # type: ignore[attr-defined]
        return {r.ref.cluster for r in rollouts}, {r.ref.namespace for r in rollouts}

    def action_jump(self) -> None:
        box = self.query_one("#jump", Input)
        contexts, namespaces = self._known()
        box.suggester = SuggestFromList(completions(contexts, namespaces), case_sensitive=False)
        box.value = ""
        box.display = True
        self.set_focus(box)

    def action_aliases(self) -> None:
        from console.screens.aliases import AliasesScreen

        self.app.push_screen(AliasesScreen())

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        # Synchronous, unlike focus(): keys typed right after "/" must land here.
        self.set_focus(box)

    def action_clear_filter(self) -> None:
        self.query_one("#jump", Input).display = False
        box = self.query_one("#filter", Input)
        box.value = ""
        box.display = False
        self.query_text = ""
        self.ranks = StickyRanks()
        self.set_focus(self.table)
        self.redraw()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "jump":
            return
        self.query_text = event.value.strip()
        # The list follows after the box has shown the key: filtering 1,000 rows and
        # repainting the table takes longer than a key, and done here it held every
        # key back (1-2 s under churn). Keys typed meanwhile share one redraw.
        if not self._filter_pending:
            self._filter_pending = True
            self.call_after_refresh(self._apply_filter)

    def _apply_filter(self) -> None:
        if self._filter_pending:
            self._filter_pending = False
            self.redraw()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "jump":
            self._jump(event.input)
            return
        self._filter_submitted(event)

    def _jump(self, box: Input) -> None:
        box.display = False
        self.set_focus(self.table)
        contexts, namespaces = self._known()
        try:
            self.scope = apply(self.scope, box.value.lstrip(":"), contexts, namespaces)
        except JumpError as exc:
            self.app.say(str(exc), severity="warning")  # type: ignore[attr-defined]
            return
        self.ranks = StickyRanks()
        self.redraw()

    def _filter_submitted(self, event: Input.Submitted) -> None:
        self._apply_filter()
        # Keep the filter, go back to the table; an empty filter hides the box.
        if not event.value.strip():
            event.input.display = False
        self.set_focus(self.table)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.refresh_bindings_if_changed()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        rollout = self.target()
        if rollout is not None:
            from console.screens.rollout_detail import RolloutDetailScreen

            self.app.push_screen(RolloutDetailScreen(rollout.ref.key))
