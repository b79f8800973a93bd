"""Benchmark: `rollout-console get -A -o json` beside `kubectl get rollouts.argoproj.io -A -o json`.

    python tests/bench/bench_kube.py [--rollouts 500] [--namespaces 50] [--runs 5]

Uses the lab started by `tests/lab/up` when ROLLOUT_LAB_KUBECONFIG names its admin
kubeconfig, else starts a private lab (and stops it afterwards). Creates the
Rollouts (1 replica each, so the controller makes a ReplicaSet and a kwok Pod
for each), waits until the controller has reconciled them all, then times both
commands alternately against the same server and prints medians. Also prints
the time from process start to the backend's first full Snapshot (what the
TUI's first list waits for, without textual's own start-up).
Goals (issue 4): console <= 1.5 x kubectl; first full list <= 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.lab.kube import KubeLab  # noqa: E402

FIRST_SNAPSHOT = """
import sys, threading, time
t0 = float(sys.argv[1])
from console.kube import make_kube_backend
from console.model import Snapshot
b = make_kube_backend(sys.argv[2], [], None, True, False)
stop = threading.Event()
for event in b.watch(stop):
    if isinstance(event, Snapshot):
        print(len(event.rollouts), time.time() - t0)
        break
stop.set()
"""


# The TUI itself, headless: from process start (imports included) until the list
# screen's table holds every Rollout.
FIRST_TUI_LIST = """
import asyncio, sys, time
t0, kubeconfig, want = float(sys.argv[1]), sys.argv[2], int(sys.argv[3])
from console.app import RolloutConsoleApp
from console.kube import make_kube_backend
from console.metrics.none import NoMetrics

async def main() -> None:
    backend = make_kube_backend(kubeconfig, [], None, True, False)
    app = RolloutConsoleApp(backend, NoMetrics("benchmark"))
    async with app.run_test(size=(160, 48)):
        while True:
            table = getattr(app.screen, "table", None)
            if table is not None and table.row_count >= want:
                print(table.row_count, time.time() - t0)
                return
            await asyncio.sleep(0.01)

