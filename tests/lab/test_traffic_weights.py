"""How the load generator reads a VirtualService split and spreads requests over it."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import pytest

from tests.lab.traffic.weights import SmoothWeightedPicker, weights_from_virtualservice


def _vs(*http: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "tf-serving"}, "spec": {"hosts": ["tf"], "http": list(http)}}


def _dest(subset: str | None, weight: int | None, host: str = "tf") -> dict[str, Any]:
    destination: dict[str, Any] = {"host": host}
    if subset:
        destination["subset"] = subset
    return {"destination": destination} | ({} if weight is None else {"weight": weight})


def test_subset_split_of_the_unmatched_route_is_used() -> None:
    header_route = {
        "match": [{"headers": {"user-tier": {"exact": "premium"}}}],
        "route": [_dest("v2", 100)],
    }
    default = {"name": "primary", "route": [_dest("v1", 90), _dest("v2", 10)]}
    assert weights_from_virtualservice(_vs(header_route, default)) == {"v1": 90, "v2": 10}
    assert weights_from_virtualservice(_vs(header_route, default), "primary") == {
        "v1": 90,
        "v2": 10,
    }


def test_host_split_and_istio_defaults() -> None:
    hosts = {"route": [_dest(None, 70, "tf-stable"), _dest(None, 30, "tf-canary")]}
    assert weights_from_virtualservice(_vs(hosts)) == {"tf-stable": 70, "tf-canary": 30}
    assert weights_from_virtualservice(_vs({"route": [_dest("v1", None)]})) == {"v1": 100}


def test_unknown_route_name_is_an_error() -> None:
    with pytest.raises(ValueError, match="no http route named 'canary'"):
        weights_from_virtualservice(_vs({"route": [_dest("v1", 100)]}), "canary")


def test_picker_is_exact_over_each_cycle_and_follows_changes() -> None:
    picker = SmoothWeightedPicker()
    picker.set({"v1": 80, "v2": 20})
    first = Counter(itertools.islice(iter(picker.pick, None), 100))
    assert first == {"v1": 80, "v2": 20}
    assert picker.set({"v1": 0, "v2": 100})
    assert {picker.pick() for _ in range(10)} == {"v2"}
    assert not picker.set({"v2": 100, "v1": 0})
    picker.set({"v1": 0})
    assert picker.pick() is None
