"""The two interfaces every data source implements.

The UI talks only to these. The demo cluster, Kubernetes (Argo Rollouts,
mesh-weighted canaries, Flagger) and Prometheus all sit behind them, so the
app never knows which one it is talking to.

Both are blocking APIs: the app calls them from Textual thread workers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol, runtime_checkable

from console.model import (
    Action,
    ActionError,
    ActionResult,
    ActionUnavailable,
    Rollout,
    RolloutMetrics,
    RolloutRef,
    Seen,
    StreamEvent,
)


@runtime_checkable
class RolloutsBackend(Protocol):
    """List, change stream, and actions."""

    #: Shown in the header: "demo", "kube: ctx-a, ctx-b".
    description: str
    read_only: bool

    def list(self) -> list[Rollout]:
        """The current rollouts. Raises ConsoleError with one clear sentence."""
        ...

    def watch(self, stop: threading.Event) -> Iterator[StreamEvent]:
        """Blocking stream of changes until `stop` is set.

        Starts with a Snapshot. Never raises for connection trouble: it yields
        ConnectionState(connected=False, ...) and keeps retrying with backoff.
        """
        ...

    def act(
        self, ref: RolloutRef, action: Action, *, note: str = "", seen: Seen | None = None
    ) -> ActionResult:
        """Carry out one action. Raises ActionError (one sentence) on failure.

        `note` says why (the guard's evidence); it goes into the Event and the audit line.
        `seen` is what the operator saw: an advance from a step the rollout has left is
        refused (see check_seen).
        """
        ...

    def annotate(self, ref: RolloutRef, changes: Mapping[str, str | None]) -> None:
        """Set (or, for None, remove) annotations on the rollout's object.

        Only the guard's leader calls this, for its own rollout-console.io/ records;
        a JSON merge patch of metadata.annotations. Raises ConsoleError (one sentence).
        """
        ...


@runtime_checkable
class OwedWrites(Protocol):
    """A backend whose actions can leave a write owed for later (Flagger: reset
    spec.skipAnalysis once the promotion the console started has ended).

    Watching never writes: only the guard's leader calls this, once per evaluation,
    so one process in the cluster does it however many consoles are open.
    """

    def finish_owed_writes(self) -> list[str]:
        """Carry out what is owed; returns one sentence per write made."""
        ...


@runtime_checkable
class MetricsSource(Protocol):
    """Per-version series for a set of rollouts."""

    description: str

    def fetch(
        self, rollouts: Sequence[Rollout], window_s: float, step_s: float
    ) -> dict[str, RolloutMetrics]:
        """Series for each rollout, keyed by RolloutRef.key.

        Never raises for source trouble: each RolloutMetrics carries its
        state (OK, NO_DATA, UNAVAILABLE) and a reason.
        """
        ...


def refuse_if_read_only(backend: RolloutsBackend, ref: RolloutRef, action: Action) -> None:
    """Backends call this first: read-only is enforced below the UI too."""
    if backend.read_only:
        raise ActionUnavailable(ref, action, f"{action.value} refused: the console is read-only.")


def check_seen(rollout: Rollout, action: Action, seen: Seen | None) -> None:
    """Refuse an advance when the rollout is no longer where the operator saw it."""
    if seen is None or action is not Action.ADVANCE:
        return
    where = f"step {rollout.step_label}" if rollout.steps else f"{rollout.set_weight}%"
    if seen.step is not None and rollout.current_step != seen.step:
        raise ActionError(
            rollout.ref,
            action,
            f"advance refused: {rollout.ref.short} is already at {where}, not step "
            f"{seen.step}/{len(rollout.steps)} as shown; press again to advance from there.",
        )
    if seen.weight is not None and rollout.set_weight != seen.weight:
        raise ActionError(
            rollout.ref,
            action,
            f"advance refused: {rollout.ref.short} already sends {rollout.set_weight}% to the "
            f"canary, not {seen.weight}% as shown; press again to advance from there.",
        )


def check_available(rollout: Rollout, action: Action) -> None:
    if (action is Action.PAUSE and rollout.paused) or (
        action is Action.RESUME and not rollout.paused
    ):
        # Repeated pause or resume is idempotent: the provider reads the object and
        # answers "already paused" (exit 0); the footer still hides the key.
        return
    reason = rollout.why_unavailable(action)
    if reason:
        raise ActionUnavailable(rollout.ref, action, f"{action.value} is unavailable: {reason}")
