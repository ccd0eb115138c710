"""Attachments in the app: completion, the count before sending, and the sent prompt's files."""

from __future__ import annotations

from backends.settings import GenerationSettings
from repl.app.chat_app import ChatApp
from repl.app.prompt_input import PromptInput
from repl.app.widgets import UserMessage
from repl.chat.attachments import read_attachment
from tests.support.app_helpers import screen_text, type_text, wait_until

SIZE = (160, 36)


def make_app(model) -> ChatApp:
    return ChatApp("local", str(model), GenerationSettings(greedy=True, max_new_tokens=6), {"device": "cpu"})


async def test_app_counts_an_attachment_before_sending_and_shows_it_after(tiny_llama, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "helpers.py").write_text("def triple(x):\n    return 3 * x\n")
    app = make_app(tiny_llama)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.loader.since is None)
        await type_text(pilot, "what does @hel")
        await pilot.press("tab")  # completes the path from the disk
        assert app.query_one(PromptInput).text == "what does @helpers.py"
        tokenizer = app.session.backend.tokenizer
        block = read_attachment("helpers.py").block()
        expected = len(tokenizer(block, add_special_tokens=False).input_ids)
        await wait_until(pilot, lambda: f"helpers.py (32 bytes): {expected} tokens" in screen_text(app))
        assert "left in the window after them · nothing cut" in screen_text(app)
        await type_text(pilot, " do")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not app.replying and len(app.session.conversation.turns) == 2)
        user = app.session.conversation.turns[0]
        assert user.message.content == f"{block}\n\nwhat does @helpers.py do"
        await wait_until(pilot, lambda: "attached: helpers.py (32 bytes)" in screen_text(app))
        assert app.query_one(UserMessage).turn is user


async def test_app_shows_a_refusal_before_sending_and_keeps_the_prompt(tiny_llama, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    app = make_app(tiny_llama)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_until(pilot, lambda: app.loader.since is None)
        await type_text(pilot, "/file src")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "src is a folder" in screen_text(app))
        prompt = app.query_one(PromptInput)
        assert prompt.text == "/file src"  # the failed command is back, to be fixed
        prompt.clear()
        await type_text(pilot, "look at @src/")
        await wait_until(pilot, lambda: "would be refused: src is a folder" in screen_text(app))
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.query_one(PromptInput).text == "look at @src/")
        assert app.session.conversation.turns == []
