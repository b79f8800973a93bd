"""Shared pytest set-up: lab fixtures are plugins, loaded for every test."""

pytest_plugins: list[str] = []
