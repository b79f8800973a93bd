"""Number formatting shared by the summary table and the chart axes."""

from __future__ import annotations


def fmt_value(value: float) -> str:
    """Compact label: at most ~5 characters for values a console shows."""
    magnitude = abs(value)
    if magnitude >= 10_000:
        text = f"{value / 1000:.0f}k"
    elif magnitude >= 1000:
        text = f"{value / 1000:.1f}k"
    elif magnitude >= 100:
        text = f"{value:.0f}"
    elif magnitude >= 10:
        text = f"{value:.1f}"
    elif magnitude >= 1:
        text = f"{value:.2f}"
    elif magnitude == 0:
        return "0"
    else:
        text = f"{value:.2g}"
    if "." in text and "e" not in text:
        head, _, tail = text.partition(".")
        suffix = "k" if tail.endswith("k") else ""
        tail = tail.removesuffix("k").rstrip("0")
        text = f"{head}.{tail}{suffix}" if tail else f"{head}{suffix}"
    return text
