"""A stand-in model server for one rollout version, on 127.0.0.1.

``POST|GET /predict`` answers after a simulated inference latency, failing a
configured share of requests with 500. ``GET /metrics`` exports what the
Istio sidecar and the DCGM exporter of this version's pods would export, so
Prometheus sees the same series as in a real mesh:

    python -m tests.lab.traffic.model_server --config v2.json --port-file v2.port

Every option can come from the JSON file (keys are the option names with
underscores) or the command line; the command line wins.
"""

from __future__ import annotations

import argparse
import bisect
import collections
import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.lab.traffic.exposition import (
    DURATION,
    GPU_FB_USED,
    GPU_UTIL,
    ISTIO_DURATION_BUCKETS_MS,
    REQUESTS_TOTAL,
    Workload,
    bucket_bounds,
    format_value,
    render_labels,
)
from tests.lab.traffic.spec import Behaviour

LOAD_WINDOW_S = 10.0  # GPU utilisation follows the request rate over this window


class Stats:
    """Counters behind /metrics; one lock, since handler threads share them."""

    def __init__(self, workload: Workload, behaviour: Behaviour) -> None:
        self.workload = workload
        self.behaviour = behaviour
        self.started = time.monotonic()
        self._lock = threading.Lock()
        # response code -> (per-bucket counts incl. +Inf, sum ms, count)
        self._buckets: dict[int, list[int]] = {}
        self._sum_ms: dict[int, float] = collections.defaultdict(float)
        self._recent: collections.deque[float] = collections.deque()

    def observe(self, code: int, duration_ms: float) -> None:
        index = bisect.bisect_left(ISTIO_DURATION_BUCKETS_MS, duration_ms)
        now = time.monotonic()
        with self._lock:
            counts = self._buckets.setdefault(code, [0] * (len(ISTIO_DURATION_BUCKETS_MS) + 1))
            counts[index] += 1
            self._sum_ms[code] += duration_ms
            self._recent.append(now)

    def _recent_rps(self, now: float) -> float:
        while self._recent and self._recent[0] < now - LOAD_WINDOW_S:
            self._recent.popleft()
        window = min(LOAD_WINDOW_S, max(now - self.started, 1.0))
        return len(self._recent) / window

    def exposition(self) -> str:
        now = time.monotonic()
        b = self.behaviour
        lines: list[str] = []
        with self._lock:
            buckets = {code: list(counts) for code, counts in self._buckets.items()}
            sums = dict(self._sum_ms)
            rps = self._recent_rps(now)

        lines.append(f"# TYPE {REQUESTS_TOTAL} counter")
        for code, counts in sorted(buckets.items()):
            labels = render_labels(self.workload.istio_labels(code))
            lines.append(f"{REQUESTS_TOTAL}{labels} {sum(counts)}")
        lines.append(f"# TYPE {DURATION} histogram")
        for code, counts in sorted(buckets.items()):
            base = self.workload.istio_labels(code)
            cumulative = 0
            for upper, count in zip(bucket_bounds(), counts, strict=True):
                cumulative += count
                labels = render_labels({**base, "le": format_value(upper)})
                lines.append(f"{DURATION}_bucket{labels} {cumulative}")
            lines.append(f"{DURATION}_sum{render_labels(base)} {sums[code]!r}")
            lines.append(f"{DURATION}_count{render_labels(base)} {cumulative}")

        pods = self.workload.pods
        per_gpu_rps = rps / max(len(pods), 1)
        util = min(100.0, b.gpu_util_idle_pct + b.gpu_util_pct_per_rps * per_gpu_rps)
        mem = b.gpu_mem_base_mib + b.gpu_mem_growth_mib_per_min * (now - self.started) / 60.0
        for name, value in ((GPU_UTIL, util), (GPU_FB_USED, mem)):
            lines.append(f"# TYPE {name} gauge")
            lines += [
                f"{name}{render_labels(self.workload.dcgm_labels(p))} {value:.0f}" for p in pods
            ]
        return "\n".join(lines) + "\n"


