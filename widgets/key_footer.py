"""A footer that shows the keys that fit, most important first, and never half a key.

Textual's Footer lays every key out and lets the right end fall off: at 80
columns Undo, Help and Quit vanish, and a key can be cut mid-word. Here each
key is whole or absent; which ones stay is decided by `priority` (action names,
most important first), and they are shown in their usual order.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

#: Cells a key takes in the non-compact style: " k " + "Description ".
_KEY_PADDING = 3
#: The command palette key is docked right with a border and padding.
_PALETTE_EXTRA = 4


def key_width(key_display: str, description: str) -> int:
    return len(key_display) + _KEY_PADDING + len(description)


def fitting(keys: Sequence[tuple[str, int]], priority: Sequence[str], width: int) -> list[int]:
    """Indexes of the keys to show: (action, cells) pairs, in display order.

    Keys are taken in priority order (unlisted ones after, in display order) while
    they fit; the result keeps display order.
    """
    rank = {action: i for i, action in enumerate(priority)}
    order = sorted(range(len(keys)), key=lambda i: (rank.get(keys[i][0], len(rank)), i))
    chosen: list[int] = []
    used = 0
    for i in order:
        cells = keys[i][1]
        if used + cells <= width:
            chosen.append(i)
            used += cells
    return sorted(chosen)


class KeyFooter(Footer):
    def __init__(self, priority: Sequence[str] = (), **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.priority = tuple(priority)
        self._width = 0
        #: Action names shown at the last compose (tests read it).
        self.shown: tuple[str, ...] = ()

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        active = self.screen.active_bindings
        seen: set[str] = set()
        entries: list[tuple[Binding, bool, str]] = []
        for _node, binding, enabled, tooltip in active.values():
            if binding.show and binding.action not in seen:
                seen.add(binding.action)
                entries.append((binding, enabled, tooltip))
        palette: tuple[Binding, bool, str] | None = None
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            found = active.get(self.app.COMMAND_PALETTE_BINDING)
            if found is not None:
                palette = (found.binding, found.enabled, found.tooltip)
        width = self.size.width
        if palette is not None:
            display = self.app.get_key_display(palette[0])
            width -= key_width(display, palette[0].description) + _PALETTE_EXTRA
        sizes = [
            (b.action, key_width(self.app.get_key_display(b), b.description)) for b, _, _ in entries
        ]
        chosen = fitting(sizes, self.priority, width)
        self.shown = tuple(entries[i][0].action for i in chosen)
        for i in chosen:
            binding, enabled, tooltip = entries[i]
            key = FooterKey(
                binding.key,
                self.app.get_key_display(binding),
                binding.description,
                binding.action,
                disabled=not enabled,
                tooltip=tooltip,
            )
            # Not data_bind(compact=Footer.compact), as Textual's Footer does: that
            # registers a watcher on this footer which outlives the key, and every
            # recompose (each focus change) then kept ~40 dead keys alive: 1 MB a
            # filter session in the soak.
            key.set_reactive(FooterKey.compact, self.compact)
            yield key
        if palette is not None and width >= 0:
            binding, enabled, tooltip = palette
            yield FooterKey(
                binding.key,
                self.app.get_key_display(binding),
                binding.description,
                binding.action,
                classes="-command-palette",
                disabled=not enabled,
                tooltip=binding.tooltip or binding.description,
            )

    def watch_compact(self, compact: bool) -> None:
        for key in self.query(FooterKey):
            if not key.has_class("-command-palette"):
                key.compact = compact

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._width:
            self._width = event.size.width
            if self._bindings_ready:
                self.call_after_refresh(self.recompose)
