"""Exit codes against the lab: a namespaced identity's `get -A` sees nothing and says so."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from console import exit_codes
from tests.faults.conftest import Fault
from tests.kube.helpers import ARGO_READER, deploy_canary, unique_ns
from tests.lab.kube import KubeLab

pytestmark = pytest.mark.lab


@pytest.mark.fault(
    "get -A with a namespaced token",
    "exit 4, one sentence; own namespace exit 0",
)
def test_get_all_namespaces_with_a_namespaced_token_is_nothing_visible(
    kube_lab: KubeLab,
    fault: Fault,
) -> None:
    ns = unique_ns("ko-exit")
    deploy_canary(kube_lab, ns, start=False)
    kubeconfig = kube_lab.create_service_account_kubeconfig(ns, "viewer", ARGO_READER)

    def get(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "console", "get", "--kubeconfig", str(kubeconfig), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "NO_COLOR": "1"},
        )

    everywhere = get("-A")
    last = everywhere.stderr.strip().splitlines()[-1].removeprefix("rollout-console: ")
    fault.observed(f"exit {everywhere.returncode}: {last}")
    assert everywhere.returncode == exit_codes.NOTHING_VISIBLE, everywhere.stderr
    assert "nothing is visible to this identity" in everywhere.stderr
    # Each kind named once, though two providers read pods.
    assert everywhere.stderr.count(" pods,") + everywhere.stderr.count(" pods ") == 1
    # Its own namespace it may read: the rollout is there, exit 0.
    own = get("-n", ns)
    assert own.returncode == exit_codes.OK, own.stderr
    assert "tf-serving" in own.stdout
