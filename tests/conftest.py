"""Shared pytest set-up: the lab's fixtures are plugins, defined once per session."""

pytest_plugins = ["tests.lab.fixtures_kube", "tests.lab.fixtures_prom"]
