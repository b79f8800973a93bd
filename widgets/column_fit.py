"""Column widths for the rollouts list: every column fits, by priority.

DataTable sizes a column to its widest cell and never narrows it again, and a
row wider than the screen pushes the last columns (AGE) off the right edge.
Here the widths are computed on every update from what the rows hold now, so a
column shrinks back when its wide content is gone; when the screen is too
narrow, columns give up cells in a fixed order (versions and names first, down
to a floor) and AGE, STEP and WEIGHT never do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text

#: (column, floor), applied in order until the row fits. Columns not listed
#: (AGE, STEP, WEIGHT, GATES) are never narrowed.
SHRINK_STAGES: tuple[tuple[str, int], ...] = (
    ("cluster", 8),
    ("namespace", 5),
    ("phase", 11),
    ("versions", 17),
    ("name", 12),
    ("versions", 15),
    ("phase", 9),
    ("versions", 11),
    ("name", 10),
    ("cluster", 4),
    ("namespace", 3),
    ("phase", 3),
    ("versions", 5),
    ("name", 5),
)


def fit_widths(
    natural: Mapping[str, int], order: Sequence[str], available: int, padding: int = 2
) -> dict[str, int]:
    """Widths of `order`'s columns (content cells, without `padding` per column) so
    that the row fits in `available` cells when it can."""
    widths = {key: natural[key] for key in order}
    excess = sum(widths.values()) + padding * len(order) - available
    for key, floor in SHRINK_STAGES:
        if excess <= 0:
            break
        if key not in widths:
            continue
        cut = min(excess, max(0, widths[key] - floor))
        widths[key] -= cut
        excess -= cut
    return widths


def fit_cell(cell: Text, width: int) -> Text:
    """The cell itself when it fits (its identity keeps render caches valid), else a
    copy cut with an ellipsis."""
    if cell.cell_len <= width:
        return cell
    cut = cell.copy()
    cut.truncate(width, overflow="ellipsis")
    return cut


def fit_versions(cell: Text, width: int, arrow: str) -> Text:
    """`stable→canary` cut on both sides, so the canary's version is never the part
    that disappears (`2.13.0-gpu→2.14.0-` hid which canary runs)."""
    if cell.cell_len <= width:
        return cell
    at = cell.plain.find(arrow)
    if at < 0 or width < len(arrow) + 4:
        return fit_cell(cell, width)
    left, right = cell[:at], cell[at + len(arrow) :]
    budget = width - len(arrow)
    # The canary gets half, or all the stable side does not need.
    right_w = min(right.cell_len, max(budget // 2, budget - left.cell_len))
    left_w = budget - right_w
    out = fit_cell(left, left_w).copy()
    out.append(arrow)
    out.append_text(fit_cell(right, right_w))
    return out
