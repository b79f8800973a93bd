"""Names, labels and buckets of the metrics the lab imitates.

Shared by the live model servers and the backfilled history so both produce
exactly the series a real Istio sidecar and NVIDIA DCGM exporter would.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

# Envoy's default histogram buckets, which Istio's stats plugin uses for
# istio_request_duration_milliseconds (upper bounds in ms; +Inf is implied).
ISTIO_DURATION_BUCKETS_MS: tuple[float, ...] = (
    0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000,
    10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
)  # fmt: skip

REQUESTS_TOTAL = "istio_requests_total"
DURATION = "istio_request_duration_milliseconds"
GPU_UTIL = "DCGM_FI_DEV_GPU_UTIL"
GPU_FB_USED = "DCGM_FI_DEV_FB_USED"


@dataclass(frozen=True)
class Workload:
    """One rollout version's workload, as Istio and DCGM label it."""

    namespace: str
    workload: str  # the Deployment/ReplicaSet name Istio reports
    version: str  # the pod's `version` label
    service: str  # the Kubernetes Service name requests are addressed to
    pods: tuple[str, ...]  # kwok pod names of this version
    canonical_revision: str = ""  # defaults to version, as Istio does
    container: str = "model-server"
    hostname: str = "kwok-node-0"  # the DCGM exporter's node
    gpu_model: str = "NVIDIA A10G"

    @property
    def revision(self) -> str:
        return self.canonical_revision or self.version

    def istio_labels(self, response_code: int | str) -> dict[str, str]:
        return {
            "reporter": "destination",
            "source_workload": "loadgen",
            "source_workload_namespace": self.namespace,
            "destination_workload": self.workload,
            "destination_workload_namespace": self.namespace,
            "destination_version": self.version,
            "destination_canonical_service": self.service,
            "destination_canonical_revision": self.revision,
            "destination_service": f"{self.service}.{self.namespace}.svc.cluster.local",
            "destination_service_name": self.service,
            "destination_service_namespace": self.namespace,
            "request_protocol": "http",
            "response_code": str(response_code),
        }

    def dcgm_labels(self, pod: str) -> dict[str, str]:
        # One GPU per pod, as the GPU articles' pods request (nvidia.com/gpu: 1).
        return {
            "gpu": "0",
            "UUID": gpu_uuid(pod),
            "device": "nvidia0",
            "modelName": self.gpu_model,
            "Hostname": self.hostname,
            "namespace": self.namespace,
            "pod": pod,
            "container": self.container,
        }

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Workload:
        return cls(**{**data, "pods": tuple(data.get("pods", ()))})


def gpu_uuid(pod: str) -> str:
    """A stable, DCGM-shaped GPU UUID per pod, so restarts keep the same series."""
    return f"GPU-{uuid.uuid5(uuid.NAMESPACE_DNS, pod)}"


def format_value(value: float) -> str:
    """Render a sample or ``le`` value the way exporters do (``1`` not ``1.0``)."""
    if value == float("inf"):
        return "+Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def render_labels(labels: Mapping[str, str]) -> str:
    def escape(v: str) -> str:
        return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')

    return "{" + ",".join(f'{k}="{escape(v)}"' for k, v in labels.items()) + "}"


def bucket_bounds() -> Iterable[float]:
    """Istio's bucket upper bounds followed by +Inf."""
    yield from ISTIO_DURATION_BUCKETS_MS
    yield float("inf")
