"""`y` and `d`: the rollout's object as YAML, or described (conditions and Events).

Read-only and scrollable. The text is read in a thread worker (a GET, and the
events list for describe) and comes back as a typed message; it is shown as
plain Text, never as markup, and was made clean by the backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from console.inspection import NOT_SUPPORTED, inspector_of
from console.model import ConsoleError, RolloutRef
from console.screens.scrolling import SCROLL_BINDINGS, scroll
from console.untrusted import clean, clean_line, clip
from widgets.key_footer import KeyFooter

View = Literal["yaml", "describe"]
_TITLES: dict[View, str] = {"yaml": "YAML", "describe": "describe"}


@dataclass
class ObjectLoaded(Message):
    view: str
    text: str
    error: str = ""  # one sentence when the text could not be read


class ObjectViewScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("down", "scroll('down')", show=False),
        Binding("up", "scroll('up')", show=False),
        Binding("space", "scroll('page_down')", show=False),
        *SCROLL_BINDINGS,
    ]
    DEFAULT_CSS = """
    ObjectViewScreen #object-title { height: 1; text-style: bold; }
    ObjectViewScreen #object-body { height: 1fr; }
    """

    def __init__(self, ref: RolloutRef, view: View) -> None:
        super().__init__()
        self.ref = ref
        self.view = view
        self.loaded = False
        self.error = ""
        self.text = ""  # the shown text, plain (for tests)

    def compose(self) -> ComposeResult:
        yield Static(
            Text(f"{_TITLES[self.view]}: {self.ref.short}  @{self.ref.cluster}"),
            id="object-title",
        )
        with VerticalScroll(id="object-body"):
            yield Static(Text("loading…", style="dim"), id="object-text")
        yield KeyFooter(priority=("back", "quit", "help"))

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="object-view")
    def load(self) -> None:
        inspector = inspector_of(self.app.backend)  # type: ignore[attr-defined]
        what = "YAML" if self.view == "yaml" else "a description"
        if inspector is None:
            self.post_message(ObjectLoaded(self.view, "", NOT_SUPPORTED.format(what=what)))
            return
        try:
            if self.view == "yaml":
                text = inspector.manifest(self.ref)
            else:
                text = inspector.describe(self.ref)
        except ConsoleError as exc:
            self.post_message(ObjectLoaded(self.view, "", str(exc)))
        except Exception as exc:  # a backend bug must not kill the app
            error = f"Reading {what} failed: {clip(clean_line(str(exc)))}"
            self.post_message(ObjectLoaded(self.view, "", error))
        else:
            self.post_message(ObjectLoaded(self.view, clean(text)))

    def on_object_loaded(self, message: ObjectLoaded) -> None:
        self.loaded = True
        self.error = message.error
        self.text = message.error or message.text
        body = self.query_one("#object-text", Static)
        body.update(Text(self.text, style="bold" if message.error else ""))

    def action_scroll(self, how: str) -> None:
        scroll(self.query_one("#object-body", VerticalScroll), how)

    def action_back(self) -> None:
        self.app.pop_screen()
