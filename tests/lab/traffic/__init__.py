"""The traffic lab: model servers per rollout version plus a load generator.

All of them are subprocesses in their own process groups with pid files, so
``TrafficLab.stop`` (or ``tests.lab.proc.stop_pid_files`` after a crash)
leaves nothing behind. The model servers are registered with the lab's
Prometheus as one scrape job.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.lab.proc import Child, GiveUp, spawn, wait_for
from tests.lab.traffic.spec import Behaviour, ServerSpec

if TYPE_CHECKING:  # keeps the model-server subprocesses from importing httpx
    from tests.lab.prom import PrometheusLab

REPO_ROOT = Path(__file__).resolve().parents[3]
__all__ = ["Behaviour", "RunningServer", "ServerSpec", "TrafficLab"]


@dataclass(frozen=True)
class RunningServer:
    spec: ServerSpec
    child: Child
    url: str

    @property
    def address(self) -> str:
        return self.url.removeprefix("http://")


class TrafficLab:
    def __init__(
        self, workdir: Path, prom: PrometheusLab | None = None, job: str = "traffic-lab"
    ) -> None:
        self.workdir = workdir
        self.prom = prom
        self.job = job
        self.servers: list[RunningServer] = []
        self._serial = itertools.count()
        self.loadgen: Child | None = None
        self.summary_path = workdir / "loadgen-summary.json"

    # -- model servers -------------------------------------------------------

    def start_servers(
        self,
        specs: Sequence[ServerSpec],
        *,
        scrape_labels: Mapping[str, str] | None = None,
        honor_labels: bool = False,
        timeout: float = 15.0,
    ) -> list[RunningServer]:
        """Start one model server per spec, then have Prometheus scrape them all."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        started = [self._start_server(spec, timeout) for spec in specs]
        self.servers += started
        if self.prom is not None:
            self.prom.add_scrape_targets(
                self.job,
                [s.address for s in self.servers],
                scrape_labels,
                honor_labels=honor_labels,
                timeout=timeout,
            )
        return started

    def _start_server(self, spec: ServerSpec, timeout: float) -> RunningServer:
        # Unique per lab: the pid, port and config files are named after it.
        w = spec.workload
        name = f"model-server-{w.namespace}-{w.workload}-{w.version}-{next(self._serial)}"
        config = {**spec.workload.to_json(), **asdict(spec.behaviour), "seed": spec.seed}
        config_path = self.workdir / f"{name}.json"
        config_path.write_text(json.dumps(config, indent=2))
        port_file = self.workdir / f"{name}.port"
        port_file.unlink(missing_ok=True)
        child = self._spawn(
            name,
            [
                "tests.lab.traffic.model_server",
                "--config",
                str(config_path),
                "--port-file",
                str(port_file),
            ],
        )

        def port() -> int | None:
            if not child.alive():
                raise GiveUp(f"{name} exited:\n{child.log_tail()}")
            return int(port_file.read_text()) if port_file.exists() else None

        try:
            bound = wait_for(port, timeout=timeout, what=f"{name} to listen")
        except Exception:
            child.stop()
            raise
        return RunningServer(spec, child, f"http://127.0.0.1:{bound}")

    def targets(self) -> dict[str, list[str]]:
        """Destination key -> base URLs, the load generator's routing table."""
        table: dict[str, list[str]] = {}
        for server in self.servers:
            table.setdefault(server.spec.destination_key, []).append(server.url)
        return table

    # -- load generator ------------------------------------------------------

    def start_loadgen(
        self,
        *,
        weights: Mapping[str, int] | None = None,
        virtualservice: str | None = None,
        kubeconfig: Path | None = None,
        route: str | None = None,
        rps: float = 20.0,
        duration: float = 120.0,
        timeout: float = 20.0,
    ) -> Child:
        """Send traffic split by ``weights`` or by the live ``virtualservice`` (NS/NAME)."""
        if (weights is None) == (virtualservice is None):
            raise ValueError("give exactly one of weights or virtualservice")
        self.stop_loadgen()
        targets_path = self.workdir / "loadgen-targets.json"
        targets_path.write_text(json.dumps(self.targets(), indent=2))
        self.summary_path.unlink(missing_ok=True)
        argv = [
            "tests.lab.traffic.loadgen",
            "--targets",
            str(targets_path),
            "--rps",
            str(rps),
            "--duration",
            str(duration),
            "--summary",
            str(self.summary_path),
        ]
        if weights is not None:
            argv += ["--weights", ",".join(f"{k}={v}" for k, v in weights.items())]
        else:
            if kubeconfig is None:
                raise ValueError("virtualservice needs a kubeconfig")
            argv += ["--virtualservice", str(virtualservice), "--kubeconfig", str(kubeconfig)]
            if route:
                argv += ["--route", route]
        child = self.loadgen = self._spawn("loadgen", argv)

        # The load generator logs its weights once it has read them; waiting
        # for that turns a bad VirtualService or kubeconfig into an error here
        # instead of a test that times out with no traffic.
        def first_weights() -> bool:
            if " weights " in child.log_tail():
                return True
            if not child.alive():
                raise GiveUp(f"loadgen exited:\n{child.log_tail()}")
            return False

        wait_for(first_weights, timeout=timeout, what="loadgen to read its first weights")
        return child

    def stop_loadgen(self, timeout: float = 20.0) -> dict[str, Any] | None:
        """Stop the load generator (it writes its summary on SIGTERM) and return the summary."""
        if self.loadgen is None:
            return None
        self.loadgen.stop(timeout=timeout)
        self.loadgen = None
        return self.loadgen_summary()

    def loadgen_log(self) -> str:
        """What the load generator printed so far: one line per weight change."""
        return self.loadgen.log_tail(1000) if self.loadgen else ""

    def loadgen_summary(self) -> dict[str, Any] | None:
        if not self.summary_path.exists():
            return None
        summary: dict[str, Any] = json.loads(self.summary_path.read_text())
        return summary

    # -- teardown ------------------------------------------------------------

    def stop(self) -> None:
        self.stop_loadgen()
        for server in self.servers:
            server.child.stop()
        self.servers = []
        if self.prom is not None:
            self.prom.remove_scrape_job(self.job)

    def _spawn(self, name: str, module_argv: list[str]) -> Child:
        # Run as modules of this repo so they share the exposition code.
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p
            ),
        }
        return spawn(
            name,
            [sys.executable, "-m", *module_argv],
            log_dir=self.workdir / "logs",
            pid_dir=self.workdir / "pids",
            env=env,
            cwd=REPO_ROOT,
        )
