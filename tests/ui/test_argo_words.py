"""Build 4: the keys say what the Argo CLI says: `a` promote (next step), `A`
promote --full; typing "promote" in the palette offers both, told apart."""

from __future__ import annotations

from textual.command import CommandPalette

from console.commands import RolloutCommands
from console.demo_app import frozen_demo_app
from tests.ui.drive import open_rollout, until
from tests.widgets.test_widgets import screen_text
from widgets.key_footer import KeyFooter


async def test_footer_and_palette_use_argo_words() -> None:
    app, _ = frozen_demo_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await open_rollout(pilot, "tf-serving")
        footer = app.screen.query_one(KeyFooter)
        await until(pilot, lambda: "act('promote')" in footer.shown, "A in the footer")
        last = screen_text(app).splitlines()[-1]
        assert "a Promote step" in last and "A Promote full" in last, last

        hits = [(hit.text, hit.help) async for hit in RolloutCommands(app.screen).search("promote")]
        by_text = dict(hits)
        step = "Promote (next step): ml-serving/tf-serving"
        full = "Promote --full: ml-serving/tf-serving"
        assert step in by_text and full in by_text, hits
        assert by_text[step] == "key a · kubectl argo rollouts promote: one step"
        assert "promote --full" in str(by_text[full]) and "key A" in str(by_text[full])

        # Through the real palette: typed, both are listed.
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.press(*"promote")
        await until(
            pilot,
            lambda: (
                "Promote (next step)" in screen_text(app) and "Promote --full" in screen_text(app)
            ),
            "both promotes listed",
        )
