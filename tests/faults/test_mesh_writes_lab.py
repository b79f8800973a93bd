"""Ten consoles advance a mesh canary at once: the step chain moves one step per
round, never back, never compounding (issue 9: retried clicks used to re-base on
the current weight, and ten clicks from people who saw 10 % became a promotion).
"""

from __future__ import annotations

import threading

import pytest

from console.kube.backend import KubeBackend
from console.model import Action, Rollout, Seen
from tests.faults.conftest import Fault
from tests.kube.test_mesh_lab import APP, backend_for, find, istio_ns, vs_weights
from tests.lab.kube import KubeLab

pytestmark = pytest.mark.lab

__all__ = ["istio_ns"]  # the fixture: a VirtualService canary at 10 %

CONSOLES = 10


def advance_together(backends: list[KubeBackend], shown: Rollout) -> list[BaseException]:
    seen = Seen.of(shown)
    go = threading.Barrier(len(backends))
    errors: list[BaseException] = []

    def advance(backend: KubeBackend) -> None:
        go.wait(timeout=30)
        try:
            backend.act(shown.ref, Action.ADVANCE, seen=seen)
        except BaseException as exc:  # surfaced by the caller
            errors.append(exc)

    threads = [threading.Thread(target=advance, args=(b,)) for b in backends]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors


@pytest.mark.fault(
    "10 concurrent advances on a mesh (Istio) canary, two rounds",
    "one step per round (10 -> 20 -> 30 %), the other nine refused each time",
)
def test_ten_consoles_that_saw_the_same_step_advance_it_once(
    kube_lab: KubeLab, istio_ns: str, fault: Fault
) -> None:
    backends = [backend_for(kube_lab.kubeconfig, istio_ns) for _ in range(CONSOLES)]
    chain = [vs_weights(kube_lab.get_json("virtualservice", APP, "-n", istio_ns))[1]]
    refused = []
    for _ in range(2):
        shown = find(backends[0], "istio", APP)  # ten operators, one screen
        errors = advance_together(backends, shown)
        refused.append(len(errors))
        assert all("press again" in str(e) for e in errors), errors
        chain.append(vs_weights(kube_lab.get_json("virtualservice", APP, "-n", istio_ns))[1])
    fault.observed(f"canary weight {' -> '.join(map(str, chain))} %, refused {refused}")
    assert chain == [10, 20, 30]
    assert refused == [CONSOLES - 1, CONSOLES - 1]
