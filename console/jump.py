"""The `:` command of the list, k9s style: `:ns NAME` / `:ctx NAME` jump the view
to one namespace or context, `:ns all` / `:ctx all` back to every one.

Pure parsing and completion (no textual): the screen applies the result.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: Alias -> what it jumps on. `ctrl+a` lists these (k9s' aliases view).
ALIASES: dict[str, str] = {
    "ns": "namespace",
    "namespace": "namespace",
    "ctx": "context",
    "context": "context",
}
ALL = "all"


@dataclass(frozen=True)
class Scope:
    """What the list shows: one namespace and/or one context; None = all."""

    namespace: str | None = None
    context: str | None = None

    def admits(self, cluster: str, namespace: str) -> bool:
        return (self.namespace is None or namespace == self.namespace) and (
            self.context is None or cluster == self.context
        )

    @property
    def text(self) -> str:
        parts = []
        if self.context is not None:
            parts.append(f"ctx {self.context}")
        if self.namespace is not None:
            parts.append(f"ns {self.namespace}")
        return "  ".join(parts)


class JumpError(ValueError):
    """One sentence for the operator."""


def apply(scope: Scope, command: str, contexts: Iterable[str], namespaces: Iterable[str]) -> Scope:
    """The scope after `command` (without the colon). Raises JumpError."""
    words = command.split()
    if not words:
        return scope
    kind = ALIASES.get(words[0].lower())
    if kind is None:
        raise JumpError(
            f"Unknown command {words[0]!r}: try ns NAME or ctx NAME (ctrl+a lists them)."
        )
    known = sorted(set(contexts if kind == "context" else namespaces))
    target = words[1] if len(words) > 1 else ALL
    if target == ALL:
        value = None
    elif target in known:
        value = target
    else:
        raise JumpError(f"No {kind} {target!r} here; known: {', '.join(known) or 'none'}.")
    if kind == "context":
        return Scope(namespace=scope.namespace, context=value)
    return Scope(namespace=value, context=scope.context)


def completions(contexts: Iterable[str], namespaces: Iterable[str]) -> list[str]:
    """Every full command, for the input's completion (first match wins: short aliases)."""
    out = [f"ns {n}" for n in sorted(set(namespaces))] + ["ns all"]
    out += [f"ctx {c}" for c in sorted(set(contexts))] + ["ctx all"]
    out += [f"namespace {n}" for n in sorted(set(namespaces))]
    out += [f"context {c}" for c in sorted(set(contexts))]
    return out
