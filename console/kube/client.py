"""A dict-only client for one cluster (implements provider.KubeApi).

Built on console.kube.transport (stdlib HTTPS, see there for why not the
`kubernetes` package). Every patch states its Content-Type explicitly:
merge-patch (application/merge-patch+json) or JSON patch
(application/json-patch+json). Strategic merge patch is never sent: custom
resources reject it with 415, and the console has no use for it elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from console.kube.provider import JSON_PATCH, MERGE_PATCH, ResourceType
from console.kube.retry import watch_read_timeout
from console.kube.transport import ApiError, Transport, WatchHandle

__all__ = ["ApiError", "KubeClient"]

#: Seconds for ordinary requests (kubectl's --request-timeout): a hung server fails a
#: headless command, or an action in the UI, within this long.
DEFAULT_TIMEOUT = 10.0


class KubeClient:
    def __init__(
        self, cluster: str, transport: Transport, user: str, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.cluster = cluster
        self.transport = transport
        self.user = user
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str | None = None,
    ) -> Any:
        return self.transport.request(
            method, path, query, body, content_type=content_type, timeout=self.timeout
        )

    def ping(self, timeout: float) -> None:
        """One cheap request (GET /version, public to every identity): raises when the
        API server does not answer within `timeout`; any HTTP answer counts as alive."""
        try:
            self.transport.request("GET", "/version", (), None, timeout=timeout)
        except ApiError:
            return

    # --- KubeApi --------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        out: dict[str, Any] = self.request("GET", rt.path(namespace, name))
        out.setdefault("kind", rt.kind)
        out.setdefault("apiVersion", rt.api_version)
        return out

    def list_with_version(
        self, rt: ResourceType, namespace: str | None, label_selector: str | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        """Items (kind/apiVersion filled in) and the list's resourceVersion for a watch."""
        selector = rt.label_selector if label_selector is None else label_selector
        query = [("labelSelector", selector)] if selector else []
        data = self.request("GET", rt.path(namespace), query) or {}
        items: list[dict[str, Any]] = data.get("items") or []
        for item in items:
            # List items come without kind/apiVersion; events and providers want them.
            item.setdefault("kind", rt.kind)
            item.setdefault("apiVersion", rt.api_version)
        return items, str((data.get("metadata") or {}).get("resourceVersion") or "")

    def list(
        self, rt: ResourceType, namespace: str | None, label_selector: str = ""
    ) -> list[dict[str, Any]]:
        return self.list_with_version(rt, namespace, label_selector or None)[0]

    def merge_patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Mapping[str, Any],
        subresource: str = "",
    ) -> dict[str, Any]:
        out: dict[str, Any] = self.request(
            "PATCH",
            rt.path(namespace, name, subresource),
            body=dict(body),
            content_type=MERGE_PATCH,
        )
        return out

    def json_patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        ops: Sequence[Mapping[str, Any]],
        subresource: str = "",
    ) -> dict[str, Any]:
        out: dict[str, Any] = self.request(
            "PATCH",
            rt.path(namespace, name, subresource),
            body=[dict(op) for op in ops],
            content_type=JSON_PATCH,
        )
        return out

    def create(self, rt: ResourceType, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = self.request("POST", rt.path(namespace), body=dict(body))
        return out

    # --- watch ----------------------------------------------------------------------

    def watch_events(
        self,
        rt: ResourceType,
        namespace: str | None,
        resource_version: str,
        timeout_seconds: int,
        on_open: Callable[[WatchHandle], None] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Raw watch events ({"type", "object"}) from `resource_version` until the server ends.

        Raises ApiError(410) when the version expired (in the response or as an
        ERROR event): the caller relists.
        """
        query = [
            ("watch", "true"),
            ("resourceVersion", resource_version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(timeout_seconds)),
        ]
        if rt.label_selector:
            query.append(("labelSelector", rt.label_selector))
        # A live server sends at least a bookmark per interval: a read that waits a few
        # intervals ends the stream, and the caller reopens it from its version.
        for event in self.transport.stream(
            rt.path(namespace), query, watch_read_timeout(), on_open
        ):
            if event.get("type") == "ERROR":
                status = event.get("object") or {}
                raise ApiError(
                    int(status.get("code") or 500),
                    str(status.get("reason") or "Error"),
                    _json(status),
                )
            yield event

    # --- access review --------------------------------------------------------------

    def access_review(
        self, verb: str, group: str, resource: str, subresource: str, namespace: str
    ) -> tuple[bool, str]:
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {
                "resourceAttributes": {
                    "namespace": namespace,
                    "verb": verb,
                    "group": group,
                    "resource": resource,
                    "subresource": subresource,
                }
            },
        }
        out = self.request(
            "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=body
        )
        status = (out or {}).get("status") or {}
        return bool(status.get("allowed")), str(status.get("reason") or "")


def _json(value: Any) -> str:
    import json

    return json.dumps(value)
