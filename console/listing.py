"""Filtering and ordering of the rollout list (pure, unit-tested)."""

from __future__ import annotations

from collections.abc import Iterable

from console.model import Rollout


def matches(rollout: Rollout, query: str) -> bool:
    """Every whitespace-separated word must appear in some field (k9s-style)."""
    haystack = " ".join(
        [
            rollout.ref.cluster,
            rollout.ref.namespace,
            rollout.ref.name,
            rollout.phase.value,
            "aborted" if rollout.aborted else "",
            rollout.provider.value,
            rollout.stable.display,
            rollout.canary.display if rollout.canary else "",
        ]
    ).lower()
    return all(word in haystack for word in query.lower().split())


def ordered(rollouts: Iterable[Rollout], query: str = "") -> list[Rollout]:
    """Needs-attention first, then by namespace and name (stable across refreshes)."""
    chosen = [r for r in rollouts if not query or matches(r, query)]
    chosen.sort(key=lambda r: (-r.attention, r.ref.cluster, r.ref.namespace, r.ref.name))
    return chosen
