"""/eval in the Textual app: it runs in a worker, the chat stays usable, and the table arrives."""

from __future__ import annotations

from backends.settings import GenerationSettings
from repl.app.chat_app import ChatApp
from tests.support.app_helpers import screen_text, type_text, wait_until


async def test_eval_runs_beside_the_chat_and_shows_its_table(tiny_gpt2):
    app = ChatApp("local", str(tiny_gpt2), GenerationSettings(greedy=True, max_new_tokens=6), {"device": "cpu"})
    async with app.run_test(size=(120, 50), notifications=True) as pilot:
        await wait_until(pilot, lambda: app.loader.since is None)
        await type_text(pilot, "/eval humaneval --limit 2")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "HumanEval: 2 problems" in screen_text(app))
        await type_text(pilot, "/settings")  # the input still takes keys while the evaluation runs
        assert "/settings" in app.query_one("#prompt").text
        await wait_until(pilot, lambda: "pass@1" in screen_text(app), timeout=180)
        screen = screen_text(app)
        assert "HumanEval/0" in screen and "HumanEval/1" in screen and "(completion, n=1)" in screen
