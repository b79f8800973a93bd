"""Kubernetes timestamps: RFC 3339 in UTC, written and read in one place, and ages
shown as kubectl shows them."""

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


def human_duration(seconds: float) -> str:
    """Kubernetes' HumanDuration (the plugin's AGE column): 45s, 3m10s, 15m, 5h30m, 3d."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"
