"""Connections the kubectl way: KUBECONFIG / ~/.kube/config / --kubeconfig, or in-cluster.

One Transport per requested context; the cluster label shown in the UI is the
context name. Errors are one ConsoleError sentence with secrets redacted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from console.kube.transport import KubeConfig, Transport, in_cluster_context
from console.model import ConfigError


@dataclass
class ClusterConfig:
    """One cluster connection: a context of a kubeconfig, or the in-cluster service account."""

    name: str  # context name: the cluster label
    transport: Transport
    namespace: str  # the context's default namespace ("default" when unset)
    user: str  # kubeconfig user name, for events and the audit log


def kubeconfig_paths(explicit: str | None) -> list[str]:
    """The kubeconfig files kubectl would read (KUBECONFIG may be a ':'-separated list)."""
    if explicit:
        return [os.path.expanduser(explicit)]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [p for p in env.split(os.pathsep) if p]
    return [os.path.expanduser("~/.kube/config")]


def load_clusters(kubeconfig: str | None, contexts: list[str]) -> list[ClusterConfig]:
    """Connections for `contexts` (none = the current context). Raises ConsoleError."""
    paths = kubeconfig_paths(kubeconfig)
    in_cluster = (
        not kubeconfig
        and not os.environ.get("KUBECONFIG")
        and not any(os.path.exists(p) for p in paths)
        and bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
    )
    if in_cluster:
        if contexts:
            raise ConfigError("--context needs a kubeconfig; none was found (running in-cluster).")
        ctx = in_cluster_context()
        return [ClusterConfig(ctx.name, Transport(ctx.credentials), ctx.namespace, ctx.user)]

    config = KubeConfig(paths)
    wanted = list(dict.fromkeys(contexts)) or ([config.current] if config.current else [])
    if not wanted:
        raise ConfigError(
            f"Kubeconfig {os.pathsep.join(paths)} has no current context; pass --context."
        )
    out: list[ClusterConfig] = []
    for name in wanted:
        ctx = config.context(name)
        out.append(ClusterConfig(name, Transport(ctx.credentials), ctx.namespace, ctx.user))
    return out
