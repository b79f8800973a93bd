"""tests/kube: the Kubernetes backend against the lab's real control plane.

The `kube_lab` fixture comes from tests/lab/fixtures_kube.py, loaded as a
plugin by tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.kube import helpers


@pytest.fixture(autouse=True)
def _delete_test_namespaces(request: pytest.FixtureRequest) -> Iterator[None]:
    """Lab tests' namespaces go away after each test: pods would pile up on kwok nodes."""
    yield
    if "kube_lab" not in request.fixturenames or not helpers.CREATED:
        return
    lab = request.getfixturevalue("kube_lab")
    names = list(helpers.CREATED)
    helpers.CREATED.clear()
    lab.kubectl("delete", "namespace", "--wait=false", "--ignore-not-found", *names, check=False)
