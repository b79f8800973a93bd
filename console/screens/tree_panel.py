"""Fills the detail view's rollout tree from the backend (console/inspection.py).

The tree comes from what the backend's watch already holds (no request), so it
is read on the UI thread at each redraw and clock tick: pod changes and ages
show within a second, with no polling of the cluster.
"""

from __future__ import annotations

import logging
from typing import Any

from textual.screen import Screen

from console.inspection import NOT_SUPPORTED, inspector_of
from console.untrusted import clean_line, clip
from widgets.rollout_tree import RolloutTreeView

log = logging.getLogger(__name__)


def draw_tree(screen: Screen[Any], key: str) -> None:
    app = screen.app
    view = screen.query_one(RolloutTreeView)
    now: float = app.clock()  # type: ignore[attr-defined]
    rollout = app.store.rollouts.get(key)  # type: ignore[attr-defined]
    inspector = inspector_of(app.backend)  # type: ignore[attr-defined]
    if rollout is None:
        view.show(None, now, "tree: this rollout no longer exists.")
        return
    if inspector is None:
        view.show(None, now, NOT_SUPPORTED.format(what="the rollout tree"))
        return
    try:
        tree = inspector.tree(rollout.ref)
    except Exception as exc:  # a backend bug must not blank the detail view
        log.exception("tree of %s failed", key)
        view.show(None, now, f"tree unavailable: {clip(clean_line(str(exc)))}")
        return
    view.show(tree, now, "tree: not known yet.")
