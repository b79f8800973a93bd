"""The installed `rollout-console` on the lab's cluster, driven with keys in tmux.

What an incident responder does over SSH: open the canary, pause it at once,
resume, then roll it back. Each key must land on the real Rollout the way
`kubectl argo rollouts` would, and the real controller must follow.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.tmux import TmuxSession, installed_binary
from tests.lab import sample
from tests.lab.kube import KubeLab
from tests.lab.proc import wait_for

pytestmark = [pytest.mark.lab, pytest.mark.e2e]


@pytest.fixture
def canary_ns(kube_lab: KubeLab) -> Iterator[str]:
    ns = f"tmux-{uuid.uuid4().hex[:6]}"
    sample.wait_at_indefinite_pause(kube_lab, ns)
    yield ns
    kube_lab.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_pause_resume_rollback_through_tmux(
    kube_lab: KubeLab, canary_ns: str, tmp_path: Path
) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "KUBECONFIG": str(kube_lab.kubeconfig),
    }
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]  # a worktree's code, not the install's
    tmux = TmuxSession([installed_binary(), "-n", canary_ns], 120, 40, env)

    def ro() -> dict[str, Any]:
        return sample.get_rollout(kube_lab, canary_ns)

    try:
        tmux.wait_for(
            lambda s: sample.NAME in s and "Promote step" in s, "the lab's rollout in the list", 30
        )
        tmux.keys("Enter")
        tmux.wait_text("S stable")

        tmux.keys("p")
        wait_for(lambda: ro()["spec"].get("paused") is True, timeout=20, what="spec.paused=true")
        tmux.wait_text("manually paused")  # the plugin's message for spec.paused

        tmux.keys("r")
        wait_for(lambda: not ro()["spec"].get("paused"), timeout=20, what="spec.paused cleared")

        tmux.keys("x")
        tmux.wait_text("any other key cancels")
        tmux.keys("y")
        wait_for(
            lambda: ro().get("status", {}).get("abort") is True, timeout=20, what="status.abort"
        )
        wait_for(
            lambda: sample.canary_weight(kube_lab, canary_ns) == 0,
            timeout=60,
            what="the controller to send the canary weight to 0",
        )
        tmux.wait_text("aborted", timeout=30)
        audit = (tmp_path / "state" / "rollout-console" / "audit.jsonl").read_text()
        assert [line for line in audit.splitlines() if '"result": "ok"' in line], audit
        tmux.keys("q")
        tmux.wait_for(lambda _: tmux.pane_dead(), "the console to exit")
    finally:
        tmux.close()
