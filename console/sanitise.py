"""Untrusted text (annotations, Events, PromQL from a ConfigMap) made safe to show and log.

Everything read from a cluster or Prometheus may carry terminal escapes, bidi
overrides or newlines meant to forge a log line. `clean` keeps printable text
only, on one line, bounded in length.
"""

from __future__ import annotations

import unicodedata

#: Longest value kept; longer ones end in "…".
DEFAULT_LIMIT = 512


def clean(text: object, limit: int = DEFAULT_LIMIT) -> str:
    """One printable line: control and format characters (escapes, bidi) become spaces."""
    out: list[str] = []
    for ch in str(text):
        if ch.isprintable() and unicodedata.category(ch) not in ("Cf", "Co", "Cs"):
            out.append(ch)
        else:
            out.append(" ")
    line = "".join(out).strip()
    if len(line) > limit:
        line = line[: max(0, limit - 1)] + "…"
    return line
