"""Benchmark (issue 14), no server: the backend's own cost per watch event, by cluster size.

    python tests/bench/bench_rebuild.py [--sizes 500,2000] [--namespaces 50,100]
        [--events 2000] [--baseline DIR] [--profile]

The consumer of KubeBackend.watch() is fed synthetic Rollouts (each with a ReplicaSet and
a Pod) through its queue, as the watch threads feed it, then batches of events: a
Rollout's spec.paused toggled, a Pod's readiness flipped, a resourceVersion bump, an
annotation the console does not read. Each batch ends with a change the model shows,
so the harness waits for its Upserted. Prints consumer CPU seconds per 1,000 events
(this process's CPU: no HTTP, no JSON decoding, no other helper's load) for this
worktree and, with --baseline, another checkout, each in its own process.
--profile prints the top cProfile entries of the new code's run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

RUN = r"""
import cProfile, io, json, pstats, queue, sys, threading, time
from console.kube import backend as backend_mod
from console.kube.argo import ANALYSISRUNS, PODS, REPLICASETS, ROLLOUTS, HASH_LABEL
from console.kube.backend import KubeBackend
from console.kube.config import ClusterConfig
from console.model import Snapshot, Upserted

n, n_ns, n_events, profile = (int(a) for a in sys.argv[1:5])
if hasattr(backend_mod, "COALESCE_S"):
    backend_mod.COALESCE_S = 0.0  # flush every batch, as the old code does

def rollout(i):
    ns, name = f"ns-{i % n_ns}", f"r-{i}"
    return {
        "metadata": {"name": name, "namespace": ns, "uid": f"ro-{i}", "generation": 1,
                     "resourceVersion": "1", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "s", "image": "img:1"}]}},
                 "strategy": {"canary": {"steps": [{"setWeight": 10}, {"pause": {}}]}}},
        "status": {"observedGeneration": "1", "phase": "Healthy", "stableRS": "h",
                   "currentPodHash": "h", "currentStepIndex": 2, "replicas": 1,
                   "readyReplicas": 1, "updatedReplicas": 1, "availableReplicas": 1},
    }

def replicaset(i):
    return {"metadata": {"name": f"r-{i}-h", "namespace": f"ns-{i % n_ns}", "uid": f"rs-{i}",
                         "resourceVersion": "1", "labels": {HASH_LABEL: "h"},
                         "ownerReferences": [
                             {"kind": "Rollout", "name": f"r-{i}", "uid": f"ro-{i}"}]},
            "spec": {"replicas": 1, "template": {"metadata": {"labels": {HASH_LABEL: "h"}},
                     "spec": {"containers": [{"name": "s", "image": "img:1"}]}}},
            "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1}}

def pod(i):
    return {"metadata": {"name": f"r-{i}-h-p", "namespace": f"ns-{i % n_ns}", "uid": f"po-{i}",
                         "resourceVersion": "1", "labels": {HASH_LABEL: "h"},
                         "ownerReferences": [
                             {"kind": "ReplicaSet", "name": f"r-{i}-h", "uid": f"rs-{i}"}]},
            "spec": {"containers": [{"name": "s", "image": "img:1"}], "nodeName": "n"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}

class Client:
    def access_review(self, *a):
        return True, ""

cfg = ClusterConfig("c1", None, "default", "me")
b = KubeBackend([cfg], all_namespaces=True, check_access=False)
c = b.clusters["c1"]
c.client = Client()
q = queue.Queue()
for rt, make in ((ROLLOUTS, rollout), (REPLICASETS, replicaset), (PODS, pod)):
    q.put(("relist", "c1", rt, [make(i) for i in range(n)]))
for rt in b._types:
    if rt not in (ROLLOUTS, REPLICASETS, PODS):
        q.put(("relist", "c1", rt, []))
stop = threading.Event()
t0 = time.process_time()
stream = b._consume(q, stop, 0)
first = next(stream)
assert isinstance(first, Snapshot) and len(first.rollouts) == n, first
snapshot_cpu = time.process_time() - t0

version = {"n": 1}
def bumped(obj):
    version["n"] += 1
    obj["metadata"]["resourceVersion"] = str(version["n"])
    return obj

paused = {}
def event(k):
    i = 1 + (k * 7919) % (n - 1)  # r-0 is the sentinel's
    kind = k % 4
    if kind == 0:
        obj = bumped(rollout(i))
        paused[i] = not paused.get(i, False)
        obj["spec"]["paused"] = paused[i]
        return ("event", "c1", ROLLOUTS, "MODIFIED", obj)
    if kind == 1:
        obj = bumped(pod(i))
        obj["status"]["conditions"][0]["status"] = "False" if k % 8 == 1 else "True"
        return ("event", "c1", PODS, "MODIFIED", obj)
    if kind == 2:
        return ("event", "c1", REPLICASETS, "MODIFIED", bumped(replicaset(i)))
    obj = bumped(rollout(i))
    obj["spec"]["paused"] = paused.get(i, False)
    obj["metadata"]["annotations"] = {"example.com/tick": str(k)}
    return ("event", "c1", ROLLOUTS, "MODIFIED", obj)

BATCH = 10
prof = cProfile.Profile() if profile else None
t0 = time.process_time()
if prof:
    prof.enable()
sent = upserts = 0
sentinel = 0
while sent < n_events:
    for _ in range(BATCH - 1):
        q.put(event(sent)); sent += 1
    sentinel += 1
    obj = bumped(rollout(0))
    want = obj["spec"]["paused"] = sentinel % 2 == 1
    q.put(("event", "c1", ROLLOUTS, "MODIFIED", obj)); sent += 1
    for ev in stream:
        if isinstance(ev, Upserted):
            upserts += 1
            if ev.rollout.ref.name == "r-0" and ev.rollout.paused == want:
                break
if prof:
    prof.disable()
cpu = time.process_time() - t0
stop.set()
out = {"snapshot_cpu": snapshot_cpu, "cpu": cpu, "events": sent, "upserted": upserts}
if prof:
    s = io.StringIO()
    pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(14)
    out["profile"] = s.getvalue()
print(json.dumps(out))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="500,2000")
    parser.add_argument("--namespaces", default="50,100")
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--baseline", type=Path)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    codes = [("new", REPO)] + ([("old", args.baseline.resolve())] if args.baseline else [])
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"load {load}")
    for size, n_ns in zip(
        (int(s) for s in args.sizes.split(",")),
        (int(s) for s in args.namespaces.split(",")),
        strict=True,
    ):
        per: dict[str, float] = {}
        for label, code in codes:
            env = dict(os.environ, PYTHONPATH=str(code))
            profile = int(args.profile and label == "new")
            argv = [sys.executable, "-c", RUN, str(size), str(n_ns), str(args.events), str(profile)]
            # cwd: `-c` puts the working directory first on sys.path.
            done = subprocess.run(
                argv, capture_output=True, text=True, env=env, check=False, cwd=code
            )
            if done.returncode:
                raise SystemExit(f"{label} failed: {done.stderr[-2000:]}")
            out = json.loads(done.stdout)
            per[label] = 1000 * out["cpu"] / out["events"]
            print(
                f"{size} Rollouts / {n_ns} namespaces ({label}): first snapshot "
                f"{out['snapshot_cpu']:.2f} CPU s; {out['events']} events, "
                f"{per[label]:.3f} CPU s per 1,000 events, {out['upserted']} Upserted"
            )
            if "profile" in out:
                print(out["profile"])
        if "old" in per:
            print(f"  new/old per event: {per['new'] / per['old']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
