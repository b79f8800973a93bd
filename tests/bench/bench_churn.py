"""Benchmark (issue 14): the Kubernetes backend under churn, before and after, in one run.

    python tests/bench/bench_churn.py [--rollouts 500] [--namespaces 50] [--rates 20,50]
        [--seconds 120] [--runs 3] [--baseline DIR]

Starts a private lab with enough kwok nodes for every Rollout to become Healthy (or
attaches to ROLLOUT_LAB_KUBECONFIG), creates the Rollouts (bench_kube's manifests),
waits until all are Healthy, then measures, for this worktree's code ("new") and,
with --baseline, another checkout's `console` package ("old"), interleaved:

* first full list: process start to the backend's first Snapshot (median of --runs);
* headless `get -A -o json` beside `kubectl get rollouts -A -o json` (median, ratio);
* churn: both backends watch at once while this process merge-patches random
  Rollouts at each rate for --seconds (half toggle spec.paused, which the controller
  answers with status writes; half set an annotation the console does not read).
  Per backend and phase: CPU seconds (all threads), watch events received, CPU
  seconds per 1,000 events, Upserted messages, RSS at start and end.

Prints the load average beside the figures: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench.bench_kube import FIRST_SNAPSHOT, manifests, wait_healthy  # noqa: E402
from tests.lab.kube import KubeLab  # noqa: E402

# The watching backend: counts raw watch events (the client's generator, the same in
# every version) and stream messages, and reports its own CPU and RSS every second.
WATCHER = """
import json, os, sys, threading, time
t0 = float(sys.argv[1])
from console.kube import client as client_mod
from console.kube import make_kube_backend
from console.model import Snapshot, Upserted
counts = {"events": 0, "upserted": 0, "messages": 0, "snapshot": 0.0, "rollouts": 0}
real = client_mod.KubeClient.watch_events
def counting(self, *args, **kwargs):
    for event in real(self, *args, **kwargs):
        counts["events"] += 1
        yield event
client_mod.KubeClient.watch_events = counting
page = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page
def report():
    while True:
        time.sleep(1.0)
        line = dict(counts, t=time.time(), cpu=time.process_time(), rss=rss())
        print(json.dumps(line), flush=True)
threading.Thread(target=report, daemon=True).start()
b = make_kube_backend(sys.argv[2], [], None, True, False)
stop = threading.Event()
for event in b.watch(stop):
    counts["messages"] += 1
    if isinstance(event, Snapshot) and not counts["snapshot"]:
        counts["snapshot"] = time.time() - t0
        counts["rollouts"] = len(event.rollouts)
    elif isinstance(event, Upserted):
        counts["upserted"] += 1
"""

# Where a first list's time goes, serially in one thread so cProfile sees all of it:
# imports, each kind's list (HTTP + JSON), the index, the build.
PROFILE_FIRST = """
import cProfile, io, pstats, sys, time
t0 = float(sys.argv[1])
from console.kube import make_kube_backend
from console.kube.backend import slim
t_import = time.time() - t0
b = make_kube_backend(sys.argv[2], [], None, True, False)
c = next(iter(b.clusters.values()))
prof = cProfile.Profile()
prof.enable()
t1 = time.time()
for rt in b._types:
    try:
        items, _ = c.client.list_with_version(rt, None)
    except Exception:
        items = []
    c.index.replace(rt, (slim(o) for o in items))
t2 = time.time()
b._prefetch_access(c)
shown = b._compute(c, None)
t3 = time.time()
prof.disable()
s = io.StringIO()
pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(15)
print(f"imports {t_import:.3f}s, lists (serial) {t2 - t1:.3f}s, access + build of "
      f"{len(shown)} {t3 - t2:.3f}s")