asyncio.run(main())
"""


def manifests(n_rollouts: int, n_namespaces: int, replicas: int) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for i in range(n_namespaces):
        docs.append(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"bench-{i:02d}"}}
        )
    for j in range(n_rollouts):
        ns = f"bench-{j % n_namespaces:02d}"
        name = f"model-{j:03d}"
        docs.append(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Rollout",
                "metadata": {"name": name, "namespace": ns},
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": {"app": name}},
                    "template": {
                        "metadata": {"labels": {"app": name}},
                        "spec": {
                            "containers": [{"name": "s", "image": "tensorflow/serving:2.12.0"}]
                        },
                    },
                    "strategy": {
                        "canary": {
                            "steps": [
                                {"setWeight": 10},
                                {"pause": {}},
                                {"setWeight": 50},
                                {"pause": {}},
                            ]
                        }
                    },
                },
            }
        )
    return docs


def wait_healthy(lab: KubeLab, n_rollouts: int, timeout: float) -> None:
    """Until every bench Rollout is Healthy (not merely reconciled into any phase)."""

    def healthy() -> bool:
        items = lab.get_json("rollouts.argoproj.io", "-A")["items"]
        done = [
            r
            for r in items
            if r["metadata"]["namespace"].startswith("bench-")
            and r.get("status", {}).get("phase") == "Healthy"
        ]
        print(f"  Healthy {len(done)}/{n_rollouts}", file=sys.stderr)
        return len(done) >= n_rollouts

    lab.wait_for(healthy, timeout=timeout, what="every bench Rollout Healthy")


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, bytes]:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed: {done.stderr.decode()[-500:]}")
    return elapsed, done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rollouts", type=int, default=500)
    parser.add_argument("--namespaces", type=int, default=50)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-create", action="store_true", help="the Rollouts exist already")
    args = parser.parse_args()

    owned: KubeLab | None = None
    running = os.environ.get("ROLLOUT_LAB_KUBECONFIG")
    if running:
        lab = KubeLab.attach(Path(running))
    else:
        workdir = Path(tempfile.mkdtemp(prefix="bench-kube-"))
        # 110 pods a kwok node: room for every Rollout's Pods, so all become Healthy.
        lab = owned = KubeLab(workdir, nodes=args.rollouts * args.replicas // 100 + 2)
        print(f"starting a lab in {workdir} ...", file=sys.stderr)
        lab.start()
    try:
        docs = manifests(args.rollouts, args.namespaces, args.replicas)
        t0 = time.perf_counter()
        for k in range(0, 0 if args.no_create else len(docs), 100):
            lab.kubectl(
                "apply",
                "--server-side",
                "-f",
                "-",
                input=yaml.safe_dump_all(docs[k : k + 100]),
                timeout=300,
            )
        print(
            f"created {args.rollouts} Rollouts in {args.namespaces} namespaces "
            f"in {time.perf_counter() - t0:.1f}s",
            file=sys.stderr,
        )

        wait_healthy(lab, args.rollouts, timeout=900)

        env = dict(os.environ, PYTHONPATH=str(REPO))
        env.pop("KUBECONFIG", None)
        kubeconfig = str(lab.kubeconfig)
        kubectl = shutil.which("kubectl") or "kubectl"
        console_cmd = [
            sys.executable,
            "-m",
            "console",
            "get",
            "-A",
            "-o",
            "json",
            "--kubeconfig",
            kubeconfig,
        ]
        kubectl_cmd = [
            kubectl,
            f"--kubeconfig={kubeconfig}",
            "get",
            "rollouts.argoproj.io",
            "-A",
            "-o",
            "json",
        ]
        # Warm both (page cache, kubectl discovery cache), then alternate.
        timed(console_cmd, env)
        timed(kubectl_cmd, env)
        console_t, kubectl_t, first_t, tui_t = [], [], [], []
        n_console = n_kubectl = 0
        for _ in range(args.runs):
            t, out = timed(console_cmd, env)
            console_t.append(t)
            n_console = sum(
                1 for i in json.loads(out)["items"] if i["namespace"].startswith("bench-")
            )
            t, out = timed(kubectl_cmd, env)
            kubectl_t.append(t)
            n_kubectl = sum(
                1
                for i in json.loads(out)["items"]
                if i["metadata"]["namespace"].startswith("bench-")
            )
            done = subprocess.run(
                [sys.executable, "-c", FIRST_SNAPSHOT, str(time.time()), kubeconfig],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
            first_t.append(float(done.stdout.split()[1]))
            done = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    FIRST_TUI_LIST,
                    str(time.time()),
                    kubeconfig,
                    str(args.rollouts),
                ],
                capture_output=True,
                text=True,
                env=env,
                check=True,
                timeout=120,
            )
            tui_t.append(float(done.stdout.split()[1]))
        c, k, f, u = (statistics.median(x) for x in (console_t, kubectl_t, first_t, tui_t))
        print(f"rollouts listed: console {n_console}, kubectl {n_kubectl}")
        print(f"rollout-console get -A -o json      median {c:.3f}s  runs {_fmt(console_t)}")
        print(f"kubectl get rollouts -A -o json     median {k:.3f}s  runs {_fmt(kubectl_t)}")
        print(f"ratio console/kubectl               {c / k:.2f}x  (goal <= 1.5x)")
        print(
            f"first full list (backend snapshot)  median {f:.3f}s  runs {_fmt(first_t)}"
            "  (excludes textual start-up)"
        )
        print(
            f"TUI first full list (headless app)  median {u:.3f}s  runs {_fmt(tui_t)}"
            "  (goal <= 2s; process start to every row in the table)"
        )
    finally:
        if owned is not None:
            owned.stop()
    return 0


def _fmt(values: list[float]) -> str:
    return " ".join(f"{v:.3f}" for v in values)


if __name__ == "__main__":
    sys.exit(main())
