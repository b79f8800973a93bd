"""Connections the kubectl way: KUBECONFIG / ~/.kube/config / --kubeconfig, or in-cluster.

The kubernetes package reads them (console/kube/connection.py says what it
brings). This module picks the files and contexts, and turns what can go wrong
into one ConfigError sentence with secrets redacted: each file is parsed once
with pyyaml first, so a broken file is named with its line, and an unknown
context lists the known ones. Merging follows kubectl: the first file to define
a name wins, and so does the first file's current-context (KubeConfigMerger
alone would take the last one's).

One Connection per requested context; the cluster label shown in the UI is the
context name.
"""

from __future__ import annotations

import binascii
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from console.kube.connection import Connection
from console.kube.errors import redact
from console.model import ConfigError
from console.untrusted import clean_line, clip

#: Where a pod's service account is mounted (a test may point it elsewhere).
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
#: auth-provider plugins the package serves without extra libraries.
_AUTH_PROVIDERS = ("oidc",)


@dataclass
class ClusterConfig:
    """One cluster connection: a context of a kubeconfig, or the in-cluster service account."""

    name: str  # context name: the cluster label
    connection: Connection
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
        return [in_cluster_config()]
    return KubeConfig(paths).clusters(contexts)


def in_cluster_config() -> ClusterConfig:
    """The pod's service account, through the package's InClusterConfigLoader."""
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.incluster_config import InClusterConfigLoader

    from console.kube.connection import new_configuration

    def load() -> Any:
        cfg = new_configuration()
        try:
            cast(Any, InClusterConfigLoader)(
                token_filename=os.path.join(SA_DIR, "token"),
                cert_filename=os.path.join(SA_DIR, "ca.crt"),
                try_refresh_token=False,  # Connection reloads it, once a minute
            ).load_and_set(cfg)
        except (ConfigException, OSError) as exc:
            raise ConfigError(f"In-cluster configuration failed: {_sentence(exc)}.") from None
        return cfg

    namespace = "default"
    try:
        with open(os.path.join(SA_DIR, "namespace"), encoding="utf-8") as f:
            namespace = f.read().strip() or "default"
    except OSError:
        pass
    connection = Connection(load(), reload=load, user=f"serviceaccount in {namespace}")
    return ClusterConfig("in-cluster", connection, namespace, connection.user)


def _sentence(exc: BaseException) -> str:
    """The package's message as the tail of one of our sentences."""
    return clip(clean_line(redact(str(exc))), 300).rstrip(".") or type(exc).__name__


