"""Benchmark: rollout-console beside the Argo plugin, kubectl and k9s, in one run (issue 11).

    python tests/bench/bench_kube.py [--rollouts 500] [--namespaces 50] [--runs 5]
        [--idle-s 120] [--no-k9s] [--no-create | --existing N] [--nodes N]

Uses the lab started by `tests/lab/up` when ROLLOUT_LAB_KUBECONFIG names its admin
kubeconfig, else starts a private lab (and stops it afterwards). Creates the
Rollouts (1 replica each, so the controller makes a ReplicaSet and a kwok Pod
for each; --existing N creates only model-N and up, growing a smaller run's lab),
waits until every one is Healthy, then prints, with the load average beside each:

* headless, interleaved, medians over --runs: `rollout-console get -A` (table) and
  `-o json`, `kubectl-argo-rollouts list rollouts -A` (the plugin tests/lab/install
  builds), `kubectl get rollouts.argoproj.io -A -o json`; ratios console / plugin
  (goal <= 1.5x) and console / kubectl (goal <= 1.0x), of medians and same-run;
* `python -X importtime` of the headless `get -A`: total import time, top 5 cumulative;
* the backend's first full Snapshot (no textual);
* TUI first full list in tmux: process start until the count of every Rollout is on
  screen, for `rollout-console --kube -A` and k9s (built from its Go module into the
  lab cache by tests/lab/k9s.py, capped at 6 minutes; skipped with one line if not),
  interleaved (goal <= 1.0 s at 500); RSS after the list (goal <= 200 MB at 5,000);
  idle CPU (utime+stime) of each over --idle-s with the list up (goal <= 0.26 s).
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

from tests.e2e.tmux import TmuxSession, installed_binary  # noqa: E402
from tests.lab import binaries  # noqa: E402
from tests.lab import k9s as lab_k9s  # noqa: E402
from tests.lab.kube import KubeLab  # noqa: E402

WIDTH, HEIGHT = 160, 48  # the tmux pane both TUIs draw in
PAGE = os.sysconf("SC_PAGE_SIZE")
CLK_TCK = os.sysconf("SC_CLK_TCK")

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


def manifests(
    n_rollouts: int, n_namespaces: int, replicas: int, existing: int = 0
) -> list[dict[str, Any]]:
    """Namespaces and Rollouts model-<existing>..model-<n_rollouts - 1>, round-robin over
    the namespaces (a smaller run's Rollouts below `existing` are left where they are)."""
    docs: list[dict[str, Any]] = []
    for i in range(n_namespaces):
        docs.append(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"bench-{i:02d}"}}
        )
    for j in range(existing, n_rollouts):
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


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, bytes]:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, env=env, check=False, timeout=300)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed: {done.stderr.decode()[-500:]}")
    return elapsed, done.stdout


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE / 1e6


def cpu_s(pid: int, task: int | None = None) -> float:
    """utime + stime in seconds: of the whole process (every thread), or of one thread."""
    stat = f"/proc/{pid}/stat" if task is None else f"/proc/{pid}/task/{task}/stat"
    with open(stat) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


# --- headless commands, interleaved ------------------------------------------------------


def count_bench(label: str, out: bytes) -> int:
    """Bench Rollouts in one command's output (a sanity check that each listed them all)."""
    if label == "console-json":
        return sum(1 for i in json.loads(out)["items"] if i["namespace"].startswith("bench-"))
    if label == "kubectl":
        items = json.loads(out)["items"]
        return sum(1 for i in items if i["metadata"]["namespace"].startswith("bench-"))
    # Tables: one line a Rollout, the namespace its own column.
    return sum(1 for line in out.decode().splitlines() if " bench-" in f" {line}")


