"""/eval in the Textual app: it runs in a worker, the chat stays usable, and the table arrives."""

from __future__ import annotations

import json

from backends.paths import evals_dir
from backends.settings import GenerationSettings
from repl.app.chat_app import ChatApp
from tests.support.app_helpers import screen_text, type_text, wait_until


async def test_eval_runs_beside_the_chat_and_shows_its_table(tiny_gpt2):
    app = ChatApp("local", str(tiny_gpt2), GenerationSettings(temperature=1.5, max_new_tokens=6), {"device": "cpu"})
    async with app.run_test(size=(120, 50), notifications=True) as pilot:
        await wait_until(pilot, lambda: app.loader.since is None)
        await type_text(pilot, "/eval humaneval --limit 2 --max-tokens 6")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "HumanEval: 2 problems" in screen_text(app))
        await type_text(pilot, "/settings")  # the input still takes keys while the evaluation runs
        assert "/settings" in app.query_one("#prompt").text
        await wait_until(pilot, lambda: "pass@1" in screen_text(app), timeout=180)
        screen = screen_text(app)
        assert "HumanEval/0" in screen and "HumanEval/1" in screen and "(completion, n=1)" in screen
        assert "with greedy, 6 new tokens" in screen  # as `parrot eval` runs it, not at the chat's temperature
    saved = list(evals_dir().glob("humaneval-*.json"))
    assert len(saved) == 1 and "local" not in saved[0].name  # named by the model, not the backend
    data = json.loads(saved[0].read_text())
    assert data["model"] == str(tiny_gpt2) and data["settings"]["greedy"] is True
