"""Record every console action as a Kubernetes Event on the object it changed.

`kubectl describe rollout X` and `kubectl get events` then show who pressed
which key, with the state before and after. Failing to write the Event never
fails the action (it already happened); the caller notes it instead.
"""

from __future__ import annotations

import socket
from typing import Any

from console.kube.provider import KubeApi, Obj, ResourceType, dig, meta
from console.model import Action
from console.timestamps import rfc3339
from console.untrusted import clean_line, clip

EVENTS = ResourceType("", "v1", "events", "Event")
COMPONENT = "rollout-console"

_REASONS = {
    Action.ADVANCE: "RolloutConsoleAdvance",
    Action.PROMOTE_FULL: "RolloutConsolePromoteFull",
    Action.PAUSE: "RolloutConsolePause",
    Action.RESUME: "RolloutConsoleResume",
    Action.ROLLBACK: "RolloutConsoleRollback",
    Action.RETRY: "RolloutConsoleRetry",
    Action.UNDO: "RolloutConsoleUndo",
}


def reason_for(action: Action) -> str:
    return _REASONS[action]


def event_body(
    obj: Obj,
    action: Action,
    user: str,
    before: str,
    after: str,
    failed: str = "",
    note: str = "",
) -> dict[str, Any]:
    ns, name = meta(obj)
    now = rfc3339()
    who = user or "unknown user"
    if failed:
        message = f"{who}: {action.value} failed: {failed}"
    else:
        message = f"{who}: {action.value}: {before} -> {after}"
    if note:
        message += f" ({note})"
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{name}.", "namespace": ns},
        "involvedObject": {
            "apiVersion": obj.get("apiVersion", ""),
            "kind": obj.get("kind", ""),
            "name": name,
            "namespace": ns,
            "uid": dig(obj, "metadata", "uid", default=""),
            "resourceVersion": dig(obj, "metadata", "resourceVersion", default=""),
        },
        "reason": reason_for(action) + ("Failed" if failed else ""),
        # Shown by `kubectl describe` on other operators' terminals: clean text only.
        "message": clip(clean_line(message), 1024),
        "type": "Warning" if failed else "Normal",
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": socket.gethostname()[:128],
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }


class EventCreator:
    """What events need from a client: KubeApi plus create()."""

    def __init__(self, api: KubeApi) -> None:
        self.api = api

    def record(
        self,
        obj: Obj,
        action: Action,
        before: str,
        after: str,
        failed: str = "",
        note: str = "",
    ) -> str | None:
        """Create the Event; return None, or one sentence on why it could not be written."""
        ns, _ = meta(obj)
        try:
            create = getattr(self.api, "create")  # noqa: B009 - KubeApi has no create in protocol
            create(EVENTS, ns, event_body(obj, action, self.api.user, before, after, failed, note))
        except Exception as exc:
            from console.kube.errors import describe_error

            return describe_error(
                exc, what="create events", cluster=self.api.cluster, user=self.api.user
            )
        return None
