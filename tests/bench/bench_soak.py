"""Soak: the real TUI on the list while a cluster churns (issue 9, item 8).

    python tests/bench/bench_soak.py [--rollouts 1000] [--namespaces 50]
        [--rate 50] [--minutes 20] [--idle-s 60] [--query svc-model-0420]

Uses the lab started by `tests/lab/up` when ROLLOUT_LAB_KUBECONFIG names its admin
kubeconfig, else starts a private lab (and stops it afterwards). Creates the
Rollouts (1 replica each), waits until the controller has reconciled them all,
opens the installed `rollout-console --kube -A` in a tmux pane (160x48, as an
operator over SSH), then patches `--rate` Rollouts a second for `--minutes`:
in turn an image tag from a set of three (VERSIONS, STEP, WEIGHT move as the
controller starts a canary; the tags repeat, so the cluster's object count stays
flat), `spec.paused` on or off (PHASE) and a rollout-console.io annotation (the
stored object changes, the row does not).

Prints, once a minute, the TUI process's RSS and its CPU % of one core over that
minute; then its CPU % idle after the churn stops (after a settle of 20 s). Every
minute it also types `/` and the `--query` (14 characters) a key at a time, and
times each key until the filter box on the screen shows it (tmux capture-pane,
polled every 5 ms); then escape. Prints p50/p90 of those latencies.
Goals: RSS plateau <= 150 MB; CPU <= 35 % under churn, <= 1 % idle; keypress p90
<= 150 ms. Not in CI: 20 minutes on a lab.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import ssl
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

from tests.e2e.tmux import TmuxSession, installed_binary  # noqa: E402
from tests.lab.kube import KubeLab  # noqa: E402

WIDTH, HEIGHT = 160, 48
PREFIX = "soak-"
IMAGE = "registry.example/serving"
THREADS = 16
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def manifests(n_rollouts: int, n_namespaces: int) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"{PREFIX}{i:02d}"}}
        for i in range(n_namespaces)
    ]
    for j in range(n_rollouts):
        ns, name = where(j, n_namespaces)
        docs.append(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Rollout",
                "metadata": {"name": name, "namespace": ns},
                "spec": {
                    "replicas": 1,
                    # Every image patch makes a ReplicaSet: keep the cluster's side bounded.
                    "revisionHistoryLimit": 1,
                    "selector": {"matchLabels": {"app": name}},
                    "template": {
                        "metadata": {"labels": {"app": name}},
                        "spec": {"containers": [{"name": "s", "image": f"{IMAGE}:1.0.0"}]},
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


def where(j: int, n_namespaces: int) -> tuple[str, str]:
    # 14 characters: a whole name is the filter typed in the latency test.
    return f"{PREFIX}{j % n_namespaces:02d}", f"svc-model-{j:04d}"


class Patcher:
    """Merge patches straight to the API server (kubectl per patch would cost more
    CPU than the console under test), paced to `rate` a second."""

    def __init__(self, kubeconfig: Path, n_rollouts: int, n_namespaces: int, rate: float) -> None:
        config = yaml.safe_load(kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        user = config["users"][0]["user"]
        host_port = cluster["server"].removeprefix("https://")
        self.host, port = host_port.rsplit(":", 1)
        self.port = int(port)
        self.ctx = ssl.create_default_context(cafile=cluster["certificate-authority"])
        self.ctx.load_cert_chain(user["client-certificate"], user["client-key"])
        self.n_rollouts, self.n_namespaces, self.rate = n_rollouts, n_namespaces, rate
        self.sent = self.failed = self.late = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._start = 0.0
        self._i = 0
        # Where the patch sequence starts: a rerun against a kept lab (--no-create)
        # would otherwise replay the same patches, which change nothing.
        self._base = int(time.time())

    def body(self, i: int) -> dict[str, Any]:
        turn = i // self.n_rollouts
        kind = i % 3
        if kind == 0:
            # Three tags in turn: the controller reuses a tag's ReplicaSet when the
            # template comes back, so the cluster churns without growing and a
            # plateau in the console's memory means what it says.
            image = f"{IMAGE}:1.{turn % 3}.0"
            return {"spec": {"template": {"spec": {"containers": [{"name": "s", "image": image}]}}}}
        if kind == 1:
            return {"spec": {"paused": bool(turn % 2 == 0)}}
        return {"metadata": {"annotations": {"rollout-console.io/soak": f"change {i}"}}}

    def start(self) -> None:
        self._start = time.monotonic()
        # Several connections: one patch waits for etcd, and a loaded API server
        # answers one connection at well under 50 a second.
        for _ in range(THREADS):
            thread = threading.Thread(target=self._run, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _next(self) -> int:
        with self._lock:
            i = self._i
            self._i += 1
            return i

    def _connect(self) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=10)

    def _run(self) -> None:
        conn = self._connect()
        while not self._stop.is_set():
            i = self._next()
            delay = self._start + i / self.rate - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            elif delay < -1.0:
                with self._lock:
                    self.late += 1
            j = (i * 7919) % self.n_rollouts
            ns, name = where(j, self.n_namespaces)
            path = f"/apis/argoproj.io/v1alpha1/namespaces/{ns}/rollouts/{name}"
            ok = False
            try:
                conn.request(
                    "PATCH",
                    path,
                    body=json.dumps(self.body(self._base + i)),
                    headers={"Content-Type": "application/merge-patch+json"},
                )
                response = conn.getresponse()
                response.read()
                ok = response.status < 300
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = self._connect()
            with self._lock:
                self.sent += 1
                self.failed += not ok
        conn.close()


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE / 1e6


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_load() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class Cpu:
    """CPU % of one core of `pid` since the last call."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.at, self.used = time.monotonic(), cpu_s(pid)

    def percent(self) -> float:
        at, used = time.monotonic(), cpu_s(self.pid)
        value = 100 * (used - self.used) / max(1e-6, at - self.at)
        self.at, self.used = at, used
        return value


