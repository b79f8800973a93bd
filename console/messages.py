"""Typed messages that workers post to the app; workers never touch widgets."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from console.guard.loop import GuardReport
from console.guard.verdicts import GuardStatus
from console.model import Action, ActionResult, RolloutMetrics, RolloutRef, StreamEvent


@dataclass
class StreamReceived(Message):
    events: list[StreamEvent]


@dataclass
class MetricsFetched(Message):
    metrics: dict[str, RolloutMetrics]


@dataclass
class ActionFinished(Message):
    ref: RolloutRef
    action: Action
    result: ActionResult | None
    error: str = ""  # one sentence when result is None


@dataclass
class GuardEvaluated(Message):
    """One evaluation of the guard running in this console."""

    report: GuardReport
    status: GuardStatus


@dataclass
class GuardFailed(Message):
    error: str  # one sentence


@dataclass
class GuardStatusFetched(Message):
    """Whether a guard (in-cluster) holds each cluster's Lease."""

    statuses: list[GuardStatus]
