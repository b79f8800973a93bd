"""tests/kube: the Kubernetes backend against the lab's real control plane.

The lab fixture is imported here because no root conftest loads
tests.lab.fixtures_kube yet (a non-root conftest may not set pytest_plugins).
When tests/conftest.py loads it, delete this import so the session-scoped lab
is defined once.
"""

from __future__ import annotations

from tests.lab.fixtures_kube import kube_lab  # noqa: F401  (fixture)
