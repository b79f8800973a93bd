"""Lists are paged against the lab's API server: limit + continue, every object once."""

from __future__ import annotations

from typing import Any

import pytest

from console.kube.provider import ResourceType
from tests.kube.helpers import backend, unique_ns
from tests.lab.kube import KubeLab

pytestmark = pytest.mark.lab

CONFIGMAPS = ResourceType("", "v1", "configmaps", "ConfigMap")


def test_a_list_longer_than_a_page_yields_every_object_once(kube_lab: KubeLab) -> None:
    ns = unique_ns("ko-paging")
    names = [f"cm-{i}" for i in range(7)]
    kube_lab.apply_yaml(
        "\n---\n".join(
            [f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}"]
            + [
                f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {n}\n  namespace: {ns}"
                for n in names
            ]
        )
    )
    b = backend(kube_lab, ns)
    [c] = b.clusters.values()
    c.client.page_size = 2
    sent: list[list[tuple[str, str]]] = []
    real = c.client.send

    def send(method: str, path: str, query: Any = (), *args: Any) -> Any:
        sent.append(list(query))
        return real(method, path, query, *args)

    c.client.send = send  # type: ignore[method-assign]
    items, version = c.client.list_with_version(CONFIGMAPS, ns)
    got = [i["metadata"]["name"] for i in items if i["metadata"]["name"].startswith("cm-")]
    assert sorted(got) == names  # each once: kube-root-ca.crt is there too
    assert {i["kind"] for i in items} == {"ConfigMap"}
    # 8 objects (with kube-root-ca.crt) in pages of 2: four requests, each but the
    # first carrying the previous page's continue token.
    assert len(sent) == 4
    assert all(("limit", "2") in q for q in sent)
    assert [any(k == "continue" for k, _ in q) for q in sent] == [False, True, True, True]
    # The version of a paged list is one to watch from: nothing listed comes again.
    events = list(c.client.watch_events(CONFIGMAPS, ns, version, 1))
    assert [e for e in events if e["type"] != "BOOKMARK"] == []
