"""Exit codes against the lab: a namespaced identity's `get -A` sees nothing and says so."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from console import exit_codes
from tests.faults.conftest import Fault
from tests.kube.helpers import ARGO_READER, deploy_canary, unique_ns
from tests.lab.kube import KubeLab

pytestmark = pytest.mark.lab


@dataclass(frozen=True)
class Namespaced:
    ns: str
    kubeconfig: Path
    #: `get -A` as this identity, run once for the rows that read it.
    everywhere: subprocess.CompletedProcess[str]


def get(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console", "get", "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )


@pytest.fixture(scope="module")
def namespaced(kube_lab: KubeLab) -> Namespaced:
    """A service account that may read Argo Rollouts in its own namespace only."""
    ns = unique_ns("ko-exit")
    deploy_canary(kube_lab, ns, start=False)
    kubeconfig = kube_lab.create_service_account_kubeconfig(ns, "viewer", ARGO_READER)
    return Namespaced(ns, kubeconfig, get(kubeconfig, "-A"))


@pytest.mark.fault(
    "get -A with a namespaced token",
    "exit 4, one sentence; own namespace exit 0",
)
def test_get_all_namespaces_with_a_namespaced_token_is_nothing_visible(
    namespaced: Namespaced,
    fault: Fault,
) -> None:
    everywhere = namespaced.everywhere
    last = everywhere.stderr.strip().splitlines()[-1].removeprefix("rollout-console: ")
    fault.observed(f"exit {everywhere.returncode}: {last}")
    assert everywhere.returncode == exit_codes.NOTHING_VISIBLE, everywhere.stderr
    assert "nothing is visible to this identity" in everywhere.stderr
    # Its own namespace it may read: the rollout is there, exit 0.
    own = get(namespaced.kubeconfig, "-n", namespaced.ns)
    assert own.returncode == exit_codes.OK, own.stderr
    assert "tf-serving" in own.stdout


@pytest.mark.fault(
    "get -A with a namespaced token: the Forbidden note",
    "each kind named once (pods once, though two providers read pods)",
)
def test_the_forbidden_note_names_each_kind_once(namespaced: Namespaced, fault: Fault) -> None:
    err = namespaced.everywhere.stderr
    note = next((line for line in err.splitlines() if " pods" in line), "")
    pods = err.count(" pods,") + err.count(" pods ")
    fault.observed(f"'pods' {pods} times: {note.removeprefix('rollout-console: ')[:160]!r}")
    assert pods == 1, err
