"""Which actions the kubeconfig identity may take: SelfSubjectAccessReview per verb.

Cached per (cluster, namespace, verb) for a few minutes. A cluster-wide check
(namespace "") is tried first: when it allows, every namespace is allowed and
one request replaces fifty. A failed review (connection trouble) is not a
denial: the action is left available and will fail with its own clear error.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

from console.kube.provider import Provider, Verb
from console.model import Action

TTL_S = 300.0


class AccessChecker:
    def __init__(self, client: object, cluster: str, user: str) -> None:
        # client: console.kube.client.KubeClient (kept loose so tests can fake it)
        self.client = client
        self.cluster = cluster
        self.user = user
        self._cache: dict[tuple[str, Verb], tuple[float, bool | None, str]] = {}
        self._lock = threading.Lock()

    def _review(self, namespace: str, verb: Verb) -> tuple[bool | None, str]:
        key = (namespace, verb)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and now - hit[0] < TTL_S:
            return hit[1], hit[2]
        try:
            allowed, reason = self.client.access_review(  # type: ignore[attr-defined]
                verb.verb, verb.group, verb.resource, verb.subresource, namespace
            )
            result: tuple[bool | None, str] = (allowed, reason)
        except Exception:
            result = (None, "")
        with self._lock:
            self._cache[key] = (now, result[0], result[1])
        return result

    def allowed(self, namespace: str, verb: Verb) -> bool | None:
        """True/False, or None when the review itself could not be made."""
        cluster_wide, _ = self._review("", verb)
        if cluster_wide:
            return True
        return self._review(namespace, verb)[0]

    def denial(self, namespace: str, verbs: Sequence[Verb]) -> str | None:
        for verb in verbs:
            if self.allowed(namespace, verb) is False:
                who = f"user {self.user}" if self.user else "this identity"
                return f"RBAC: {who} cannot {verb.text} in ns {namespace}"
        return None

    def unavailable(self, provider: Provider, namespace: str) -> list[tuple[Action, str]]:
        out: list[tuple[Action, str]] = []
        for action in provider.actions:
            reason = self.denial(namespace, provider.required_verbs(action))
            if reason:
                out.append((action, reason))
        return out

    def prefetch(self, providers: Iterable[Provider], namespaces: Iterable[str]) -> None:
        """Warm the cache in parallel: the first screen must not wait on 150 serial reviews."""
        verbs = {v for p in providers for a in p.actions for v in p.required_verbs(a)}
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda v: self._review("", v), verbs))
            todo = [
                (ns, v)
                for ns in set(namespaces)
                for v in verbs
                if not (self._cache.get(("", v)) or (0.0, False, ""))[1]
            ]
            list(pool.map(lambda item: self._review(*item), todo))
