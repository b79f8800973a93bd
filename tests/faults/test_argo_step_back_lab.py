"""Ten concurrent Argo advances with the controller running, currentStepIndex
watched throughout: it must never go down.

Before: the status patch had no precondition; ten concurrent advances on a
progressing Rollout took currentStepIndex from 19 to 18. The end state alone
cannot show a step that went back and came forward again, so every value the
API server serves is recorded (`kubectl get -w`), not polled.
"""

from __future__ import annotations

import itertools
import subprocess
import threading

import pytest

from console.kube.backend import KubeBackend
from console.model import Action, ActionError, Seen
from tests.faults.conftest import Fault
from tests.faults.test_actions_lab import held_at_first_pause
from tests.kube.helpers import backend, unique_ns, wait_rollout
from tests.lab import binaries, sample
from tests.lab.kube import KubeLab

pytestmark = pytest.mark.lab


class StepWatch:
    """`kubectl get -w` of one Rollout's status.currentStepIndex: every value the API
    server served, in order (a step back and forth between two polls is seen too)."""

    def __init__(self, lab: KubeLab, ns: str) -> None:
        kubectl = binaries.kubectl()
        assert kubectl is not None
        self.proc = subprocess.Popen(
            [
                str(kubectl), f"--kubeconfig={lab.kubeconfig}", "get", "rollout", sample.NAME,
                "-n", ns, "-w", "-o", 'jsonpath={.status.currentStepIndex}{"\\n"}',
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )  # fmt: skip
        self.seen: list[int] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            text = line.strip().strip("'")
            if text.isdigit():
                with self._lock:
                    self.seen.append(int(text))

    def values(self) -> list[int]:
        with self._lock:
            return list(self.seen)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self._reader.join(5)


@pytest.mark.fault(
    "10 concurrent advances on an Argo Rollout, currentStepIndex watched throughout",
    "the index never decreases (1 -> 3, no step back)",
)
def test_ten_concurrent_advances_never_step_back(kube_lab: KubeLab, fault: Fault) -> None:
    ns = unique_ns("ko-back")
    held_at_first_pause(kube_lab, ns)
    watch = StepWatch(kube_lab, ns)
    try:
        kube_lab.wait_for(lambda: bool(watch.values()), timeout=30, what="the watch's first value")
        backends = [backend(kube_lab, ns) for _ in range(10)]  # ten consoles
        shown = next(r for r in backends[0].list() if r.ref.name == sample.NAME)
        seen = Seen.of(shown)  # one screen, ten operators
        outcomes: list[str] = []
        start = threading.Barrier(10)

        def click(b: KubeBackend) -> None:
            start.wait(30)
            try:
                b.act(shown.ref, Action.ADVANCE, seen=seen)
                outcomes.append("ok")
            except ActionError as exc:
                outcomes.append(type(exc).__name__)

        threads = [threading.Thread(target=click, args=(b,)) for b in backends]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        wait_rollout(
            kube_lab,
            ns,
            lambda ro: (
                bool(ro["status"].get("pauseConditions"))
                and ro["status"].get("currentStepIndex", 0) >= 3
            ),
            "held at a pause after the advances",
        )
        kube_lab.wait_for(
            lambda: watch.values()[-1] >= 3, timeout=30, what="the watch to see the pause"
        )
    finally:
        watch.close()
    served = watch.values()
    backs = [(a, b) for a, b in itertools.pairwise(served) if b < a]
    fault.observed(
        f"{outcomes.count('ok')} ok of 10; indexes served {' '.join(map(str, served))}; "
        f"steps back {backs or 'none'}"
    )
    assert not backs, served
    assert served[-1] == 3, served
