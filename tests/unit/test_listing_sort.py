"""Sorting the list by a column (console/listing.py): stable ties, both directions."""

from __future__ import annotations

from console.listing import SortOrder, ordered
from tests.widgets.data import NOW, rollout


def test_sort_by_weight_keeps_name_order_on_ties_in_both_directions() -> None:
    rows = [
        rollout("b", set_weight=20, actual_weight=20),
        rollout("a", set_weight=20, actual_weight=20),
        rollout("c", set_weight=50, actual_weight=50),
        rollout("d", set_weight=0, actual_weight=0, age_s=10),
    ]
    up = ordered(rows, sort=SortOrder("weight"))
    assert [r.ref.name for r in up] == ["d", "a", "b", "c"]
    down = ordered(rows, sort=SortOrder("weight", descending=True))
    assert [r.ref.name for r in down] == ["c", "a", "b", "d"]
    oldest = ordered(rows, sort=SortOrder("age"))
    assert oldest[-1].ref.name == "d" and oldest[-1].created_at == NOW - 10


def test_toggle_turns_the_direction_and_a_new_column_starts_ascending() -> None:
    order = SortOrder("name")
    assert order.toggled("name") == SortOrder("name", descending=True)
    assert order.toggled("name").toggled("name") == order
    assert SortOrder("name", True).toggled("age") == SortOrder("age")


def test_filter_applies_before_the_sort() -> None:
    rows = [rollout("alpha"), rollout("beta"), rollout("gamma")]
    shown = ordered(rows, "a", sort=SortOrder("name", descending=True))
    assert [r.ref.name for r in shown] == ["gamma", "beta", "alpha"]
    assert [r.ref.name for r in ordered(rows, "mm", sort=SortOrder("name"))] == ["gamma"]
