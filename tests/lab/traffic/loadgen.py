"""Load generator: steady requests to the model servers, split by live weights.

    python -m tests.lab.traffic.loadgen --targets targets.json --rps 20 --duration 120 \
        --virtualservice NS/NAME --kubeconfig kubeconfig [--route primary]
    python -m tests.lab.traffic.loadgen --targets targets.json --weights v1=80,v2=20 ...

``targets.json`` maps a destination key (VirtualService subset, or host) to
the model-server base URLs behind it, e.g. ``{"stable": ["http://127.0.0.1:4100"]}``.
Requests are sent on a fixed schedule whether or not earlier ones have
answered, so a slow canary does not slow the load down (as with real users).
Weights are re-read every ``--reread`` seconds; if a read fails, the last
known weights stay in force. A JSON summary is written on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import itertools
import json
import signal
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.lab.traffic.weights import (
    FixedWeights,
    SmoothWeightedPicker,
    VirtualServiceWeights,
    WeightSource,
)

MAX_IN_FLIGHT = 64  # beyond this the model servers are stuck; skip, don't pile up


@dataclass
class Summary:
    sent: collections.Counter[str] = field(default_factory=collections.Counter)
    status: dict[str, collections.Counter[str]] = field(
        default_factory=lambda: collections.defaultdict(collections.Counter)
    )
    unrouted: collections.Counter[str] = field(default_factory=collections.Counter)
    skipped_busy: int = 0
    weight_read_errors: int = 0
    last_weight_error: str = ""
    weights_seen: list[tuple[float, dict[str, int]]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "sent": dict(self.sent),
            "status": {k: dict(v) for k, v in self.status.items()},
            "unrouted": dict(self.unrouted),
            "skipped_busy": self.skipped_busy,
            "weight_read_errors": self.weight_read_errors,
            "last_weight_error": self.last_weight_error,
            "weights_seen": self.weights_seen,
        }


class LoadGenerator:
    def __init__(
        self,
        source: WeightSource,
        targets: Mapping[str, Sequence[str]],
        *,
        rps: float,
        duration: float | None,
        max_requests: int | None,
        reread: float = 2.0,
    ) -> None:
        self.source = source
        self.urls: dict[str, Iterator[str]] = {
            key: itertools.cycle([u.rstrip("/") + "/predict" for u in urls])
            for key, urls in targets.items()
        }
        self.rps = rps
        self.duration = duration
        self.max_requests = max_requests
        self.reread = reread
        self.picker = SmoothWeightedPicker()
        self.summary = Summary()
        self.stopping = asyncio.Event()
        self._started = time.monotonic()

    def _apply(self, weights: dict[str, int]) -> None:
        if self.picker.set(weights):
            elapsed = round(time.monotonic() - self._started, 1)
            self.summary.weights_seen.append((elapsed, weights))
            print(f"{elapsed:7.1f}s weights {weights}", flush=True)

    async def _refresh(self) -> None:
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=self.reread)
                return
            try:
                self._apply(await asyncio.to_thread(self.source.weights))
            except Exception as exc:  # keep the last weights, as a sidecar keeps its config
                self.summary.weight_read_errors += 1
                self.summary.last_weight_error = repr(exc)

    async def _send(self, client: httpx.AsyncClient, key: str, url: str) -> None:
        try:
            response = await client.post(url, content=b"{}")
            self.summary.status[key][str(response.status_code)] += 1
        except httpx.HTTPError as exc:
            self.summary.status[key][type(exc).__name__] += 1

    async def run(self) -> Summary:
        # The first read must work: a load generator with no idea of the split
        # would send nothing and make a test fail for the wrong reason.
        self._apply(await asyncio.to_thread(self.source.weights))
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.stopping.set)
        loop.add_signal_handler(signal.SIGINT, self.stopping.set)
        refresher = asyncio.create_task(self._refresh())
        in_flight: set[asyncio.Task[None]] = set()
        interval = 1.0 / self.rps
        deadline = None if self.duration is None else loop.time() + self.duration
        limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=16)
        async with httpx.AsyncClient(timeout=10.0, limits=limits, trust_env=False) as client:
            next_at = loop.time()
            count = 0
            while not self.stopping.is_set():
                if deadline is not None and loop.time() >= deadline:
                    break
                if self.max_requests is not None and count >= self.max_requests:
                    break
                key = self.picker.pick()
                if key is not None:
                    count += 1
                    if key not in self.urls:
                        self.summary.unrouted[key] += 1
                    elif len(in_flight) >= MAX_IN_FLIGHT:
                        self.summary.skipped_busy += 1
                    else:
                        self.summary.sent[key] += 1
                        task = asyncio.create_task(self._send(client, key, next(self.urls[key])))
                        in_flight.add(task)
                        task.add_done_callback(in_flight.discard)
                next_at += interval
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self.stopping.wait(), timeout=max(0.0, next_at - loop.time())
                    )
            self.stopping.set()
            await refresher
            if in_flight:
                await asyncio.wait(in_flight, timeout=15.0)
        return self.summary


def _parse_weights(text: str) -> dict[str, int]:
    pairs = (item.split("=", 1) for item in text.split(",") if item)
    return {k.strip(): int(v) for k, v in pairs}


def make_source(args: argparse.Namespace) -> WeightSource:
    if args.weights:
        return FixedWeights(_parse_weights(args.weights))
    namespace, _, name = args.virtualservice.partition("/")
    if not name or not args.kubeconfig:
        raise SystemExit("loadgen: --virtualservice needs NS/NAME and --kubeconfig")
    return VirtualServiceWeights(namespace, name, Path(args.kubeconfig), args.route)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--targets", type=Path, required=True, help="JSON: destination -> [base URL]")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--weights", help="fixed split, e.g. v1=80,v2=20")
    source.add_argument("--virtualservice", help="NS/NAME of the Istio VirtualService to follow")
    p.add_argument("--kubeconfig", help="kubeconfig for --virtualservice")
    p.add_argument("--route", help="name of the VirtualService http route to follow")
    p.add_argument("--rps", type=float, default=20.0)
    p.add_argument("--duration", type=float, default=300.0, help="seconds; 0 means until SIGTERM")
    p.add_argument("--max-requests", type=int, default=None)
    p.add_argument("--reread", type=float, default=2.0, help="seconds between weight reads")
    p.add_argument("--summary", type=Path, help="write the JSON summary here on exit")
    args = p.parse_args(argv)
    if not 0 < args.rps <= 200:
        p.error("--rps must be in (0, 200]: this is a lab on loopback, not a benchmark")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    targets = json.loads(args.targets.read_text())
    targets = {k: [v] if isinstance(v, str) else list(v) for k, v in targets.items()}
    generator = LoadGenerator(
        make_source(args),
        targets,
        rps=args.rps,
        duration=args.duration or None,
        max_requests=args.max_requests,
        reread=args.reread,
    )
    try:
        summary = asyncio.run(generator.run())
    except Exception as exc:
        print(f"loadgen: {exc!r}", file=sys.stderr, flush=True)
        return 1
    text = json.dumps(summary.to_json(), indent=2)
    if args.summary:
        tmp = args.summary.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(args.summary)
    print(text, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
