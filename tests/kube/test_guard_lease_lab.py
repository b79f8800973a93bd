"""Two `rollout-console guard` processes with real ServiceAccount tokens, and the manifests.

The processes are the real CLI (subprocesses), each with its own identity, both
bound by the RBAC `guard --print-manifests` prints (as a Role in the test's
namespace). Exactly one acts; killing it hands the Lease to the other within the
lease duration; SIGTERM releases the Lease.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from console.guard.lease import LEASE_DURATION_S, LEASE_NAME, RETRY_EVERY_S
from console.guard.manifests import manifests
from console.guard.verdicts import VERDICT_JSON_VERSION
from tests.kube import guard_helpers as G
from tests.kube.helpers import backend, deploy_canary, unique_ns
from tests.lab import sample
from tests.lab.kube import KubeLab
from tests.lab.prom import PrometheusLab

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]


def _guard_rules(ns: str) -> list[dict[str, Any]]:
    """The printed ClusterRole's and lease Role's rules, to bind in one namespace."""
    docs = {d["kind"]: d for d in manifests(ns)}
    return [*docs["ClusterRole"]["rules"], *docs["Role"]["rules"]]


class GuardProcess:
    def __init__(self, identity: str, argv: list[str], log: Path) -> None:
        self.identity = identity
        self.log = log
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
        env.pop("KUBECONFIG", None)
        with log.open("wb") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "console", *argv, "--identity", identity],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=REPO,
                start_new_session=True,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def lines(self, word: str) -> list[str]:
        return [line for line in self.text().splitlines() if f"Z {word} " in line]

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)


def _wait(check: Any, timeout: float, what: str, procs: list[GuardProcess]) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    logs = "\n".join(f"--- {p.identity}\n{p.text()[-2000:]}" for p in procs)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{logs}")


def _holder(lab: KubeLab, ns: str) -> str:
    lease = lab.get_json("lease", LEASE_NAME, "-n", ns)
    return str(lease["spec"].get("holderIdentity") or "")


def test_two_guards_one_pause_and_the_follower_takes_over(
    kube_lab: KubeLab, prom_lab: PrometheusLab, tmp_path: Path
) -> None:
    ns = unique_ns("guard-ha")
    deploy_canary(kube_lab, ns)  # held at an indefinite pause step, canary at 20 %
    kubeconfig = kube_lab.create_service_account_kubeconfig(ns, "guard", _guard_rules(ns))
    config = G.write_config(tmp_path / "config.yaml", prom_lab.url)
    gates = G.write_gates(tmp_path / "gates.yaml")
    argv = [
        "guard",
        "-n",
        ns,
        "--kubeconfig",
        str(kubeconfig),
        "--config",
        str(config),
        "--gates",
        str(gates),
        "--interval",
        f"{G.INTERVAL_S:g}s",
        "--lease-namespace",
        ns,
    ]
    probe = G.listed(backend(kube_lab, ns), sample.NAME)
    assert probe.canary is not None
    procs = [GuardProcess(f"guard-{i}", argv, tmp_path / f"guard-{i}.log") for i in (0, 1)]
    traffic = None
    try:
        leader_id = _wait(lambda: _leader(kube_lab, ns), 30, "a leader", procs)
        leader = next(p for p in procs if p.identity == leader_id)
        follower = next(p for p in procs if p is not leader)
        _wait(lambda: leader.lines("leader:"), 10, "the leader to say so", procs)
        traffic = sample.serve_bad_canary(
            kube_lab,
            prom_lab,
            ns,
            probe.stable.pods,
            probe.canary.pods,
            tmp_path / "traffic",
            job=f"guard-{ns}",
            duration=600,
        )
        _wait(lambda: leader.lines("paused"), 90, "the leader's pause", procs)
        assert sample.get_rollout(kube_lab, ns)["spec"].get("paused") is True
        # Let the follower judge the same breach for a few intervals: it must not act.
        time.sleep(3 * G.INTERVAL_S)  # nothing to poll for: proving an absence
        events = kube_lab.get_json(
            "events", "-n", ns, "--field-selector", "reason=RolloutConsolePause"
        )["items"]
        assert len(events) == 1, [e["message"] for e in events]
        assert events[0]["message"].startswith(f"system:serviceaccount:{ns}:guard: pause: ")
        assert not follower.lines("paused") and not follower.lines("pause-failed")
        assert sample.get_rollout(kube_lab, ns)["status"].get("abort") is not True
        # The headless verdict, with the same identity and sources: FAIL, exit 1.
        sources = argv[3:9]  # --kubeconfig, --config, --gates
        verdict = subprocess.run(
            [
                sys.executable,
                "-m",
                "console",
                "verdict",
                f"{ns}/{sample.NAME}",
                *sources,
                "-o",
                "json",
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            timeout=60,
        )
        assert verdict.returncode == 1, verdict.stderr
        data = json.loads(verdict.stdout)
        assert data["apiVersion"] == VERDICT_JSON_VERSION and data["state"] == "FAIL"
        assert {g["name"]: g["state"] for g in data["gates"]}["p99-latency"] == "FAIL"

        # Kill the leader: no release; the follower takes over within the lease duration.
        killed_at = time.monotonic()
        os.killpg(leader.popen.pid, signal.SIGKILL)
        leader.popen.wait(timeout=10)
        _wait(
            lambda: _holder(kube_lab, ns) == follower.identity,
            LEASE_DURATION_S + RETRY_EVERY_S + 3,
            "the follower to take the Lease",
            procs,
        )
        took = time.monotonic() - killed_at
        assert took <= LEASE_DURATION_S + RETRY_EVERY_S + 3, took
        _wait(lambda: follower.lines("leader:"), 10, "the new leader to say so", procs)
        lease = kube_lab.get_json("lease", LEASE_NAME, "-n", ns)
        assert lease["spec"]["leaseTransitions"] >= 1
        assert "rollout-console.io/last-evaluation" in lease["metadata"]["annotations"]
        # Still exactly one pause: the new leader sees it paused already.
        time.sleep(2 * G.INTERVAL_S)  # proving an absence again
        events = kube_lab.get_json(
            "events", "-n", ns, "--field-selector", "reason=RolloutConsolePause"
        )["items"]
        assert len(events) == 1

        # SIGTERM: a clean shutdown that releases the Lease at once.
        follower.popen.send_signal(signal.SIGTERM)
        assert follower.popen.wait(timeout=20) == 0
        assert _holder(kube_lab, ns) == ""
        assert "guard stopped, lease released" in follower.text()
    finally:
        if traffic is not None:
            traffic.stop()
        for p in procs:
            p.stop()


def _leader(lab: KubeLab, ns: str) -> str | None:
    result = lab.kubectl("get", "lease", LEASE_NAME, "-n", ns, "-o", "json", check=False)
    if not isinstance(result, str) or not result.strip().startswith("{"):
        return None
    holder = json.loads(result)["spec"].get("holderIdentity")
    return str(holder) if holder else None


def test_manifests_apply_cleanly_and_grant_least_privilege(kube_lab: KubeLab) -> None:
    ns = unique_ns("guard-sys")
    text = subprocess.run(
        [sys.executable, "-m", "console", "guard", "--print-manifests", "-n", ns],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    ).stdout
    out = kube_lab.kubectl("apply", "-f", "-", input=text)
    assert "deployment.apps/rollout-console-guard created" in out, out
    names = {f"{d['kind']}/{d['metadata']['name']}" for d in yaml.safe_load_all(text) if d}
    assert len(names) == 8
    try:
        sa = f"system:serviceaccount:{ns}:rollout-console-guard"

        def can(*args: str) -> bool:
            answer = kube_lab.kubectl("auth", "can-i", "--as", sa, *args, check=False)
            return str(answer).strip().splitlines()[0] == "yes"

        allowed = [
            ("patch", "rollouts.argoproj.io", "-n", "any-ns"),
            ("list", "rollouts.argoproj.io", "-A"),
            ("watch", "analysisruns.argoproj.io", "-A"),
            ("patch", "virtualservices.networking.istio.io", "-n", "x"),
            ("patch", "httproutes.gateway.networking.k8s.io", "-n", "x"),
            ("patch", "canaries.flagger.app", "-n", "x"),
            ("create", "events", "-n", "x"),
            ("get", "configmaps/rollout-console-gates", "-n", "x"),
            ("update", "leases/rollout-console-guard", "-n", ns),
            ("create", "leases", "-n", ns),
        ]
        denied = [
            ("patch", "rollouts.argoproj.io", "--subresource=status", "-n", "x"),
            ("update", "rollouts.argoproj.io", "-n", "x"),
            ("delete", "rollouts.argoproj.io", "-n", "x"),
            ("create", "rollouts.argoproj.io", "-n", "x"),
            ("patch", "deployments.apps", "-n", "x"),
            ("patch", "destinationrules.networking.istio.io", "-n", "x"),
            ("get", "secrets", "-n", "x"),
            ("get", "configmaps/other", "-n", "x"),
            ("list", "configmaps", "-A"),
            ("update", "leases/rollout-console-guard", "-n", "x"),
            ("update", "leases/other", "-n", ns),
            ("delete", "events", "-n", "x"),
            ("patch", "analysisruns.argoproj.io", "-n", "x"),
        ]
        wrong = [a for a in allowed if not can(*a)] + [d for d in denied if can(*d)]
        assert not wrong, f"RBAC is not as intended for: {wrong}"
    finally:
        kube_lab.kubectl(
            "delete", "clusterrole,clusterrolebinding", "rollout-console-guard", check=False
        )


def test_lease_protocol_on_the_real_api_server(kube_lab: KubeLab) -> None:
    """Two electors, short durations: one leader at a time, release hands over at once,
    a silent leader is replaced after the lease duration, transitions are counted."""
    import threading

    from console.guard.lease import LeaseElector, guard_status

    ns = unique_ns("guard-lease")
    kube_lab.kubectl("create", "namespace", ns)
    client = backend(kube_lab, ns).clusters["lab"].client
    a, b = (
        LeaseElector(client, ns, name, duration_s=4, renew_every_s=1, retry_every_s=0.5)
        for name in ("a", "b")
    )
    # No such namespace: never leader, and one sentence that says what to do.
    lost = LeaseElector(client, f"{ns}-absent", "lost")
    assert not lost.try_once() and not lost.is_leader()
    assert lost.problem == (
        f"The namespace '{ns}-absent' for the guard's Lease does not exist on cluster "
        "'lab': create it or pass --lease-namespace."
    )
    # Both try at the same moment: the API server's optimistic concurrency picks one.
    results: dict[str, bool] = {}
    barrier = threading.Barrier(2)

    def race(e: LeaseElector) -> None:
        barrier.wait()
        results[e.identity] = e.try_once()

    threads = [threading.Thread(target=race, args=(e,)) for e in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()) == [False, True], results
    first, second = (a, b) if results["a"] else (b, a)
    assert first.is_leader() and not second.is_leader()
    assert not second.try_once(), "a held, unexpired Lease is not taken"
    assert first.try_once(), "the holder renews"
    first.note_evaluation(1_800_000_000.0)
    assert first.try_once()
    status = guard_status(client, ns)
    assert status.active and status.holder == first.identity
    assert status.last_evaluation == 1_800_000_000.0 and not status.dry_run

    # Release: the other takes it at its next try, no waiting for expiry.
    first.release()
    assert not first.is_leader() and _holder(kube_lab, ns) == ""
    assert not guard_status(client, ns).active
    assert second.try_once() and second.is_leader()

    # A leader that goes silent (killed: no release) is replaced after the duration.
    silent_at = time.monotonic()
    assert not first.try_once()
    took = _wait(lambda: first.try_once(), 4 + 1 + 3, "the silent leader's Lease", [])
    assert took and time.monotonic() - silent_at >= 3.0, "not before the lease expired"
    lease = kube_lab.get_json("lease", LEASE_NAME, "-n", ns)
    assert lease["spec"]["holderIdentity"] == first.identity
    assert lease["spec"]["leaseTransitions"] == 2
    # The replaced leader stops acting by itself once its renewals fail.
    deadline = time.monotonic() + second.renew_deadline_s + 1
    while second.is_leader() and time.monotonic() < deadline:
        second.try_once()
        time.sleep(0.2)
    assert not second.is_leader()
