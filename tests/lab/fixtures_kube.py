"""Pytest fixtures for the Kubernetes half of the lab (load with ``pytest_plugins``).

``kube_lab``  one real control plane per session (etcd, kube-apiserver,
              controller-manager, scheduler, kwok, Argo Rollouts) in a temporary
              directory; or, when ROLLOUT_LAB_KUBECONFIG names the admin
              kubeconfig of a lab started by ``tests/lab/up``, that lab, left running.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab.kube import KubeLab, LabStartError


@pytest.fixture(scope="session")
def kube_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeLab]:
    running = os.environ.get("ROLLOUT_LAB_KUBECONFIG")
    if running:
        path = Path(running)
        if not path.is_file():
            pytest.fail(f"lab: ROLLOUT_LAB_KUBECONFIG={running} is not a file", pytrace=False)
        yield KubeLab.attach(path)
        return
    lab = KubeLab(tmp_path_factory.mktemp("kube"))
    try:
        lab.start()
    except LabStartError as exc:
        pytest.fail(str(exc), pytrace=False)
    except (TimeoutError, RuntimeError) as exc:
        pytest.fail(f"lab: kubernetes did not start: {exc}; see {lab.log_dir}", pytrace=False)
    try:
        yield lab
    finally:
        lab.stop()
