"""The provider protocol: one kind of canary object (Argo Rollout, mesh route, Flagger Canary).

The Kubernetes backend (console/kube/backend.py) owns connections, list+watch,
caching, RBAC checks, events and the audit log. A provider only knows its own
objects:

* which resource it watches (`resource`) and which other resources it reads
  to describe a rollout (`related`, e.g. ReplicaSets and Pods for Argo,
  Deployments and DestinationRules for Istio);
* how to turn raw object dicts into model `Rollout`s (`to_rollouts`: pure,
  never raises — a malformed object becomes a Rollout with `warnings` and
  Phase.UNKNOWN);
* how to carry out an action (`act`) through the `KubeApi` it is handed;
* which API verbs an action needs (`required_verbs`), for the
  SelfSubjectAccessReview that hides unavailable actions.

Registration: a module exports `PROVIDERS: list[Provider]`. The backend loads
`console.kube.argo`, and `console.kube.mesh` / `console.kube.flagger` when
they exist (see `load_providers`). This module must stay free of kubernetes
and textual imports: the providers' pure logic is unit-tested without either.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from console.model import ANNOTATION_PREFIX, Action, ActionResult, ProviderKind, Rollout
from console.timestamps import parse_rfc3339
from console.untrusted import one_line

#: A Kubernetes object as the API returns it (JSON decoded, camelCase keys).
Obj = Mapping[str, Any]

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


@dataclass(frozen=True)
class ResourceType:
    """A watchable resource. `group` is "" for the core API (pods, events)."""

    group: str
    version: str
    plural: str
    kind: str
    #: Server-side label selector for list/watch, e.g. "rollouts-pod-template-hash"
    #: so the backend watches only the ReplicaSets/Pods Argo manages.
    label_selector: str = ""
    #: A missing CRD (404 on list) is normal for optional providers: the backend
    #: then treats the resource as empty instead of failing the whole cluster.
    optional: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def is_core(self) -> bool:
        return self.group == ""

    def path(self, namespace: str | None = None, name: str = "", subresource: str = "") -> str:
        """REST path; namespace None = across all namespaces."""
        base = f"/api/{self.version}" if self.is_core else f"/apis/{self.group}/{self.version}"
        if namespace is not None:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
        if subresource:
            base += f"/{subresource}"
        return base

    @property
    def key(self) -> str:
        """Stable text id, e.g. "rollouts.argoproj.io"."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


@dataclass(frozen=True)
class Verb:
    """One API permission an action needs: checked with a SelfSubjectAccessReview."""

    group: str
    resource: str
    verb: str
    subresource: str = ""

    @property
    def text(self) -> str:
        res = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        return f"{self.verb} {res}"


#: Related objects by resource type: everything the backend holds of that type
#: in the namespace(s) of the objects passed alongside (one cluster only).
Related = Mapping[ResourceType, Sequence[Obj]]


class KubeApi(Protocol):
    """What a provider may do to one cluster while acting.

    Implemented by console.kube.client.KubeClient. Methods raise
    console.kube.errors.ApiError (or an OSError); the backend turns
    those into one-sentence ActionErrors (console/kube/errors.py), so
    providers should let them propagate unless they handle e.g. a 409 retry.
    """

    cluster: str
    #: The kubeconfig user (or "serviceaccount:ns/name" in-cluster) for events/audit.
    user: str

    def get(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any]: ...

    def list(
        self, rt: ResourceType, namespace: str | None, label_selector: str = ""
    ) -> list[dict[str, Any]]: ...

    def merge_patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Mapping[str, Any],
        subresource: str = "",
    ) -> dict[str, Any]:
        """JSON merge patch (application/merge-patch+json), never strategic merge.

        Put `{"metadata": {"resourceVersion": rv}}` in the body for an
        optimistic-concurrency precondition: the server answers 409 when the
        object changed since it was read.
        """
        ...

    def json_patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        ops: Sequence[Mapping[str, Any]],
        subresource: str = "",
    ) -> dict[str, Any]:
        """RFC 6902 JSON patch (application/json-patch+json); a `test` op is a precondition."""
        ...


@runtime_checkable
class Provider(Protocol):
    kind: ProviderKind
    #: The resource whose objects become Rollouts.
    resource: ResourceType
    #: Resources read to describe a rollout (watched too, same namespaces).
    related: tuple[ResourceType, ...]
    #: Actions this provider can ever carry out (others are shown unavailable).
    actions: tuple[Action, ...]

    def to_rollouts(self, objects: Sequence[Obj], related: Related, cluster: str) -> list[Rollout]:
        """Pure: dicts in, model out, one Rollout per object it recognises.

        Never raises: a malformed object gives a Rollout with `warnings` and
        Phase.UNKNOWN. A provider may return no Rollout for an object that is
        not a canary at all (e.g. a VirtualService with a single route).
        Provider-level limits (e.g. Flagger rollback) go in `unavailable`.
        """
        ...

    def act(self, api: KubeApi, rollout: Rollout, obj: Obj, action: Action) -> ActionResult:
        """Carry out `action` on the freshly read `obj`; return before/after text.

        The backend has already checked read-only, RBAC and `unavailable`, and
        records the Event and audit line afterwards from the returned result.
        """
        ...

    def required_verbs(self, action: Action) -> list[Verb]:
        """API permissions `action` needs; [] when none (or not supported)."""
        ...


#: Modules that may export `PROVIDERS`; optional ones may be absent.
PROVIDER_MODULES = ("console.kube.argo", "console.kube.mesh", "console.kube.flagger")


def load_providers(modules: Sequence[str] = PROVIDER_MODULES) -> list[Provider]:
    """Every provider of every present module, in module order."""
    out: list[Provider] = []
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # Only a missing provider module is fine; a missing dependency of
            # a present module is a real bug and must be seen.
            if exc.name == name:
                continue
            raise
        out.extend(getattr(module, "PROVIDERS", ()))
    return out


# --- small helpers shared by providers (pure) ---------------------------------------


def dig(obj: Any, *path: str | int, default: Any = None) -> Any:
    """obj["a"]["b"][0]... or `default` when any step is missing or of the wrong type."""
    cur = obj
    for key in path:
        if isinstance(key, int):
            if not isinstance(cur, list) or not -len(cur) <= key < len(cur):
                return default
            cur = cur[key]
        else:
            # `type is dict` first: JSON-decoded objects are dicts, and the ABC check
            # alone was the largest cost of building 2,000 Rollouts.
            if not (type(cur) is dict or isinstance(cur, Mapping)) or key not in cur:
                return default
            cur = cur[key]
    return cur


def meta(obj: Obj) -> tuple[str, str]:
    """(namespace, name) of an object; "" for missing parts."""
    md = obj.get("metadata") or {}
    return str(md.get("namespace") or ""), str(md.get("name") or "")


def created_at(obj: Obj) -> float:
    """metadata.creationTimestamp as unix seconds; 0.0 when absent or unparsable."""
    return parse_rfc3339(dig(obj, "metadata", "creationTimestamp")) or 0.0


def console_annotations(obj: Obj) -> tuple[tuple[str, str], ...]:
    """The object's rollout-console.io/ annotations, sanitised, sorted by key."""
    ann = dig(obj, "metadata", "annotations")
    if not isinstance(ann, Mapping):
        return ()
    return tuple(
        sorted(
            (one_line(k, 253), one_line(v))
            for k, v in ann.items()
            if isinstance(k, str) and k.startswith(ANNOTATION_PREFIX) and isinstance(v, str)
        )
    )
