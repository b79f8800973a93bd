"""A real Prometheus (Debian's 2.42 package) for the lab, on loopback.

How backfilled history gets loaded (measured with Debian's 2.42.0):
``promtool tsdb create-blocks-from openmetrics`` writes finished blocks. The
TSDB only picks up new block directories at start-up or in its once-a-minute
background reload, and no HTTP endpoint forces that reload (``/-/reload`` only
re-reads the config). So ``backfill`` writes the blocks straight into the data
directory and, if Prometheus is running, restarts it: the head and WAL survive
a restart, so live scraped samples are kept, and the restart takes about 2 s
where waiting for the background reload takes up to 60 s. Overlapping blocks
need no flag in 2.42 (vertical compaction is always on); retention is set to
ten years so old history is not deleted as soon as it is loaded.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.lab.proc import Child, GiveUp, free_port, spawn, wait_for

PROMETHEUS_BIN = "/usr/bin/prometheus"
PROMTOOL_BIN = "/usr/bin/promtool"
NOT_INSTALLED = "lab: prometheus is not installed; run tests/lab/install"


class PrometheusLabError(RuntimeError):
    """Prometheus could not be started, reloaded, backfilled or queried."""


def check_installed() -> None:
    """Raise PrometheusLabError with the one-line install hint if a binary is missing."""
    for binary in (PROMETHEUS_BIN, PROMTOOL_BIN):
        if not Path(binary).is_file():
            raise PrometheusLabError(NOT_INSTALLED)


@dataclass(frozen=True)
class ScrapeJob:
    job: str
    targets: tuple[str, ...]
    labels: Mapping[str, str] = field(default_factory=dict)
    honor_labels: bool = False
    metrics_path: str = "/metrics"

    def to_config(self, interval: str) -> dict[str, Any]:
        return {
            "job_name": self.job,
            "scrape_interval": interval,
            "scrape_timeout": interval,
            "metrics_path": self.metrics_path,
            "honor_labels": self.honor_labels,
            "static_configs": [{"targets": list(self.targets), "labels": dict(self.labels)}],
        }


class PrometheusLab:
    """One Prometheus process with its own config, TSDB and logs under ``workdir``."""

    def __init__(
        self,
        workdir: Path,
        *,
        scrape_interval: str = "1s",
        retention: str = "3650d",
        port: int | None = None,
    ) -> None:
        self.workdir = workdir
        self.scrape_interval = scrape_interval
        self.retention = retention
        self.port = port or free_port()
        self.config_path = workdir / "prometheus.yml"
        self.tsdb_dir = workdir / "tsdb"
        self._jobs: dict[str, ScrapeJob] = {}
        self._child: Child | None = None
        # trust_env=False: a proxy from the environment must not catch loopback calls.
        self._http = httpx.Client(base_url=self.url, timeout=10.0, trust_env=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child else None

    # -- lifecycle -----------------------------------------------------------

    def start(self, timeout: float = 30.0) -> None:
        check_installed()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.tsdb_dir.mkdir(parents=True, exist_ok=True)
        self._write_config()
        self._child = spawn(
            "prometheus",
            [
                PROMETHEUS_BIN,
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={self.tsdb_dir}",
                f"--storage.tsdb.retention.time={self.retention}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-lifecycle",  # POST /-/reload after target changes
                # A stable external URL keeps Prometheus from resolving the
                # machine's hostname, which is slow or absent in sandboxes.
                f"--web.external-url={self.url}",
            ],
            log_dir=self.workdir / "logs",
            pid_dir=self.workdir / "pids",
        )
        child = self._child

        def ready() -> bool:
            if not child.alive():
                raise GiveUp(
                    f"prometheus exited with code {child.popen.returncode}:\n{child.log_tail()}"
                )
            return self._http.get("/-/ready").status_code == 200

        try:
            wait_for(ready, timeout=timeout, what=f"prometheus ready on {self.url}")
        except (TimeoutError, GiveUp) as exc:
            self.stop()
            raise PrometheusLabError(f"lab: prometheus did not start: {exc}") from exc

    def stop(self) -> None:
        if self._child is not None:
            self._child.stop()
            self._child = None

    def close(self) -> None:
        self.stop()
        self._http.close()

    def __enter__(self) -> PrometheusLab:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- scrape targets ------------------------------------------------------

    def add_scrape_targets(
        self,
        job: str,
        targets: Sequence[str],
        labels: Mapping[str, str] | None = None,
        *,
        honor_labels: bool = False,
        timeout: float = 15.0,
    ) -> None:
        """Add or replace a static scrape job and wait until every target has been scraped.

        ``honor_labels=False`` is what makes Prometheus rename a target's own
        ``namespace``/``pod`` labels to ``exported_namespace``/``exported_pod``
        when the job's target labels carry the same names, as with a DCGM
        exporter scraped through Kubernetes service discovery.
        """
        self._jobs[job] = ScrapeJob(job, tuple(targets), dict(labels or {}), honor_labels)
        self._reload()
        wanted = set(targets)

        def all_up() -> bool:
            active = self._get("/api/v1/targets", {"state": "active"})["activeTargets"]
            up = {
                t["labels"]["instance"]
                for t in active
                if t["labels"].get("job") == job and t["health"] == "up"
            }
            return wanted <= up

        what = f"prometheus to scrape {job} targets {sorted(wanted)}"
        wait_for(all_up, timeout=timeout, what=what)

    def remove_scrape_job(self, job: str) -> None:
        if self._jobs.pop(job, None) is not None:
            self._reload()

    def _write_config(self) -> None:
        config = {
            "global": {
                "scrape_interval": self.scrape_interval,
                "scrape_timeout": self.scrape_interval,
                "evaluation_interval": self.scrape_interval,
            },
            "scrape_configs": [j.to_config(self.scrape_interval) for j in self._jobs.values()],
        }
        # Write then rename so a reload never reads a half-written file.
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(config, sort_keys=False))
        tmp.replace(self.config_path)

    def _reload(self) -> None:
        self._write_config()
        if self._child is None:
            return
        response = self._http.post("/-/reload")
        if response.status_code != 200:
            raise PrometheusLabError(f"prometheus config reload failed: {response.text.strip()}")

    # -- history -------------------------------------------------------------

    def backfill(self, openmetrics_text: str) -> list[str]:
        """Load OpenMetrics samples as TSDB blocks; returns the new block ids.

        The text must end with ``# EOF`` and carry timestamps in seconds.
        """
        check_installed()
        self.tsdb_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.workdir) as tmp:
            source = Path(tmp) / "history.om"
            source.write_text(openmetrics_text)
            # promtool writes into an empty staging dir first, so the block ids
            # it created are known and a failed run leaves the TSDB untouched.
            staging = Path(tmp) / "blocks"
            staging.mkdir()
            result = _run(
                [
                    PROMTOOL_BIN,
                    "tsdb",
                    "create-blocks-from",
                    "openmetrics",
                    "-q",
                    str(source),
                    str(staging),
                ]
            )
            if result.returncode != 0:
                raise PrometheusLabError(f"promtool backfill failed: {result.stderr.strip()}")
            blocks = sorted(p.name for p in staging.iterdir() if p.is_dir())
            for block in blocks:
                shutil.move(str(staging / block), self.tsdb_dir / block)
        if self._child is not None:
            self.stop()
            self.start()
        return blocks

    # -- queries -------------------------------------------------------------

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        """Instant query; returns ``data.result`` (a list of {metric, value})."""
        params: dict[str, str] = {"query": promql}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self._get("/api/v1/query", params)
        result: list[dict[str, Any]] = data["result"]
        return result

    def query_by(self, promql: str, label: str, at: float | None = None) -> dict[str, float]:
        """Instant query flattened to {value of ``label``: sample value}."""
        return {r["metric"].get(label, ""): float(r["value"][1]) for r in self.query(promql, at)}

    def query_range(
        self, promql: str, start: float, end: float, step: float
    ) -> list[dict[str, Any]]:
        params = {"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step}"}
        result: list[dict[str, Any]] = self._get("/api/v1/query_range", params)["result"]
        return result

    def _get(self, path: str, params: Mapping[str, str]) -> dict[str, Any]:
        response = self._http.get(path, params=params)
        try:
            body = response.json()
        except json.JSONDecodeError as exc:
            raise PrometheusLabError(f"{path}: not JSON ({response.status_code})") from exc
        if body.get("status") != "success":
            raise PrometheusLabError(f"{path}: {body.get('errorType')}: {body.get('error')}")
        data: dict[str, Any] = body["data"]
        return data


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=120, check=False)


def start_for_up(workdir: Path, kubeconfig: Path) -> str:
    """The hook ``tests/lab/cli.py up`` calls: Prometheus plus traffic for the sample Rollout."""
    # Imported here: the demo pulls in the Kubernetes half, which tests of
    # Prometheus alone do not need.
    from tests.lab.traffic.demo import start_for_up as start

    return start(workdir, kubeconfig)
