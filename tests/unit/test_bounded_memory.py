"""Hard caps on what the console keeps per rollout (issue 9, item 8).

The store's own bounds are in test_store.py. These push the other per-rollout
structures past their caps and check the bound, and that a deleted rollout's
entries go.
"""

from __future__ import annotations

from console.metrics import prometheus
from console.metrics.config import load_config
from console.metrics.prometheus import PrometheusSource
from console.model import (
    Image,
    Phase,
    ProviderKind,
    Role,
    Rollout,
    RolloutRef,
    VersionInfo,
)


def rollout(name: str, ns: str = "ml") -> Rollout:
    return Rollout(
        ref=RolloutRef("", ns, name),
        provider=ProviderKind.ARGO,
        phase=Phase.PROGRESSING,
        stable=VersionInfo(Role.STABLE, images=(Image.parse("m:v1"),), pod_hash="aaa"),
        canary=VersionInfo(Role.CANARY, images=(Image.parse("m:v2"),), pod_hash="bbb"),
    )


def source() -> PrometheusSource:
    # No request is made: the split works from the (empty) cache.
    return PrometheusSource(load_config(url="http://127.0.0.1:9"))


def test_metrics_kept_per_rollout_are_bounded_least_recently_used_first() -> None:
    src = source()
    cap = prometheus.DERIVED_KEPT
    batches = [
        [rollout(f"r{i}", f"ns{i % 50}") for i in range(k, k + 500)]
        for k in range(0, cap + 1500, 500)
    ]
    for batch in batches:
        out = src._split(batch, [], 300.0)
        assert set(out) == {r.ref.key for r in batch}, "every asked rollout is answered"
    assert len(src._derived) == cap
    assert len(src._derived_sig) == cap
    newest = {r.ref.key for r in batches[-1]}
    assert newest <= set(src._derived), "the newest are kept, the oldest went"
    assert batches[0][0].ref.key not in src._derived


def test_a_deleted_rollouts_metrics_are_dropped_at_the_next_split() -> None:
    src = source()
    a, b = rollout("a"), rollout("b")
    src._split([a, b], [], 300.0)
    src.forget([a.ref.key])
    src._split([b], [], 300.0)
    assert set(src._derived) == {b.ref.key}
    assert set(src._derived_sig) == {b.ref.key}


class _ConfigMaps:
    """The gate ConfigMap reads an API answers: none exist; listing is allowed."""

    cluster = "c"

    def __init__(self) -> None:
        self.gets = 0

    def get(self, rt: object, namespace: str, name: str) -> dict[str, object]:
        from console.kube.errors import ApiError

        self.gets += 1
        raise ApiError(404, "Not Found", "")

    def request(self, *args: object, **kwargs: object) -> object:
        return {"items": []}


def test_gate_configmaps_are_kept_for_a_bounded_number_of_namespaces() -> None:
    from console.guard import sources
    from console.guard.sources import ConfigMapGates

    gates = ConfigMapGates(_ConfigMaps(), ttl_s=30, clock=lambda: 0.0)
    for i in range(sources.NAMESPACES_KEPT + 300):
        assert gates(f"pr-{i}") == ({}, None)
    assert len(gates._cache) == sources.NAMESPACES_KEPT
    assert len(gates._good) <= sources.NAMESPACES_KEPT
    assert "pr-0" not in gates._cache, "the oldest read went first"


def test_an_evaluation_keeps_only_the_namespaces_that_have_a_canary() -> None:
    from console.guard.sources import ConfigMapGates

    gates = ConfigMapGates(_ConfigMaps(), ttl_s=30, clock=lambda: 0.0)
    gates.prefetch({"a", "b", "c"})
    assert set(gates._cache) == {"a", "b", "c"}
    gates.prefetch({"b"})  # a's and c's canaries are gone
    assert set(gates._cache) == {"b"}
    assert set(gates._good) == {"b"}


def test_guard_failure_histories_are_capped_and_go_with_their_rollout() -> None:
    from console.guard.debounce import MAX_N, Debounce

    d = Debounce()
    for i in range(MAX_N * 4):
        d.record("ns/a", "errors", i % 2 == 0, ("epoch",), n=MAX_N)
        d.record("ns/b", "errors", True, ("epoch",), n=MAX_N)
    assert len(d.history("ns/a", "errors")) == MAX_N
    d.keep_only({"ns/b"})  # a was deleted: the next evaluation no longer sees it
    assert d.history("ns/a", "errors") == ()
    assert len(d.history("ns/b", "errors")) == MAX_N
    assert set(d._history) == {("ns/b", "errors")}


def test_freed_heap_memory_is_handed_back() -> None:
    import platform

    import pytest

    from console import memory

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt and malloc_trim are glibc's")

    def rss_mb() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096 / 1e6

    assert memory.limit_arenas()
    # 4 KiB blocks come from malloc's heap (not pymalloc, not mmap); one kept in
    # every 64 pins the heap, so freeing the rest returns nothing by itself.
    blocks = [bytes(4096) for _ in range(40_000)]
    pins = blocks[::64]
    del blocks
    before = rss_mb()
    assert memory.trim()
    assert rss_mb() < before - 50, "most of the ~160 MB freed went back"
    del pins


def test_the_listed_heap_is_left_out_of_collections() -> None:
    # In a subprocess: freezing this test process's heap would keep every later
    # test's garbage cycles alive.
    import subprocess
    import sys

    code = (
        "import gc\n"
        "from console import memory\n"
        "store = [{'metadata': {'name': str(i)}, 'spec': [i]} for i in range(100_000)]\n"
        "young = len(gc.get_objects())\n"
        "memory.settle_heap()\n"
        "print(gc.get_freeze_count() >= 200_000, len(gc.get_objects()) < young // 100,"
        " gc.get_threshold() == memory.GC_THRESHOLDS)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == ["True", "True", "True"], out.stdout + out.stderr


def test_a_full_collection_frees_cycles_that_were_settled() -> None:
    import subprocess
    import sys

    code = (
        "import gc, weakref\n"
        "from console import memory\n"
        "class Node: pass\n"
        "a, b = Node(), Node()\n"
        "a.peer, b.peer = b, a\n"
        "probe = weakref.ref(a)\n"
        "memory.settle_heap()\n"
        "del a, b\n"
        "gc.collect()\n"
        "kept = probe() is not None\n"
        "memory.collect_settled()\n"
        "print(kept, probe() is None, gc.get_freeze_count() > 0)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    # Settled, a dead cycle outlives ordinary collections; the periodic full one frees it.
    assert out.stdout.split() == ["True", "True", "True"], out.stdout + out.stderr
