"""k9s and vi scrolling for a screen whose body is one VerticalScroll."""

from __future__ import annotations

from textual.binding import Binding
from textual.containers import VerticalScroll

#: Bound on the screen: each calls `action_scroll(how)`, which passes to `scroll`.
SCROLL_BINDINGS = [
    Binding("j", "scroll('down')", "Down", show=False),
    Binding("k", "scroll('up')", "Up", show=False),
    Binding("g,home", "scroll('home')", "Top", show=False),
    Binding("G,end", "scroll('end')", "Bottom", show=False),
    Binding("ctrl+f,pagedown", "scroll('page_down')", "Page down", show=False),
    Binding("ctrl+b,pageup", "scroll('page_up')", "Page up", show=False),
]


def scroll(body: VerticalScroll, how: str) -> None:
    {
        "up": body.action_scroll_up,
        "down": body.action_scroll_down,
        "home": body.action_scroll_home,
        "end": body.action_scroll_end,
        "page_up": body.action_page_up,
        "page_down": body.action_page_down,
    }[how]()
