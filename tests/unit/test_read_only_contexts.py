"""Build 5: contexts marked read-only in the config file (k9s style): the kube
backend refuses actions there, before anything is sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.kube.backend import KubeBackend
from console.kube.config import ClusterConfig
from console.metrics.config import read_only_contexts
from console.model import Action, ActionUnavailable, ConsoleError, RolloutRef


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_contexts_marked_read_only_are_read(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        "contexts:\n  prod-eu: {read_only: true}\n  staging: {read_only: false}\n  dev:\n",
    )
    assert read_only_contexts(path) == frozenset({"prod-eu"})
    assert read_only_contexts(config(tmp_path, "prometheus: {url: http://p}\n")) == frozenset()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("contexts: [prod]\n", "'contexts' in the config file"),
        ("contexts:\n  prod: yes-please\n", "contexts.prod in the config file"),
        ("contexts:\n  prod: {read_only: 'yes'}\n", "must be true or false"),
    ],
)
def test_a_malformed_contexts_section_is_one_sentence(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(ConsoleError, match=says):
        read_only_contexts(config(tmp_path, text))


def backend(read_only: frozenset[str]) -> KubeBackend:
    clusters = [
        ClusterConfig("prod-eu", None, "default", "me"),  # type: ignore[arg-type]
        ClusterConfig("staging", None, "default", "me"),  # type: ignore[arg-type]
    ]
    return KubeBackend(clusters, read_only_contexts=read_only, check_access=False)


def test_the_kube_backend_refuses_actions_and_annotations_on_a_read_only_context() -> None:
    b = backend(frozenset({"prod-eu", "elsewhere"}))
    assert b.read_only_clusters == frozenset({"prod-eu"}) and not b.read_only
    ref = RolloutRef("prod-eu", "ml", "app")
    for action in Action:
        with pytest.raises(ActionUnavailable, match="the context prod-eu is read-only"):
            b.act(ref, action)
    with pytest.raises(ActionUnavailable, match="read-only"):
        b.annotate(ref, {"rollout-console.io/x": "1"})


def test_every_context_read_only_is_a_read_only_console() -> None:
    assert backend(frozenset({"prod-eu", "staging"})).read_only
