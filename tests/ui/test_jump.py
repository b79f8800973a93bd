"""Build 2: `:` jumps the list to a namespace or context, with completion (k9s
`:ns`/`:ctx`); ctrl+a lists the aliases."""

from __future__ import annotations

import pytest

from console.demo_app import frozen_demo_app
from console.jump import JumpError, Scope, apply, completions
from console.screens.aliases import AliasesScreen
from console.screens.rollout_list import RolloutListScreen
from tests.ui.drive import notifications, until
from tests.widgets.test_widgets import screen_text
from widgets.rollout_table import RolloutTable


def test_apply_and_completions() -> None:
    ctx, ns = {"prod", "staging"}, {"web", "ml"}
    scope = apply(Scope(), "ns web", ctx, ns)
    assert scope == Scope(namespace="web")
    scope = apply(scope, "context prod", ctx, ns)
    assert scope == Scope(namespace="web", context="prod") and scope.admits("prod", "web")
    assert not scope.admits("staging", "web")
    assert apply(scope, "ns all", ctx, ns) == Scope(context="prod")
    assert apply(scope, "ctx", ctx, ns) == Scope(namespace="web")
    with pytest.raises(JumpError, match="No namespace 'nope' here; known: ml, web"):
        apply(scope, "ns nope", ctx, ns)
    with pytest.raises(JumpError, match="Unknown command 'pods'"):
        apply(scope, "pods", ctx, ns)
    assert completions(ctx, ns)[:3] == ["ns ml", "ns web", "ns all"]


async def test_colon_jumps_to_a_namespace_with_completion_and_back() -> None:
    app, _ = frozen_demo_app()
    async with app.run_test(size=(100, 24)) as pilot:
        table = app.screen.query_one(RolloutTable)
        await until(pilot, lambda: len(table._keys) == 6, "the rows")
        await pilot.press("colon", *"ns ge")
        # Completion: → accepts the suggestion "ns genai".
        await until(pilot, lambda: "ns genai" in screen_text(app), "the suggestion")
        await pilot.press("right", "enter")
        await until(pilot, lambda: len(table._keys) == 2, "genai's two rollouts")
        assert all("/genai/" in key for key in table._keys)
        assert "2 of 6 rollouts" in screen_text(app) and "ns genai" in screen_text(app)
        await pilot.press("colon", *"ns nowhere", "enter")
        await until(pilot, lambda: any("No namespace" in n for n in notifications(app)), "why")
        assert len(table._keys) == 2  # a bad jump changes nothing
        await pilot.press("colon", *"ns all", "enter")
        await until(pilot, lambda: len(table._keys) == 6, "every namespace again")
        await pilot.press("ctrl+a")
        await until(pilot, lambda: isinstance(app.screen, AliasesScreen), "the aliases")
        assert ":ns, :namespace" in screen_text(app) and ":ctx, :context" in screen_text(app)
        await pilot.press("z")
        await until(pilot, lambda: isinstance(app.screen, RolloutListScreen), "the list")
