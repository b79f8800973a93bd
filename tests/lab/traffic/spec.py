"""What a model server is told: whose metrics it exports and how it behaves."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.lab.traffic.exposition import Workload


@dataclass(frozen=True)
class Behaviour:
    latency_base_ms: float = 20.0
    latency_jitter_ms: float = 10.0  # uniform extra latency on top of the base
    error_ratio: float = 0.0
    gpu_mem_base_mib: float = 6144.0  # per GPU when the server starts
    gpu_mem_growth_mib_per_min: float = 0.0
    gpu_util_idle_pct: float = 5.0
    gpu_util_pct_per_rps: float = 5.0  # per GPU, per request/s that GPU serves


@dataclass(frozen=True)
class ServerSpec:
    workload: Workload
    behaviour: Behaviour = field(default_factory=Behaviour)
    # The VirtualService destination this server sits behind: a subset name
    # (subset-level split) or a host (host-level split). Defaults to the version.
    destination: str = ""
    seed: int | None = None

    @property
    def destination_key(self) -> str:
        return self.destination or self.workload.version
