"""The Kubernetes source: Argo Rollouts, mesh-weighted canaries and Flagger.

Importing this package is cheap; the kubernetes client is imported only when
a backend is made (the demo and `--help` never pay for it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from console.kube.backend import KubeBackend


def make_kube_backend(
    kubeconfig: str | None,
    contexts: list[str],
    namespace: str | None,
    all_namespaces: bool,
    read_only: bool,
    *,
    check_access: bool = True,
    request_timeout: float | None = None,
    read_only_contexts: frozenset[str] = frozenset(),
) -> KubeBackend:
    """A backend over every `--context` (none = the current one). Raises ConsoleError."""
    from console.kube.backend import KubeBackend
    from console.kube.config import load_clusters

    return KubeBackend(
        load_clusters(kubeconfig, contexts),
        namespace=namespace,
        all_namespaces=all_namespaces,
        read_only=read_only,
        check_access=check_access,
        request_timeout=request_timeout,
        read_only_contexts=read_only_contexts,
    )
