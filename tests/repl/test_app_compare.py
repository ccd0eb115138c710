"""/compare in the Textual app: both replies side by side, each with its speed, and the score table."""

from __future__ import annotations

from backends.settings import GenerationSettings
from repl.app.chat_app import ChatApp
from tests.support.app_helpers import screen_text, type_text, wait_until

SIZE = (140, 50)


async def test_compare_shows_two_tiny_models_side_by_side_in_the_app(tiny_gpt2, tiny_llama):
    settings = GenerationSettings(temperature=0.9, seed=7, max_new_tokens=6)
    app = ChatApp("local", str(tiny_llama), settings, {"device": "cpu"})
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_until(pilot, lambda: app.loader.since is None)
        await type_text(pilot, f"/compare {tiny_gpt2} {tiny_llama} class SimpleAdder {{")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "scored by" in screen_text(app), timeout=120)
        lines = screen_text(app).splitlines()
        # Both models head columns of one row: their names share a screen line.
        header = next(line for line in lines if str(tiny_gpt2)[-20:] in line and str(tiny_llama)[-20:] in line)
        assert header.count("│") >= 2 or header.count("┃") >= 2
        assert sum("tokens/s" in line for line in lines) >= 1
        rows = [line for line in lines if "/token, ppl" in line]
        assert len(rows) == 2 and all(line.count("/token, ppl") == 2 for line in rows)
