"""`rollout-console guard --print-manifests`: what the guard needs in a cluster, as YAML.

Printed the way `istioctl manifest generate` does (multi-document YAML on stdout,
for `| kubectl apply -f -`), so the repository needs no deploy folder:

* Namespace and ServiceAccount `rollout-console-guard`;
* a ClusterRole with least privilege: get/list/watch on what the console reads,
  `patch` only on the objects a pause (and a mesh step) writes: Argo `rollouts`
  (spec.paused; never `rollouts/status`, so the guard *cannot* abort or promote an
  Argo rollout), VirtualServices and HTTPRoutes (the pause annotation and weights),
  Flagger `canaries` (spec.suspend); `create` and `list` events (the evidence, and
  who resumed); `get`/`list` of ConfigMaps named `rollout-console-gates` only;
* a Role in the guard's namespace for its Lease (`get`/`update` of
  `rollout-console-guard`, `create`);
* the ConfigMap `rollout-console-gates` with the built-in gate set, mounted as the
  guard's gates file;
* a Deployment with 2 replicas running `rollout-console guard -A`; the Lease makes
  one of them act.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

import yaml

from console.guard.gates import CONFIGMAP_KEY, CONFIGMAP_NAME
from console.guard.lease import DEFAULT_NAMESPACE, LEASE_NAME
from console.guard.sources import builtin_document

NAME = "rollout-console-guard"
GATES_MOUNT = "/etc/rollout-console"
DEFAULT_PROMETHEUS = "http://prometheus.monitoring.svc:9090"

_READ = ["get", "list", "watch"]

#: (apiGroup, resources, verbs): what the guard may do anywhere in the cluster.
CLUSTER_RULES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("argoproj.io", ("rollouts",), ("get", "list", "watch", "patch")),
    ("argoproj.io", ("analysisruns",), tuple(_READ)),
    ("apps", ("replicasets", "deployments"), tuple(_READ)),
    ("", ("pods", "services"), tuple(_READ)),
    ("networking.istio.io", ("virtualservices",), ("get", "list", "watch", "patch")),
    ("networking.istio.io", ("destinationrules",), tuple(_READ)),
    ("gateway.networking.k8s.io", ("httproutes",), ("get", "list", "watch", "patch")),
    ("flagger.app", ("canaries",), ("get", "list", "watch", "patch")),
    ("", ("events",), ("create", "list")),
)


def default_image() -> str:
    try:
        version = metadata.version("rollout-console")
    except metadata.PackageNotFoundError:
        version = "0.1.0"
    return f"rollout-console:{version}"


def manifests(
    namespace: str = DEFAULT_NAMESPACE,
    image: str | None = None,
    prometheus: str | None = None,
    interval: str = "30s",
) -> list[dict[str, Any]]:
    labels = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "rollout-console"}

    def md(name: str, ns: str | None = namespace) -> dict[str, Any]:
        out: dict[str, Any] = {"name": name, "labels": dict(labels)}
        if ns is not None:
            out["namespace"] = ns
        return out

    rules: list[dict[str, Any]] = [
        {"apiGroups": [group], "resources": list(resources), "verbs": list(verbs)}
        for group, resources, verbs in CLUSTER_RULES
    ]
    rules.append(
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "resourceNames": [CONFIGMAP_NAME],
            # list only with a metadata.name field selector (one request for every namespace)
            "verbs": ["get", "list"],
        }
    )
    subject = [{"kind": "ServiceAccount", "name": NAME, "namespace": namespace}]
    args = [
        "guard",
        "-A",
        "--prometheus",
        prometheus or DEFAULT_PROMETHEUS,
        "--interval",
        interval,
        "--gates",
        f"{GATES_MOUNT}/{CONFIGMAP_KEY}",
        "--lease-namespace",
        namespace,
    ]
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": md(namespace, None)},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": md(NAME)},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": md(NAME, None),
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": md(NAME, None),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": NAME,
            },
            "subjects": subject,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": md(f"{NAME}-lease"),
            "rules": [
                {
                    "apiGroups": ["coordination.k8s.io"],
                    "resources": ["leases"],
                    "resourceNames": [LEASE_NAME],
                    "verbs": ["get", "update"],
                },
                # create cannot be limited by name: the API has no name before it exists.
                {
                    "apiGroups": ["coordination.k8s.io"],
                    "resources": ["leases"],
                    "verbs": ["create"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": md(f"{NAME}-lease"),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": f"{NAME}-lease",
            },
            "subjects": subject,
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": md(CONFIGMAP_NAME),
            "data": {CONFIGMAP_KEY: builtin_document()},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": md(NAME),
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
                "template": {
                    "metadata": {"labels": dict(labels)},
                    "spec": {
                        "serviceAccountName": NAME,
                        "terminationGracePeriodSeconds": 20,
                        "securityContext": {
                            "runAsNonRoot": True,
                            "runAsUser": 65532,
                            "seccompProfile": {"type": "RuntimeDefault"},
                        },
                        "affinity": {
                            "podAntiAffinity": {
                                "preferredDuringSchedulingIgnoredDuringExecution": [
                                    {
                                        "weight": 100,
                                        "podAffinityTerm": {
                                            "topologyKey": "kubernetes.io/hostname",
                                            "labelSelector": {
                                                "matchLabels": {"app.kubernetes.io/name": NAME}
                                            },
                                        },
                                    }
                                ]
                            }
                        },
                        "containers": [
                            {
                                "name": "guard",
                                "image": image or default_image(),
                                "args": args,
                                "env": [
                                    {
                                        "name": "POD_NAME",
                                        "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                                    },
                                    # The audit log goes to a writable scratch volume.
                                    {"name": "XDG_STATE_HOME", "value": "/tmp/state"},
                                ],
                                "resources": {
                                    "requests": {"cpu": "50m", "memory": "96Mi"},
                                    "limits": {"memory": "384Mi"},
                                },
                                "securityContext": {
                                    "allowPrivilegeEscalation": False,
                                    "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]},
                                },
                                "volumeMounts": [
                                    {"name": "gates", "mountPath": GATES_MOUNT, "readOnly": True},
                                    {"name": "tmp", "mountPath": "/tmp"},
                                ],
                            }
                        ],
                        "volumes": [
                            {"name": "gates", "configMap": {"name": CONFIGMAP_NAME}},
                            {"name": "tmp", "emptyDir": {}},
                        ],
                    },
                },
            },
        },
    ]


def render(
    namespace: str = DEFAULT_NAMESPACE,
    image: str | None = None,
    prometheus: str | None = None,
    interval: str = "30s",
) -> str:
    """Multi-document YAML for `kubectl apply -f -`."""
    docs = manifests(namespace, image, prometheus, interval)
    header = "# rollout-console guard: generated by `rollout-console guard --print-manifests`\n"
    return header + "---\n".join(yaml.safe_dump(d, sort_keys=False) for d in docs)
