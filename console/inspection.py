"""What a backend can show about one rollout beyond the list: tree, YAML, describe, logs.

An optional capability next to RolloutsBackend (console/backend.py): the demo and
the Kubernetes backend have it; a backend without it makes the screens say so in
one sentence. Blocking calls: the screens run them in thread workers. `tree` is
the exception, it reads what the backend's watch already holds (no I/O).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from console.model import Role, RolloutRef
from console.tree import RolloutTree


@dataclass(frozen=True)
class LogTarget:
    """A pod of one side of the canary, and its containers (first = the default)."""

    role: Role
    pod: str
    containers: tuple[str, ...]


@runtime_checkable
class Inspector(Protocol):
    def tree(self, ref: RolloutRef) -> RolloutTree | None:
        """The rollout tree from what the watch holds; None when the rollout is unknown."""
        ...

    def manifest(self, ref: RolloutRef) -> str:
        """The object as YAML, read fresh. Raises ConsoleError (one sentence)."""
        ...

    def describe(self, ref: RolloutRef) -> str:
        """The object's conditions and Events, as `kubectl describe` lists them.

        Raises ConsoleError (one sentence)."""
        ...

    def log_targets(self, ref: RolloutRef) -> list[LogTarget]:
        """Pods whose logs can be asked for: canary pods first, then stable."""
        ...

    def logs(
        self, ref: RolloutRef, pod: str, container: str, stop: threading.Event
    ) -> Iterator[str]:
        """Clean log lines, followed until `stop` is set or the stream ends.

        Raises ConsoleError with one sentence when the logs are unavailable."""
        ...


def inspector_of(backend: object) -> Inspector | None:
    return backend if isinstance(backend, Inspector) else None


#: What a screen says when the backend has no such capability.
NOT_SUPPORTED = "This backend cannot show {what}."
