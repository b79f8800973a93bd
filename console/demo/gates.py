"""The demo's gate sets: budgets that fit its model servers, one set per namespace.

The built-in default (p99 < 50 ms) suits a small TensorFlow model, not FaceFusion's
~300 ms frames or an LLM gateway's ~160 ms. So, as a team would in a ConfigMap per
namespace, the demo judges each service by its own budget: the healthy canaries
(tf-serving, llm-gateway) pass, yolo-detector's regression fails on latency and
errors, and facefusion's GPU-memory leak fails the GPU gate a few minutes in.
It is parsed by the same code as a real config file, so it is also the README's
worked example.
"""

from __future__ import annotations

from collections.abc import Callable

from console.demo.backend import DemoBackend
from console.demo.metrics import DemoMetrics
from console.guard.gates import GateConfig, StaticResolver, parse_gate_config
from console.guard.loop import Guard

SOURCE = "the demo's gate config"

DEMO_GATES = """\
namespaces:
  ml-serving: ml-serving
  vision: vision
  genai: genai
  recsys: release-train
sets:
  ml-serving:                      # the seed notes' p99 budget; errors: see below
    gates:
      - name: p99-latency
        kind: absolute
        metric: latency_p99_ms
        op: "<"
        threshold: 50
      - name: error-rate           # 0.2 %: a 5 % canary sees ~2 errors a minute
        kind: absolute
        metric: error_pct
        op: "<"
        threshold: 0.2
        min_requests: 100
      - name: gpu-memory
        kind: relative
        metric: gpu_memory_gib
        ratio: 1.15
  vision:                          # a bigger detector is expected to be ~2x slower
    gates:
      - name: p99-vs-stable
        kind: relative
        metric: latency_p99_ms
        ratio: 2.0
      - name: p99-compared
        kind: compared
        metric: latency_p99_ms
        allowed_increase: 2.0
        confidence: 0.98
      - name: error-rate
        kind: absolute
        metric: error_pct
        op: "<"
        threshold: 0.5
        min_requests: 100
      - name: gpu-memory
        kind: relative
        metric: gpu_memory_gib
        ratio: 1.5                 # v9 weights are 1.4x v8's
  genai:                           # facefusion ~300 ms a frame, llm-gateway ~160 ms
    gates:
      - name: p99-budget
        kind: absolute
        metric: latency_p99_ms
        op: "<"
        threshold: 400
      - name: p99-vs-stable
        kind: relative
        metric: latency_p99_ms
        ratio: 1.2
      - name: errors-vs-stable
        kind: compared             # a test on the two versions' request and error counts
        metric: error_pct
        allowed_increase: 1.5
      - name: gpu-memory
        kind: relative
        metric: gpu_memory_gib     # mean per GPU: a canary on 1 pod against stable on 6
        ratio: 1.15
        window: 2m
  release-train:                   # a new build of the same model: no worse than stable
    gates:
      - name: p99-vs-stable
        kind: relative
        metric: latency_p99_ms
        ratio: 1.2
      - name: errors-vs-stable
        kind: compared
        metric: error_pct
        allowed_increase: 1.5
      - name: gpu-memory
        kind: relative
        metric: gpu_memory_gib
        ratio: 1.15
"""


def demo_gate_config() -> GateConfig:
    return parse_gate_config(DEMO_GATES, SOURCE)


def demo_resolver() -> StaticResolver:
    return StaticResolver.from_config(demo_gate_config(), source=SOURCE)


def demo_guard(
    backend: DemoBackend, metrics: DemoMetrics, clock: Callable[[], float], *, dry_run: bool
) -> Guard:
    """The guard the demo runs by default: the demo's gates, on the demo's clock (so a
    seed gives the same story at any --speed)."""
    return Guard(backend, metrics, demo_resolver(), dry_run=dry_run, clock=clock)
