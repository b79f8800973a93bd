"""What the providers share: the core kinds they read, label selectors, and small
readers of untyped objects.

Providers (argo, mesh, flagger) import from here and never from each other (an
import-linter contract keeps it so), so each can change alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from console.kube.provider import Obj, ResourceType, dig, meta
from console.model import Image, Role, VersionInfo
from console.timestamps import rfc3339

# --- kinds more than one provider reads --------------------------------------------------

DEPLOYMENTS = ResourceType("apps", "v1", "deployments", "Deployment")
SERVICES = ResourceType("", "v1", "services", "Service")
# Pod names are only for per-pod metrics; the `version` label is the seed notes'
# convention, and the existence selector keeps -A from watching every pod.
VERSION_LABEL = "version"
PODS = ResourceType("", "v1", "pods", "Pod", label_selector=VERSION_LABEL)
# Mesh providers read Rollouts too: a route an Argo Rollout steers is Argo's, not theirs.
ARGO_ROLLOUTS = ResourceType("argoproj.io", "v1alpha1", "rollouts", "Rollout", optional=True)


# --- readers of untyped objects ------------------------------------------------------


def annotations_of(obj: Obj) -> Mapping[str, Any]:
    value = dig(obj, "metadata", "annotations", default={})
    return value if isinstance(value, Mapping) else {}


def labels_at(obj: Any, *path: str) -> dict[str, str]:
    value = dig(obj, *path, default={})
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def int_at(value: Any, default: int = 0) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return default


def now_rfc3339() -> str:
    return rfc3339()


# --- label selectors and the versions they pick -------------------------------------------


def selector_matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def label_selector_matches(selector: Any, labels: Mapping[str, str]) -> bool:
    """A metav1.LabelSelector (matchLabels + matchExpressions) against labels."""
    if not isinstance(selector, Mapping):
        return False
    match_labels = labels_at(selector, "matchLabels")
    if not selector_matches(match_labels, labels):
        return False
    exprs = selector.get("matchExpressions") or []
    if not match_labels and not exprs:
        return False  # an empty Deployment selector is invalid; never "matches everything"
    for expr in exprs if isinstance(exprs, list) else []:
        key = str(dig(expr, "key", default=""))
        op = str(dig(expr, "operator", default=""))
        values = [str(v) for v in (dig(expr, "values", default=[]) or [])]
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def deployments_for(selector: Mapping[str, str], deployments: Sequence[Obj]) -> list[Obj]:
    """Deployments whose pod template carries every label of `selector`, by name."""
    if not selector:
        return []
    found = [
        d
        for d in deployments
        if selector_matches(selector, labels_at(d, "spec", "template", "metadata", "labels"))
    ]
    return sorted(found, key=lambda d: meta(d)[1])


def _digest(image_id: str) -> str:
    # kubelet reports "docker-pullable://repo@sha256:..." or "repo@sha256:...";
    # a bare "sha256:..." is the local image ID, not a registry digest.
    return image_id.rsplit("@", 1)[1] if "@" in image_id else ""


def version_info(
    role: Role, label: str, deployment: Obj | None, pods: Sequence[Obj]
) -> VersionInfo:
    if deployment is None:
        return VersionInfo(role=role, label=label)
    selector = dig(deployment, "spec", "selector")
    mine = [
        p
        for p in pods
        if dig(p, "metadata", "deletionTimestamp") is None
        and label_selector_matches(selector, labels_at(p, "metadata", "labels"))
    ]
    digests: dict[str, set[str]] = defaultdict(set)
    for p in mine:
        for cs in dig(p, "status", "containerStatuses", default=[]) or []:
            d = _digest(str(dig(cs, "imageID", default="") or ""))
            if d:
                digests[str(dig(cs, "name", default=""))].add(d)
    images: list[Image] = []
    for c in dig(deployment, "spec", "template", "spec", "containers", default=[]) or []:
        if not isinstance(c, Mapping) or not isinstance(c.get("image"), str):
            continue
        image = Image.parse(c["image"])
        seen = digests.get(str(c.get("name") or ""), set())
        # Only a digest every running pod agrees on says what "this version" runs.
        if not image.digest and len(seen) == 1:
            image = replace(image, digest=next(iter(seen)))
        images.append(image)
    replicas = dig(deployment, "spec", "replicas")
    return VersionInfo(
        role=role,
        revision=str(annotations_of(deployment).get("deployment.kubernetes.io/revision") or ""),
        label=label,
        workload=meta(deployment)[1],
        images=tuple(images),
        desired=int_at(replicas, 1) if replicas is not None else 1,
        ready=int_at(dig(deployment, "status", "readyReplicas")),
        pods=tuple(sorted(meta(p)[1] for p in mine)),
    )