def _read(paths: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    """Every existing file, parsed: for the sentences, before the package merges them."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    out: list[tuple[str, dict[str, Any]]] = []
    for path in paths:
        if not os.path.exists(path):
            continue
        try:
            with open(path, encoding="utf-8") as f:
                data = yaml.load(f, Loader=loader) or {}
        except OSError as exc:
            raise ConfigError(f"Cannot read kubeconfig {path}: {exc.strerror}.") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"Cannot read kubeconfig {path}: invalid YAML{where}.") from None
        if not isinstance(data, dict):
            raise ConfigError(f"Cannot read kubeconfig {path}: it is not a kubeconfig mapping.")
        for key in ("clusters", "contexts", "users"):
            items = data.get(key) or []
            if not isinstance(items, list) or not all(
                isinstance(i, dict) and isinstance(i.get("name"), str) for i in items
            ):
                raise ConfigError(
                    f"Cannot read kubeconfig {path}: every entry of {key} needs a name."
                )
        out.append((path, data))
    return out


class KubeConfig:
    """The merged kubeconfig(s): checked here, merged and loaded by the package."""

    def __init__(self, paths: Sequence[str]) -> None:
        from kubernetes.config.config_exception import ConfigException
        from kubernetes.config.kube_config import KubeConfigMerger

        self.paths = list(paths)
        self.where = os.pathsep.join(self.paths)
        files = _read(self.paths)
        if not files:
            raise ConfigError(
                f"No kubeconfig at {self.where}: pass --kubeconfig, set KUBECONFIG, or use --demo."
            )
        self.current = next(
            (str(d["current-context"]) for _, d in files if d.get("current-context")), ""
        )
        # Empty files are no kubeconfig to kubectl; the merger refuses them.
        wanted = os.pathsep.join(p for p, d in files if d)
        try:
            merged = cast(Any, KubeConfigMerger)(wanted).config if wanted else None
        except (ConfigException, OSError, ValueError, TypeError, KeyError) as exc:
            raise ConfigError(f"Cannot read kubeconfig {self.where}: {_sentence(exc)}.") from None
        self._root: Any = merged
        self._items: dict[str, dict[str, Any]] = {}
        for key in ("contexts", "clusters", "users"):
            nodes = merged.value.get(key, []) if merged is not None else []
            self._items[key] = {str(n.value["name"]): n for n in nodes}

    def clusters(self, contexts: Sequence[str]) -> list[ClusterConfig]:
        wanted = list(dict.fromkeys(contexts)) or ([self.current] if self.current else [])
        if not wanted:
            raise ConfigError(f"Kubeconfig {self.where} has no current context; pass --context.")
        return [self.cluster(name) for name in wanted]

    def cluster(self, name: str) -> ClusterConfig:
        """The connection of context `name`. Raises ConfigError."""
        if name not in self._items["contexts"]:
            known = ", ".join(sorted(self._items["contexts"])) or "none"
            raise ConfigError(f"Unknown context {name!r} in {self.where} (known: {known}).")
        ctx = self._items["contexts"][name].value.get("context") or {}
        cluster_name, user_name = str(ctx.get("cluster") or ""), str(ctx.get("user") or "")
        if cluster_name not in self._items["clusters"]:
            raise ConfigError(
                f"Context {name!r} names cluster {cluster_name!r}, not in {self.where}."
            )
        cluster = self._items["clusters"][cluster_name].value.get("cluster") or {}
        server = str(cluster.get("server") or "")
        if not server.startswith(("https://", "http://")):
            raise ConfigError(
                f"Cluster {cluster_name!r} of {self.where} has no https server address."
            )
        user_node = self._items["users"].get(user_name)
        user = (user_node.value.get("user") or {}) if user_node is not None else {}
        provider = (user.get("auth-provider") or {}).get("name", "?")
        if user.get("auth-provider") and provider not in _AUTH_PROVIDERS:
            raise ConfigError(
                f"User {user_name!r} uses the legacy auth-provider {provider!r}, which the console "
                "does not support; use an exec credential plugin."
            )
        exec_config = user.get("exec") if isinstance(user.get("exec"), dict) else None
        root = self._without_exec(user_name) if exec_config is not None else self._root
        base_dir = os.path.dirname(os.path.abspath(user_node.path)) if user_node else ""

        def load() -> Any:
            return self._load(root, name, "proxy-url" in cluster)

        connection = Connection(
            load(), reload=load, user=user_name, exec_config=exec_config, base_dir=base_dir
        )
        return ClusterConfig(name, connection, str(ctx.get("namespace") or "default"), user_name)

    def _without_exec(self, user_name: str) -> Any:
        """The merged config whose `user_name` has no `exec`: the package's loader would
        run the plugin itself (every load, without a time limit)."""
        from kubernetes.config.kube_config import ConfigNode

        root = self._root
        users = []
        for node in root.value["users"]:
            if node.value.get("name") == user_name:
                user = {k: v for k, v in (node.value.get("user") or {}).items() if k != "exec"}
                node = cast(Any, ConfigNode)(node.name, {**node.value, "user": user}, node.path)
            users.append(node)
        return cast(Any, ConfigNode)(root.name, {**root.value, "users": users}, root.path)

    def _load(self, root: Any, context: str, proxy_url: bool) -> Any:
        from kubernetes.config.config_exception import ConfigException
        from kubernetes.config.kube_config import KubeConfigLoader

        from console.kube.connection import new_configuration

        cfg = new_configuration()
        try:
            cast(Any, KubeConfigLoader)(
                config_dict=root, active_context=context, config_base_path=None
            ).load_and_set(cfg)
        except binascii.Error:
            raise ConfigError(
                f"Context {context!r} of {self.where} holds invalid base64 certificate data."
            ) from None
        except (ConfigException, OSError, ValueError, TypeError, KeyError) as exc:
            raise ConfigError(
                f"Cannot use context {context!r} of {self.where}: {_sentence(exc)}."
            ) from None
        if proxy_url:
            # kubectl sends everything through a cluster's proxy-url: NO_PROXY is for
            # the environment's proxy only.
            cfg.no_proxy = None
        return cfg