print(s.getvalue())
"""


class Watcher:
    """One backend process and the latest report it printed."""

    def __init__(self, label: str, code: Path, kubeconfig: str) -> None:
        self.label = label
        env = dict(os.environ, PYTHONPATH=str(code))
        env.pop("KUBECONFIG", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WATCHER, str(time.time()), kubeconfig],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=code,  # `-c` puts the working directory first on sys.path
        )
        self.last: dict[str, Any] = {}
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self.lock:
                self.last = json.loads(line)

    def sample(self) -> dict[str, Any]:
        """The next report after now (so a phase starts and ends on fresh figures)."""
        now = time.time()
        deadline = now + 10
        while time.time() < deadline:
            with self.lock:
                if self.last.get("t", 0) > now:
                    return dict(self.last)
            time.sleep(0.05)
        raise SystemExit(f"{self.label} backend stopped reporting")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def churn(client: Any, rollouts: list[tuple[str, str]], rate: float, seconds: float) -> int:
    """Merge-patch random Rollouts at `rate` per second for `seconds`; returns the count
    sent. Several writers: one round trip takes longer than 1/50 s on a loaded machine."""
    from concurrent.futures import ThreadPoolExecutor

    from console.kube.argo import ROLLOUTS

    rng = random.Random(14)
    paused: dict[tuple[str, str], bool] = {}
    sent = 0
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        while time.monotonic() - start < seconds:
            ahead = start + sent / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
            ns, name = rng.choice(rollouts)
            if sent % 2:
                body: dict[str, Any] = {
                    "metadata": {"annotations": {"bench.example/tick": str(sent)}}
                }
            else:
                now = not paused.get((ns, name), False)
                paused[(ns, name)] = now
                body = {"spec": {"paused": now}}
            pool.submit(client.merge_patch, ROLLOUTS, ns, name, body)
            sent += 1
    return sent


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, bytes]:
    """Wall time of one command run in `cwd` (`-m` puts the working directory first on
    sys.path: the baseline's checkout must be the one imported)."""
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, env=env, check=False, cwd=cwd)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed: {done.stderr.decode()[-500:]}")
    return elapsed, done.stdout


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rollouts", type=int, default=500)
    parser.add_argument("--namespaces", type=int, default=50)
    parser.add_argument("--rates", default="20,50", help="patches per second, one phase each")
    parser.add_argument("--seconds", type=float, default=120.0, help="length of each phase")
    parser.add_argument("--runs", type=int, default=3, help="first-list and get runs")
    parser.add_argument("--baseline", type=Path, help="a checkout whose console/ is 'old'")
    parser.add_argument("--nodes", type=int, default=0, help="kwok nodes (0: enough)")
    parser.add_argument("--no-create", action="store_true", help="the Rollouts exist already")
    parser.add_argument("--no-profile", action="store_true", help="skip the profiled first list")
    args = parser.parse_args()
    codes = [("new", REPO)] + ([("old", args.baseline.resolve())] if args.baseline else [])

    owned: KubeLab | None = None
    running = os.environ.get("ROLLOUT_LAB_KUBECONFIG")
    if running:
        lab = KubeLab.attach(Path(running))
    else:
        workdir = Path(tempfile.mkdtemp(prefix="bench-churn-"))
        # 110 pods a kwok node, and the lab's own sample: room for every Rollout's Pod.
        nodes = args.nodes or args.rollouts // 100 + 2
        lab = owned = KubeLab(workdir, nodes=nodes)
        print(f"starting a lab with {nodes} nodes in {workdir} ...", file=sys.stderr)
        lab.start()
    try:
        docs = manifests(args.rollouts, args.namespaces, 1)
        t0 = time.perf_counter()
        for k in range(0, 0 if args.no_create else len(docs), 100):
            lab.kubectl(
                "apply", "--server-side", "-f", "-",
                input=yaml.safe_dump_all(docs[k : k + 100]), timeout=300,
            )  # fmt: skip
        names = [
            (d["metadata"]["namespace"], d["metadata"]["name"])
            for d in docs
            if d["kind"] == "Rollout"
        ]

        wait_healthy(lab, args.rollouts, timeout=1800)
        print(
            f"{args.rollouts} Rollouts in {args.namespaces} namespaces Healthy after "
            f"{time.perf_counter() - t0:.0f}s; load {loadavg()}"
        )
        kubeconfig = str(lab.kubeconfig)
        first_list(codes, kubeconfig, args.runs, not args.no_profile)
        headless_get(codes, kubeconfig, args.runs)
        under_churn(codes, kubeconfig, names, args)
    finally:
        if owned is not None:
            owned.stop()
    return 0


def _env(code: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(code))
    env.pop("KUBECONFIG", None)
    return env