def headless(commands: dict[str, list[str]], env: dict[str, str], runs: int) -> None:
    for argv in commands.values():  # warm: page cache, kubectl's discovery cache
        timed(argv, env)
    times: dict[str, list[float]] = {label: [] for label in commands}
    counts: dict[str, int] = {}
    loads: list[str] = []
    for _ in range(runs):
        for label, argv in commands.items():
            t, out = timed(argv, env)
            times[label].append(t)
            counts[label] = count_bench(label, out)
        loads.append(loadavg())
    print(f"\nheadless, {runs} interleaved runs (load after each run: {' | '.join(loads)})")
    print(f"  {'command':<52} {'median':>7}  runs  (bench Rollouts listed)")
    for label, argv in commands.items():
        shown = " ".join([Path(argv[0]).name, *argv[1:]])
        print(
            f"  {label:<12} {statistics.median(times[label]):7.3f}s  {_fmt(times[label])}"
            f"  ({counts[label]})\n      {shown}"
        )

    def ratio(a: str, b: str, goal: float) -> None:
        of_medians = statistics.median(times[a]) / statistics.median(times[b])
        same_run = statistics.median(x / y for x, y in zip(times[a], times[b], strict=True))
        print(
            f"  ratio {a} / {b}: {of_medians:.2f}x of medians, {same_run:.2f}x median of "
            f"same-run ratios (goal <= {goal}x)"
        )

    ratio("console", "plugin", 1.5)
    ratio("console", "kubectl", 1.0)
    ratio("console-json", "kubectl", 1.0)


def import_time(console_cmd: list[str], env: dict[str, str]) -> None:
    """`python -X importtime` of the headless `get -A`: the total and the top 5."""
    argv = [console_cmd[0], "-X", "importtime", *console_cmd[1:]]
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=True)
    wall = time.perf_counter() - start
    rows: list[tuple[int, int, str]] = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        fields = line.removeprefix("import time:").split("|", 2)
        rows.append((int(fields[0]), int(fields[1]), fields[2].rstrip()))
    total = sum(own for own, _, _ in rows) / 1e6
    print(
        f"\npython -X importtime {' '.join(console_cmd[1:-2])} ...: {len(rows)} modules, "
        f"imports {total:.3f}s of {wall:.3f}s wall (load {loadavg()}); top 5 cumulative:"
    )
    for self_us, cumulative_us, module in sorted(rows, key=lambda r: -r[1])[:5]:
        print(f"  {cumulative_us / 1e6:6.3f}s cumulative {self_us / 1e6:6.3f}s self  {module}")


# --- terminal UIs in tmux --------------------------------------------------------------


class Terminal:
    """One TUI started in a tmux pane, timed from the session's start to `ready` on screen."""

    def __init__(self, command: list[str], env: dict[str, str], ready: str) -> None:
        self.ready = ready
        self.started = time.perf_counter()
        self.session = TmuxSession(command, WIDTH, HEIGHT, env)
        self.pid = int(
            subprocess.run(
                [*self.session.tmux, "display-message", "-p", "-t", self.session.name,
                 "#{pane_pid}"],
                capture_output=True, text=True, check=True,
            ).stdout
        )  # fmt: skip

    def wait_full(self, timeout: float) -> float:
        """Seconds from start to `ready` on screen (polled every 20 ms via capture-pane)."""
        deadline = self.started + timeout
        while time.perf_counter() < deadline:
            if self.ready in self.session.screen():
                return time.perf_counter() - self.started
            if self.session.pane_dead():
                raise SystemExit(f"TUI exited:\n{self.session.screen()}")
            time.sleep(0.02)
        raise SystemExit(f"no {self.ready!r} after {timeout}s:\n{self.session.screen()}")

    def close(self) -> None:
        self.session.close()


def tui_env(home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(REPO),  # this checkout's code, not the install's
    }


def k9s_home(home: Path) -> None:
    """k9s's config: no look-up of its latest release (no network here), no splash."""
    config = home / "config" / "k9s"
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.yaml").write_text(
        yaml.safe_dump(
            {"k9s": {"skipLatestRevCheck": True, "ui": {"splashless": True, "logoless": True}}}
        )
    )


