"""The console's themes: dark (default), light for projectors, and high contrast.

Every theme defines `$stable`, `$canary` and `$attention` so widgets follow the
theme. Stable and canary colours are colour-blind safe pairs (Okabe-Ito blue
against orange, or cyan against yellow), and widgets always pair them with a
letter or glyph as well, so colour is never the only signal.
"""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.theme import Theme

DARK = "rollout-dark"
LIGHT = "rollout-light"
HIGH_CONTRAST = "rollout-high-contrast"
DEFAULT_THEME = DARK

# Fallbacks for themes that are not ours (e.g. a built-in picked from the
# command palette): without them any CSS that mentions $stable fails to parse.
VARIABLE_DEFAULTS: dict[str, str] = {
    "stable": "#56B4E9",
    "canary": "#E69F00",
    "attention": "#CC79A7",
}

THEMES: tuple[Theme, ...] = (
    Theme(
        name=DARK,
        # Okabe-Ito sky blue rather than #0072B2: the darker blue is 3.6:1 on
        # this background, too faint for text; sky blue is 8:1 and stays
        # distinguishable from orange for every common colour-vision deficiency.
        primary="#56B4E9",
        secondary="#0072B2",
        accent="#E69F00",
        warning="#F0E442",
        error="#E8684A",
        success="#009E73",
        foreground="#E6E6E6",
        background="#121417",
        surface="#1A1D21",
        panel="#23272E",
        dark=True,
        variables={
            "stable": "#56B4E9",
            "canary": "#E69F00",
            "attention": "#CC79A7",
            "footer-key-foreground": "#E69F00",
        },
    ),
    Theme(
        name=LIGHT,
        # Projectors wash out pale colours: every accent here is ≥ 4.5:1 on white,
        # so the Okabe-Ito orange is darkened to a brown-orange of the same hue.
        primary="#0072B2",
        secondary="#005A8C",
        accent="#A35200",
        warning="#8A6D00",
        error="#B3261E",
        success="#00734F",
        foreground="#1A1A1A",
        background="#FFFFFF",
        surface="#F4F4F2",
        panel="#E6E6E3",
        dark=False,
        variables={
            "stable": "#0072B2",
            "canary": "#A35200",
            "attention": "#882255",
            "footer-key-foreground": "#0072B2",
        },
    ),
    Theme(
        name=HIGH_CONTRAST,
        primary="#00FFFF",
        secondary="#FFFFFF",
        accent="#FFFF00",
        warning="#FFFF00",
        error="#FF5555",
        success="#00FF00",
        foreground="#FFFFFF",
        background="#000000",
        surface="#000000",
        panel="#1C1C1C",
        boost="#FFFFFF",
        dark=True,
        # No alpha blending: pale blends are what high contrast must avoid.
        luminosity_spread=0.0,
        text_alpha=1.0,
        variables={
            "stable": "#00FFFF",
            "canary": "#FFFF00",
            "attention": "#FF00FF",
            "footer-key-foreground": "#FFFF00",
        },
    ),
)


def register_themes(app: App[Any]) -> None:
    """Register every console theme with `app` (does not switch to one)."""
    for theme in THEMES:
        app.register_theme(theme)