def first_list(
    codes: list[tuple[str, Path]], kubeconfig: str, runs: int, profile: bool = False
) -> None:
    times: dict[str, list[float]] = {label: [] for label, _ in codes}
    for _ in range(runs):
        for label, code in codes:
            done = subprocess.run(
                [sys.executable, "-c", FIRST_SNAPSHOT, str(time.time()), kubeconfig],
                capture_output=True, text=True, env=_env(code), check=True, timeout=300,
                cwd=code,  # `-c` puts the working directory first on sys.path
            )  # fmt: skip
            times[label].append(float(done.stdout.split()[1]))
    for label, values in times.items():
        print(
            f"first full list ({label})  median {statistics.median(values):.3f}s  "
            f"runs {_fmt(values)}  load {loadavg()}"
        )
    _ratio(times)
    if profile:
        done = subprocess.run(
            [sys.executable, "-c", PROFILE_FIRST, str(time.time()), kubeconfig],
            capture_output=True, text=True, env=_env(REPO), check=True, timeout=300, cwd=REPO,
        )  # fmt: skip
        print("first list (new), serial, profiled: " + done.stdout)


def headless_get(codes: list[tuple[str, Path]], kubeconfig: str, runs: int) -> None:
    kubectl = shutil.which("kubectl") or "kubectl"
    get = [sys.executable, "-m", "console", "get", "-A", "-o", "json", "--kubeconfig"]
    cmds = {label: ([*get, kubeconfig], _env(code), code) for label, code in codes}
    cmds["kubectl"] = (
        [kubectl, f"--kubeconfig={kubeconfig}", "get", "rollouts.argoproj.io", "-A", "-o", "json"],
        _env(REPO),
        REPO,
    )
    for argv, env, code in cmds.values():
        timed(argv, env, code)  # warm: page cache, kubectl's discovery cache
    times: dict[str, list[float]] = {label: [] for label in cmds}
    for _ in range(runs):
        for label, (argv, env, code) in cmds.items():
            times[label].append(timed(argv, env, code)[0])
    k = statistics.median(times["kubectl"])
    for label, values in times.items():
        m = statistics.median(values)
        print(
            f"get -A -o json ({label})  median {m:.3f}s  runs {_fmt(values)}  "
            f"= {m / k:.2f}x kubectl  load {loadavg()}"
        )


def under_churn(
    codes: list[tuple[str, Path]], kubeconfig: str, names: list[tuple[str, str]], args: Any
) -> None:
    from console.kube import make_kube_backend

    patcher = next(iter(make_kube_backend(kubeconfig, [], None, True, False).clusters.values()))
    watchers = [Watcher(label, code, kubeconfig) for label, code in codes]
    try:
        deadline = time.time() + 300
        while not all(w.last.get("snapshot") for w in watchers):
            if time.time() > deadline:
                raise SystemExit("a backend never sent its first Snapshot")
            time.sleep(0.2)
        time.sleep(3)
        before = {w.label: w.sample() for w in watchers}
        print(
            "idle: "
            + ", ".join(f"{w.label} rss {before[w.label]['rss'] / 2**20:.0f} MB" for w in watchers)
        )
        for rate in (float(r) for r in args.rates.split(",")):
            start = {w.label: w.sample() for w in watchers}
            t_churn = time.monotonic()
            sent = churn(patcher.client, names, rate, args.seconds)
            achieved = sent / (time.monotonic() - t_churn)
            time.sleep(2)  # the last events arrive and are rebuilt
            end = {w.label: w.sample() for w in watchers}
            load = loadavg()
            per: dict[str, list[float]] = {}
            for w in watchers:
                a, b = start[w.label], end[w.label]
                cpu, events = b["cpu"] - a["cpu"], b["events"] - a["events"]
                per[w.label] = [1000 * cpu / max(events, 1)]
                print(
                    f"churn {rate:g}/s x {args.seconds:g}s ({w.label}): {sent} patches "
                    f"({achieved:.1f}/s), "
                    f"{events} watch events, CPU {cpu:.2f}s = {100 * cpu / (b['t'] - a['t']):.1f}% "
                    f"of a core, {per[w.label][0]:.3f} CPU s per 1,000 events, "
                    f"{b['upserted'] - a['upserted']} Upserted, "
                    f"RSS {a['rss'] / 2**20:.0f} -> {b['rss'] / 2**20:.0f} MB  load {load}"
                )
            _ratio(per, what="CPU per 1,000 events")
    finally:
        for w in watchers:
            w.stop()


def _ratio(values: dict[str, list[float]], what: str = "") -> None:
    if "old" in values and "new" in values:
        new, old = statistics.median(values["new"]), statistics.median(values["old"])
        print(f"  new/old {what or 'ratio'}: {new / old:.2f}x")


def _fmt(values: list[float]) -> str:
    return " ".join(f"{v:.3f}" for v in values)


if __name__ == "__main__":
    sys.exit(main())
