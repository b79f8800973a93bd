"""Theme colours for Rich text built in Python (table cells, charts).

CSS can say `$stable`, but Text built in Python cannot, so widgets read the
resolved theme variables here, with fallbacks for themes that are not ours.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from rich.style import Style
from textual.app import App
from textual.color import Color

# Okabe-Ito defaults, used when the active theme does not define our variables.
_FALLBACK = {
    "stable": "#56B4E9",
    "canary": "#E69F00",
    "attention": "#CC79A7",
    "success": "#009E73",
    "warning": "#F0E442",
    "error": "#E8684A",
    "primary": "#56B4E9",
}


@dataclass(frozen=True)
class Palette:
    """Resolved colours of one theme; `name` keys caches of rendered text."""

    name: str
    stable: Style
    canary: Style
    attention: Style
    success: Style
    warning: Style
    error: Style
    primary: Style
    muted: Style


def _style(variables: dict[str, str], key: str, *, bold: bool = False) -> Style:
    value = variables.get(key) or _FALLBACK[key]
    try:
        # Textual's parser: themes may use syntaxes Rich does not (alpha, "ansi_blue").
        color = Color.parse(value).rich_color
    except Exception:
        color = Color.parse(_FALLBACK[key]).rich_color
    return Style(color=color, bold=bold or None)


_KEYS = tuple(_FALLBACK)


def palette(app: App[Any]) -> Palette:
    """The palette of the app's current theme (memoised: called per repaint)."""
    variables = dict(app.theme_variables) if app.theme_variables else {}
    variables.update(app.current_theme.variables)
    return _palette(app.theme, tuple(variables.get(key, "") for key in _KEYS))


@functools.lru_cache(maxsize=16)
def _palette(name: str, values: tuple[str, ...]) -> Palette:
    variables = {key: value for key, value in zip(_KEYS, values, strict=True) if value}
    return Palette(
        name=name,
        stable=_style(variables, "stable"),
        canary=_style(variables, "canary"),
        attention=_style(variables, "attention", bold=True),
        success=_style(variables, "success"),
        warning=_style(variables, "warning"),
        error=_style(variables, "error", bold=True),
        primary=_style(variables, "primary"),
        muted=Style(dim=True),
    )
