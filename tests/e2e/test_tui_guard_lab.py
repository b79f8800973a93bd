"""`--guard` in the TUI on the lab: it takes the same Lease as the in-cluster guard,
so it never acts beside one, and takes over when that one lets go.

A real API server; the "in-cluster guard" is a LeaseElector holding the Lease, as
`rollout-console guard` does.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from console.app import RolloutConsoleApp
from console.cli import build_parser
from console.guard.lease import LEASE_NAME, LeaseElector
from console.sources import make_guard, make_sources
from tests.lab.kube import KubeLab
from tests.ui.drive import until

pytestmark = pytest.mark.lab


async def test_tui_guard_stays_follower_beside_a_guard_then_takes_over(kube_lab: KubeLab) -> None:
    ns = f"tui-guard-{uuid.uuid4().hex[:6]}"
    kube_lab.kubectl("create", "namespace", ns)
    kubeconfig = str(kube_lab.kubeconfig)
    args = build_parser().parse_args(
        ["--kube", "--kubeconfig", kubeconfig, "-n", ns, "--guard", "--lease-namespace", ns]
    )
    backend, metrics = make_sources(args)
    client = backend.clusters["lab"].client  # type: ignore[attr-defined]
    in_cluster = LeaseElector(client, ns, "in-cluster-guard", renew_every_s=1, retry_every_s=0.5)
    assert in_cluster.try_once(), "the in-cluster guard holds the Lease first"
    held = threading.Event()
    in_cluster.start(held)
    wiring = make_guard(args, backend, metrics)
    assert wiring.guard is not None and wiring.status is not None
    wiring.every_s = 0.5
    app = RolloutConsoleApp(
        backend,
        metrics,
        guard=wiring.guard,
        guard_every_s=wiring.every_s,
        guard_status=wiring.status,
    )
    try:
        async with app.run_test(size=(120, 30)) as pilot:

            def status() -> str:
                return str(app.screen.query_one("#status").render())

            await until(
                pilot,
                lambda: "guard lab: in-cluster-guard" in status(),
                "the status line to name the in-cluster guard",
                timeout=30,
            )
            assert wiring.guard.is_leader() is False, "never acts beside an in-cluster guard"
            # The in-cluster guard shuts down (SIGTERM releases the Lease): this one leads.
            held.set()
            await until(pilot, lambda: wiring.guard.is_leader(), "the TUI to take the Lease", 30)
            await until(
                pilot,
                lambda: "guard lab: " in status() and "in-cluster-guard" not in status(),
                "the status line to name this console's guard",
                30,
            )
            lease = kube_lab.get_json("lease", LEASE_NAME, "-n", ns)
            assert lease["spec"]["holderIdentity"] != "in-cluster-guard"
    finally:
        held.set()
        wiring.stop.set()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if kube_lab.get_json("lease", LEASE_NAME, "-n", ns)["spec"]["holderIdentity"] == "":
            return
        time.sleep(0.2)  # poll interval, bounded by the deadline
    raise AssertionError("the TUI's guard did not release the Lease on exit")
