"""The escape-injection set: hostile text and the check that none of it survived."""

from __future__ import annotations

import unicodedata

#: The report's exact payload (issue 9): clear the screen, turn red, retitle the pane.
REPRO = "\x1b[2J\x1b[31mmallory\x1b]0;pwned\x07"
#: An OSC title ended by ST (ESC \) instead of BEL.
OSC_ST = "\x1b]2;owned\x1b\\"
#: C1 controls: 8-bit CSI and OSC.
C1 = "\x9b2J\x9d0;c1\x9c"
#: Right-to-left override: "2.13.0-gpu" would read backwards after it.
RLO = "\u202e"
#: Rich/Textual markup that must show as typed.
MARKUP = "[red]x[/]"

#: Embeddings, overrides and pop (U+202A-E), isolates (U+2066-9), marks (LRM, RLM, ALM).
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
BIDI_CONTROLS |= frozenset("\u200e\u200f\u061c")


def assert_terminal_safe(text: str, *, newlines: bool = False) -> None:
    """No character a terminal would act on: controls, C1, bidi, line separators."""
    for ch in text:
        if newlines and ch == "\n":
            continue
        assert unicodedata.category(ch) not in ("Cc", "Zl", "Zp"), f"{ch!r} in {text!r}"
        assert ch not in BIDI_CONTROLS, f"{ch!r} in {text!r}"