def terminals(
    tuis: dict[str, tuple[list[str], str]], n: int, runs: int, idle_s: float, want_rss: bool
) -> None:
    times: dict[str, list[float]] = {label: [] for label in tuis}
    rss: dict[str, list[float]] = {label: [] for label in tuis}
    loads: list[str] = []
    homes: dict[str, Path] = {}
    for label in tuis:
        homes[label] = Path(tempfile.mkdtemp(prefix=f"bench-kube-{label}-"))
        k9s_home(homes[label])
    last: dict[str, Terminal] = {}
    timeout = 60 + n * 0.05
    for run in range(runs + 1):  # the first run warms the page cache and is dropped
        for label, (command, ready) in list(tuis.items()):
            term = Terminal(command, tui_env(homes[label]), ready)
            try:
                t = term.wait_full(timeout)
            except SystemExit as failed:
                term.close()
                if label == "console":
                    raise
                # A guest TUI that misbehaves here costs its figures, not the run's.
                print(f"{label} dropped: {str(failed)[:2000]}")
                del tuis[label]
                continue
            try:
                if run:
                    times[label].append(t)
                    time.sleep(1.0)  # the frame after the list, then its memory
                    rss[label].append(rss_mb(term.pid))
            except BaseException:
                term.close()
                raise
            if run == runs and idle_s > 0:
                last[label] = term  # kept open for the idle measurement
            else:
                term.close()
        if run:
            loads.append(loadavg())
    print(
        f"\nTUI first full list in tmux {WIDTH}x{HEIGHT}, process start to the full count on "
        f"screen, {runs} interleaved runs (load after each run: {' | '.join(loads)})"
    )
    for label, (command, ready) in tuis.items():
        goal = "  (goal <= 1.0 s at 500)" if label == "console" else ""
        print(
            f"  {label:<8} {statistics.median(times[label]):7.3f}s  {_fmt(times[label])}"
            f"{goal}\n      {' '.join(command)}   waits for {ready!r}"
        )
    if want_rss:
        for label in tuis:
            goal = "  (goal <= 200 MB at 5,000)" if label == "console" else ""
            print(
                f"  RSS after the full list, {label}: median {statistics.median(rss[label]):.1f}"
                f" MB, runs {' '.join(f'{v:.1f}' for v in rss[label])}{goal}"
            )
    if last:
        # Both idle at once: each is its own process's CPU, and it halves the wait.
        time.sleep(5.0)  # past the first list's aftermath (the first refresh ticks)
        before = {label: cpu_s(term.pid) for label, term in last.items()}
        # The main thread is the console's event loop (the UI); the rest are workers.
        main_before = {label: cpu_s(term.pid, term.pid) for label, term in last.items()}
        load_before = loadavg()
        time.sleep(idle_s)
        used = {label: cpu_s(term.pid) - before[label] for label, term in last.items()}
        main = {
            label: cpu_s(term.pid, term.pid) - main_before[label] for label, term in last.items()
        }
        print(
            f"  idle CPU over {idle_s:.0f}s with {n} rollouts (utime+stime; load "
            f"{load_before} -> {loadavg()}):"
        )
        for label, term in last.items():
            goal = "  (goal <= 0.26 s)" if label == "console" else ""
            print(
                f"    {label:<8} {used[label]:.2f}s CPU ({main[label]:.2f}s main thread), "
                f"RSS {rss_mb(term.pid):.1f} MB{goal}"
            )
            term.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rollouts", type=int, default=500)
    parser.add_argument("--namespaces", type=int, default=50)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--nodes", type=int, default=0, help="kwok nodes (0: enough)")
    parser.add_argument("--no-create", action="store_true", help="the Rollouts exist already")
    parser.add_argument(
        "--existing",
        type=int,
        default=0,
        help="bench Rollouts a smaller run left in this lab; only the rest are created",
    )
    parser.add_argument("--idle-s", type=float, default=120.0, help="idle CPU window (0: skip)")
    parser.add_argument("--no-k9s", action="store_true", help="do not build or run k9s")
    args = parser.parse_args()

    owned: KubeLab | None = None
    running = os.environ.get("ROLLOUT_LAB_KUBECONFIG")
    if running:
        lab = KubeLab.attach(Path(running))
    else:
        workdir = Path(tempfile.mkdtemp(prefix="bench-kube-"))
        # 110 pods a kwok node: room for every Rollout's Pods, so all become Healthy.
        nodes = args.nodes or args.rollouts * args.replicas // 100 + 2
        lab = owned = KubeLab(workdir, nodes=nodes)
        print(f"starting a lab with {nodes} nodes in {workdir} ...", file=sys.stderr)
        lab.start()
    try:
        k9s, why = (None, "k9s: --no-k9s") if args.no_k9s else lab_k9s.ensure(timeout=360)
        docs = manifests(args.rollouts, args.namespaces, args.replicas, args.existing)
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
            f"created {0 if args.no_create else len(docs) - args.namespaces} Rollouts in "
            f"{args.namespaces} namespaces in {time.perf_counter() - t0:.1f}s",
            file=sys.stderr,
        )
        wait_healthy(lab, args.rollouts, timeout=1800)
        print(
            f"{args.rollouts} Rollouts in {args.namespaces} namespaces, all Healthy; "
            f"load {loadavg()}; {why}"
        )

        env = dict(os.environ, PYTHONPATH=str(REPO))
        env.pop("KUBECONFIG", None)
        kubeconfig = str(lab.kubeconfig)
        kubectl = shutil.which("kubectl") or "kubectl"
        console_get = [sys.executable, "-m", "console", "get", "-A", "--kubeconfig", kubeconfig]
        plugin = binaries.KUBECTL_ARGO_ROLLOUTS.path
        if not plugin.exists():
            raise SystemExit(f"kubectl-argo-rollouts is not built at {plugin}: tests/lab/install")
        headless(
            {
                "console": console_get,
                "console-json": [*console_get[:-2], "-o", "json", *console_get[-2:]],
                "plugin": [str(plugin), "list", "rollouts", "-A", "--kubeconfig", kubeconfig],
                "kubectl": [
                    kubectl,
                    "get",
                    "rollouts.argoproj.io",
                    "-A",
                    "-o",
                    "json",
                    "--kubeconfig",
                    kubeconfig,
                ],
            },
            env,
            args.runs,
        )
        import_time(console_get, env)

        snapshot = []
        for _ in range(args.runs):
            done = subprocess.run(
                [sys.executable, "-c", FIRST_SNAPSHOT, str(time.time()), kubeconfig],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
            snapshot.append(float(done.stdout.split()[1]))
        print(
            f"\nbackend's first full Snapshot (no textual): median "
            f"{statistics.median(snapshot):.3f}s  runs {_fmt(snapshot)}  (load {loadavg()})"
        )

        console_tui = [installed_binary(), "--kube", "-A", "--kubeconfig", kubeconfig]
        tuis = {"console": (console_tui, f"{args.rollouts} rollouts")}
        if k9s is not None:
            # Its table title reads "rollouts(all)[5,000]" once the list is in.
            k9s_cmd = [str(k9s), "--kubeconfig", kubeconfig, "-A", "-c", "rollouts", "--readonly"]
            tuis["k9s"] = (k9s_cmd, f"[{args.rollouts:,}]")
        else:
            print(why)
        terminals(tuis, args.rollouts, args.runs, args.idle_s, want_rss=True)
    finally:
        if owned is not None:
            owned.stop()
    return 0


def _fmt(values: list[float]) -> str:
    return " ".join(f"{v:.3f}" for v in values)


if __name__ == "__main__":
    sys.exit(main())