class Threads:
    """CPU % of one core of the UI thread (the process's main thread: the event loop)
    and of all other threads (the watch workers), since the last report."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.at, self.used = time.monotonic(), self._used()

    def _used(self) -> dict[int, float]:
        used: dict[int, float] = {}
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            try:
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # the thread ended
            used[int(task.name)] = (int(fields[11]) + int(fields[12])) / CLK_TCK
        return used

    def report(self) -> str:
        at, used = time.monotonic(), self._used()
        wall = max(1e-6, at - self.at)
        ui = used.get(self.pid, 0.0) - self.used.get(self.pid, 0.0)
        rest = sum(v - self.used.get(t, 0.0) for t, v in used.items() if t != self.pid)
        self.at, self.used = at, used
        return f"{100 * ui / wall:.0f} / {100 * rest / wall:.0f}"


def filter_row(tmux: TmuxSession) -> int:
    """The screen row of the filter box, found by its placeholder."""
    screen = tmux.wait_text("filter: words match", timeout=30)
    for index, line in enumerate(screen.splitlines()):
        if "filter: words match" in line:
            return index
    raise AssertionError("no filter box")


def box_text(screen: str, row: int) -> str:
    lines = screen.splitlines()
    if row >= len(lines):
        return ""
    # The box's border glyphs on either side; the value is one word (no space).
    return lines[row].strip().strip("▊▎▌▐│┃ ").strip()


def type_query(tmux: TmuxSession, query: str, timeout: float = 20) -> list[float]:
    """Seconds from each key sent to the screen showing it."""
    tmux.keys("/")
    row = filter_row(tmux)
    latencies: list[float] = []
    for n in range(1, len(query) + 1):
        want = query[:n]
        start = time.monotonic()
        tmux.keys(query[n - 1], literal=True)
        while box_text(tmux.screen(), row) != want:
            if time.monotonic() - start > timeout:
                raise AssertionError(f"the filter box never showed {want!r}")
            time.sleep(0.005)  # poll interval; capture-pane itself takes ~3 ms
        latencies.append(time.monotonic() - start)
    # The list must end up narrowed to the one rollout typed (the filter applied).
    tmux.wait_text("1 of ", timeout=timeout)
    # Enter leaves the box for the table, where escape clears the filter.
    tmux.keys("Enter")
    tmux.wait_for(lambda s: "1 of " in s and "svc-model" in s, "back in the table", timeout)
    tmux.keys("Escape")
    tmux.wait_for(
        lambda s: "filter:" not in (s.splitlines() or [""])[0], "the filter cleared", timeout
    )
    return latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rollouts", type=int, default=1000)
    parser.add_argument("--namespaces", type=int, default=50)
    parser.add_argument("--rate", type=float, default=50.0, help="changes a second")
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--idle-s", type=float, default=60.0, help="idle CPU measured this long")
    parser.add_argument("--query", default="svc-model-0420", help="typed after / every minute")
    parser.add_argument("--no-create", action="store_true", help="the Rollouts exist already")
    args = parser.parse_args()

    owned: KubeLab | None = None
    running = os.environ.get("ROLLOUT_LAB_KUBECONFIG")
    if running:
        lab = KubeLab.attach(Path(running))
    else:
        workdir = Path(tempfile.mkdtemp(prefix="bench-soak-"))
        lab = owned = KubeLab(workdir)
        print(f"starting a lab in {workdir} ...", file=sys.stderr, flush=True)
        lab.start()
    tmux: TmuxSession | None = None
    try:
        docs = manifests(args.rollouts, args.namespaces)
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
            flush=True,
        )

        def reconciled() -> bool:
            items = lab.get_json("rollouts.argoproj.io", "-A")["items"]
            done = sum(
                1
                for r in items
                if r["metadata"]["namespace"].startswith(PREFIX)
                and r.get("status", {}).get("phase")
            )
            print(f"  reconciled {done}/{args.rollouts}", file=sys.stderr, flush=True)
            return bool(done >= args.rollouts)

        lab.wait_for(reconciled, timeout=1800, what="every soak Rollout reconciled")

        home = Path(tempfile.mkdtemp(prefix="bench-soak-home-"))
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "XDG_STATE_HOME": str(home / "state"),
            "XDG_CONFIG_HOME": str(home / "config"),
            "TERM": "xterm-256color",
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(REPO),  # this checkout's code, not the install's
        }
        command = [installed_binary(), "--kube", "-A", "--kubeconfig", str(lab.kubeconfig)]
        print(f"TUI: {' '.join(command)} in tmux {WIDTH}x{HEIGHT}", flush=True)
        tmux = TmuxSession(command, WIDTH, HEIGHT, env)
        tmux.wait_text(f"{args.rollouts} rollouts", timeout=120)
        pid = int(
            subprocess.run(
                [*tmux.tmux, "display-message", "-p", "-t", tmux.name, "#{pane_pid}"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        print(f"TUI pid {pid}, RSS at the full list {rss_mb(pid):.1f} MB", flush=True)

        patcher = Patcher(lab.kubeconfig, args.rollouts, args.namespaces, args.rate)
        cpu = Cpu(pid)
        threads = Threads(pid)
        patcher.start()
        started = time.monotonic()
        latencies: list[float] = []
        print(
            "minute | RSS MB | TUI CPU % (UI thread / other threads) | changes sent (failed)"
            " | key p50/p90 ms | load"
        )
        minute = 0
        while minute < args.minutes:
            minute += 1
            end = started + 60 * minute
            # The filter test in the minute's second half, so CPU covers both.
            while time.monotonic() < end - 25:
                time.sleep(0.5)
            keys = type_query(tmux, args.query)
            latencies += keys
            while time.monotonic() < end:
                time.sleep(0.2)
            print(
                f"{minute:6d} | {rss_mb(pid):6.1f} | {cpu.percent():9.1f} "
                f"({threads.report()}) | "
                f"{patcher.sent:7d} ({patcher.failed}) | "
                f"{1000 * percentile(keys, 0.5):5.0f}/{1000 * percentile(keys, 0.9):5.0f} | "
                f"{machine_load()}",
                flush=True,
            )
        elapsed = time.monotonic() - started
        patcher.stop()
        print(
            f"churn: {patcher.sent} changes in {elapsed:.0f}s = {patcher.sent / elapsed:.1f}/s, "
            f"{patcher.failed} failed, {patcher.late} sent >1 s late",
            flush=True,
        )
        # Settle: the controller works off its queue (a patcher running late leaves
        # one) and the console applies what follows; until the TUI's CPU over 10 s
        # stops falling below 5 %, or 5 minutes.
        settle_start = time.monotonic()
        cpu.percent()
        while time.monotonic() - settle_start < 300:
            time.sleep(10)
            if cpu.percent() < 5:
                break
        print(f"settled after {time.monotonic() - settle_start:.0f}s", flush=True)
        threads = Threads(pid)
        cpu.percent()
        time.sleep(args.idle_s)
        idle = cpu.percent()
        print(
            f"idle after churn: TUI CPU {idle:.2f} % over {args.idle_s:.0f}s "
            f"({threads.report()}), RSS {rss_mb(pid):.1f} MB, load {machine_load()}"
        )
        print(
            f"keypress to screen while filtering under churn ({len(latencies)} keys): "
            f"p50 {1000 * statistics.median(latencies):.0f} ms, "
            f"p90 {1000 * percentile(latencies, 0.9):.0f} ms, "
            f"max {1000 * max(latencies):.0f} ms"
        )
        tmux.keys("q")
    finally:
        if tmux is not None:
            tmux.close()
        if owned is not None:
            owned.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
