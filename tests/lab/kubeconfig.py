"""Kubeconfig files for the lab's users: admin, control-plane components, service accounts."""

from __future__ import annotations

from pathlib import Path

import yaml


def write(
    path: Path,
    *,
    server: str,
    ca: Path,
    user: str,
    client_cert: Path | None = None,
    client_key: Path | None = None,
    token: str | None = None,
    namespace: str | None = None,
) -> Path:
    """Write a one-cluster, one-user kubeconfig with absolute file references."""
    credentials: dict[str, str] = {}
    if client_cert and client_key:
        credentials = {"client-certificate": str(client_cert), "client-key": str(client_key)}
    if token:
        credentials = {"token": token}
    context: dict[str, str] = {"cluster": "lab", "user": user}
    if namespace:
        context["namespace"] = namespace
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "lab", "cluster": {"server": server, "certificate-authority": str(ca)}}
        ],
        "users": [{"name": user, "user": credentials}],
        "contexts": [{"name": "lab", "context": context}],
        "current-context": "lab",
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    # Tokens and key paths are credentials; keep them private like ~/.kube/config.
    path.chmod(0o600)
    return path


def server_of(path: Path) -> str:
    """The API server URL of the current context's cluster."""
    config = yaml.safe_load(path.read_text())
    contexts = {c["name"]: c["context"] for c in config["contexts"]}
    cluster_name = contexts[config["current-context"]]["cluster"]
    clusters = {c["name"]: c["cluster"] for c in config["clusters"]}
    server: str = clusters[cluster_name]["server"]
    return server