class ModelServer(ThreadingHTTPServer):
    daemon_threads = True  # a slow request must not block shutdown

    def __init__(self, port: int, stats: Stats, seed: int | None) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.stats = stats
        self.rng = random.Random(seed)
        self.rng_lock = threading.Lock()
        self.next_pod = 0

    def draw(self) -> tuple[float, bool, str]:
        """Latency (ms), whether to fail, and the pod that 'serves' the request."""
        b = self.stats.behaviour
        pods = self.stats.workload.pods or ("",)
        with self.rng_lock:
            latency = b.latency_base_ms + self.rng.uniform(0.0, b.latency_jitter_ms)
            fail = self.rng.random() < b.error_ratio
            pod = pods[self.next_pod % len(pods)]
            self.next_pod += 1
        return latency, fail, pod


class Handler(BaseHTTPRequestHandler):
    server: ModelServer
    protocol_version = "HTTP/1.1"  # keep-alive, so the load generator reuses connections

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/metrics":
            self._reply(200, self.server.stats.exposition(), "text/plain; version=0.0.4")
        elif self.path.split("?")[0] == "/predict":
            self._predict()
        else:
            self._reply(404, "not found\n", "text/plain")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path.split("?")[0] == "/predict":
            self._predict()
        else:
            self._reply(404, "not found\n", "text/plain")

    def _predict(self) -> None:
        started = time.monotonic()
        latency_ms, fail, pod = self.server.draw()
        time.sleep(latency_ms / 1000.0)
        workload = self.server.stats.workload
        code = 500 if fail else 200
        body = {"version": workload.version, "pod": pod}
        if fail:
            body["error"] = "simulated inference failure"
        # Measured like a sidecar would: the whole time the request was in the server.
        duration_ms = (time.monotonic() - started) * 1000.0
        self.server.stats.observe(code, duration_ms)
        self._reply(code, json.dumps(body) + "\n", "application/json", pod)

    def _reply(self, code: int, body: str, content_type: str, pod: str = "") -> None:
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        # The seed notes ask that the serving version be visible downstream.
        self.send_header("x-model-version", self.server.stats.workload.version)
        if pod:
            self.send_header("x-model-pod", pod)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request would flood the log at 20 rps


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", type=Path, help="JSON file with any of the options below")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--port-file", type=Path, help="write the bound port here once listening")
    p.add_argument("--namespace", default="default")
    p.add_argument("--workload", default="model-v1")
    p.add_argument("--version", default="v1")
    p.add_argument("--canonical-revision", default="")
    p.add_argument("--service", default="model")
    p.add_argument("--pods", default="", help="comma-separated kwok pod names of this version")
    p.add_argument("--container", default="model-server")
    p.add_argument("--hostname", default="kwok-node-0")
    p.add_argument("--seed", type=int, default=None)
    defaults = Behaviour()
    for name, value in vars(defaults).items():
        p.add_argument("--" + name.replace("_", "-"), type=float, default=value)
    pre, _ = p.parse_known_args(argv)
    if pre.config:
        config = json.loads(pre.config.read_text())
        if isinstance(config.get("pods"), list):
            config["pods"] = ",".join(config["pods"])
        p.set_defaults(**config)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    workload = Workload(
        namespace=args.namespace,
        workload=args.workload,
        version=args.version,
        service=args.service,
        pods=tuple(p for p in args.pods.split(",") if p),
        canonical_revision=args.canonical_revision,
        container=args.container,
        hostname=args.hostname,
    )
    behaviour = Behaviour(**{k: getattr(args, k) for k in vars(Behaviour())})
    server = ModelServer(args.port, Stats(workload, behaviour), args.seed)
    if args.port_file:
        # Written after bind, renamed into place so a reader never sees a partial number.
        tmp = args.port_file.with_suffix(".tmp")
        tmp.write_text(str(server.server_address[1]))
        tmp.replace(args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
