"""Kubernetes timestamps: RFC 3339 in UTC, written and read in one place."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def rfc3339(t: float | None = None) -> str:
    """metav1.Time: seconds, UTC ("2026-11-30T12:00:05Z"); now when `t` is None."""
    return datetime.fromtimestamp(time.time() if t is None else t, UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def micro_time(t: float) -> str:
    """metav1.MicroTime (Leases): RFC 3339 with microseconds."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_rfc3339(text: object) -> float | None:
    """Unix seconds of an RFC 3339 string; None when absent or not a timestamp."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
