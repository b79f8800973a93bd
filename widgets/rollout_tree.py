"""The rollout tree as `kubectl argo rollouts get rollout` prints it: draws only.

Rows come from console.tree (the plugin's symbols and columns); this widget lays
them out in aligned columns and colours symbols and tags the way the plugin does
(green ✔ and stable, yellow canary, blue ◌ and preview, red ✖ ⚠). Status words are
always written out, so colour never carries meaning alone.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from console.tree import HEADER, TONE, RolloutTree, tree_rows, tree_text
from widgets._palette import Palette, palette


class RolloutTreeView(Widget):
    DEFAULT_CSS = """
    RolloutTreeView {
        height: auto;
        width: 1fr;
    }
    """

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._tree: RolloutTree | None = None
        self._now = 0.0
        self._note = "tree: waiting for the cluster…"
        self._plain = ""

    def show(self, tree: RolloutTree | None, now: float, note: str = "") -> None:
        """Redraw only when the drawn text changes (ages move once a second at most)."""
        plain = tree_text(tree, now) if tree is not None else note
        if plain == self._plain and tree == self._tree:
            return
        self._tree, self._now, self._note, self._plain = tree, now, note, plain
        self.refresh(layout=True)

    @property
    def text(self) -> str:
        """What is drawn, without styles (for tests and screen readers)."""
        return self._plain

    def render(self) -> RenderResult:
        if self._tree is None:
            return Text(self._note, style="dim")
        return render_tree(self._tree, self._now, palette(self.app))


def _cells(tree: RolloutTree, now: float) -> list[tuple[str, str, str, str, str]]:
    return [
        (
            f"{r.prefix}{r.kind_icon} {r.name}",
            r.kind,
            f"{r.status_icon} {r.status}" if r.status else "",
            r.age,
            r.info,
        )
        for r in tree_rows(tree, now)
    ]


def _widths(rows: list[tuple[str, str, str, str, str]]) -> list[int]:
    return [max(len(row[i]) for row in [HEADER, *rows]) for i in range(4)]


def _tone(p: Palette, tone: str) -> Style:
    return {
        "ok": p.success,
        "bad": p.error,
        "warning": p.warning,
        "progress": p.primary,
    }.get(tone, Style())


def _tag_style(p: Palette, tag: str) -> Style:
    return {
        "stable": p.stable,
        "active": p.stable,
        "canary": p.canary,
        "preview": p.primary,
    }.get(tag, Style())


def render_tree(tree: RolloutTree, now: float, p: Palette) -> Text:
    rows = tree_rows(tree, now)
    cells = _cells(tree, now)
    widths = _widths(cells)
    out = Text(no_wrap=True, overflow="ellipsis")
    out.append("  ".join(h.ljust(widths[i]) for i, h in enumerate(HEADER[:4])), style="bold")
    out.append(f"  {HEADER[4]}", style="bold")
    for row, cell in zip(rows, cells, strict=True):
        out.append("\n")
        name_style = _tag_style(p, row.tags[0]) if row.tags else Style()
        out.append(row.prefix, style=p.muted)
        out.append(f"{row.kind_icon} ")
        out.append(row.name, style=name_style)
        out.append(" " * (widths[0] - len(cell[0]) + 2))
        out.append(cell[1].ljust(widths[1] + 2))
        if row.status:
            out.append(row.status_icon, style=_tone(p, TONE.get(row.status_icon, "")))
            out.append(f" {row.status}")
        out.append(" " * (widths[2] - len(cell[2]) + 2))
        out.append(cell[3].ljust(widths[3] + 2))
        for i, part in enumerate(row.info.split(",") if row.info else []):
            if i:
                out.append(",")
            out.append(part, style=_tag_style(p, part))
    return out
