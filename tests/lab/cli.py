"""``tests/lab/up`` and ``tests/lab/down``: a long-running lab in a fixed state directory.

Layout of ``${ROLLOUT_LAB_STATE:-~/.local/state/rollout-console-lab}``:
``kube/`` is the KubeLab work dir and ``prometheus/`` the Prometheus half's; each
keeps its pid files in ``<dir>/pids``, which is all ``down`` needs.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from tests.lab import binaries, proc, sample
from tests.lab.kube import STOP_ORDER, KubeLab, LabStartError


def state_dir() -> Path:
    default = Path.home() / ".local" / "state" / "rollout-console-lab"
    return Path(os.environ.get("ROLLOUT_LAB_STATE", default))


def down(state: Path) -> list[str]:
    """Stop every process group recorded anywhere under ``state``."""
    stopped: list[str] = []
    for pid_dir in sorted(state.rglob("pids")):
        if pid_dir.is_dir():
            stopped += proc.stop_pid_files(pid_dir, first=STOP_ORDER)
    return stopped


def _start_prometheus(state: Path, lab: KubeLab) -> str | None:
    """HOOK for the Prometheus + traffic half (tests/lab/prom.py, tests/lab/traffic/).

    If tests.lab.prom provides ``start_for_up(workdir: Path, kubeconfig: Path) -> str``
    (start Prometheus and the traffic lab detached, return the Prometheus URL), call it.
    """
    from tests.lab import prom

    start = getattr(prom, "start_for_up", None)
    if start is None:
        return None
    url: str = start(state / "prometheus", lab.kubeconfig)
    return url


def up() -> int:
    state = state_dir()
    if state.exists():
        # A fresh lab every time: per-run certificates and no state from an older run.
        down(state)
        shutil.rmtree(state)
    lab = KubeLab(state / "kube")
    try:
        lab.start()
        sample.deploy(lab)
        sample.start_canary(lab)
        # "Mid-canary": the controller has taken the first setWeight step. It then
        # reaches the indefinite pause at 30 % on its own about 30 s later.
        lab.wait_for(
            lambda: (sample.get_rollout(lab).get("status", {}).get("currentStepIndex") or 0) >= 1,
            timeout=60,
            what="sample Rollout to start its canary",
        )
        prometheus_url = _start_prometheus(state, lab)
    except LabStartError as exc:
        print(exc, file=sys.stderr)
        down(state)
        return 1
    except (TimeoutError, RuntimeError) as exc:
        print(f"lab: up failed: {exc}; logs in {lab.log_dir}", file=sys.stderr)
        down(state)
        return 1
    except BaseException:
        # Anything else (a bug, Ctrl-C): leave no half-started lab behind.
        down(state)
        raise
    kubectl = binaries.kubectl()
    print(f"export KUBECONFIG={lab.kubeconfig}")
    print(f"# kubectl: {kubectl}")
    if prometheus_url:
        print(f"# Prometheus: {prometheus_url}")
    else:
        print("# Prometheus: not started (tests.lab.prom.start_for_up is not there yet)")
    print(f"# logs: {lab.log_dir}; stop with tests/lab/down")
    print(f"# try: {kubectl} --kubeconfig {lab.kubeconfig} get rollouts -A")
    return 0


def main(argv: list[str]) -> int:
    if argv[1:] == ["up"]:
        return up()
    if argv[1:] == ["down"]:
        stopped = down(state_dir())
        print(f"lab: stopped {', '.join(stopped) if stopped else 'nothing (not running)'}")
        return 0
    print("usage: python -m tests.lab.cli up|down", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
