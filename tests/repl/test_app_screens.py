"""Screenshots of the main screen (saved as SVG) and what they show; input editing and dialogs."""

from __future__ import annotations

import pytest
from textual import events

from backends.settings import GenerationSettings
from repl.app.chat_app import ChatApp
from repl.app.prompt_input import PromptInput
from repl.app.widgets import AssistantMessage, SecretScreen
from repl.commands.table import COMMANDS, Command
from repl.views.terminal_text import neutral
from tests.support.app_helpers import screen_text, svg_text, type_text, wait_until

SIZE = (100, 30)


def make_app(model, **settings) -> ChatApp:
    settings = GenerationSettings(greedy=True, max_new_tokens=12).updated(**settings)
    return ChatApp("local", str(model), settings, {"device": "cpu"})


async def shot(app, tmp_path, name: str) -> str:
    path = app.save_screenshot(filename=f"{name}.svg", path=str(tmp_path))
    return svg_text(open(path, encoding="utf-8").read())


async def test_screen_at_start_shows_help_line_and_status(tiny_llama, tmp_path):
    app = make_app(tiny_llama)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.loader.since is None)
        await pilot.pause()
        text = await shot(app, tmp_path, "start")
        lines = text.splitlines()
        flat = " ".join(text.split())  # the welcome line wraps where the width says
        assert "Enter sends" in flat and "PageUp/PageDown scroll" in flat and "Esc cancels a reply" in flat
        status = lines[-1]
        for part in ("local", str(tiny_llama.name), "cpu", "chat", "greedy", "ctx 0/256"):
            assert part in status


async def test_screen_after_a_reply(tiny_llama, tmp_path):
    app = make_app(tiny_llama)
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "write a function")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(app.session.conversation.turns) == 2 and not app.replying)
        await pilot.pause()
        text = await shot(app, tmp_path, "reply")
        stats = app.session.conversation.turns[-1].stats
        assert "write a function" in text
        assert f"{stats.completion_tokens} tokens" in text
        assert f"ctx {stats.prompt_tokens + stats.completion_tokens}/256" in text.splitlines()[-1]


async def test_screen_with_the_help_table(tiny_llama, tmp_path):
    app = make_app(tiny_llama)
    async with app.run_test(size=(120, 60)) as pilot:
        await type_text(pilot, "/help")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "/export md|jsonl" in screen_text(app))
        text = await shot(app, tmp_path, "help")
        for name in ("/help", "/retry", "/continue", "/model", "/export md|jsonl [PATH]"):
            assert name in text


async def test_newline_key_and_paste_make_a_multi_line_prompt(tiny_llama):
    app = make_app(tiny_llama)
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "def f():")
        await pilot.press("ctrl+j")
        await type_text(pilot, "    pass")
        prompt = app.query_one(PromptInput)
        assert prompt.text == "def f():\n    pass"
        prompt.clear()
        app.post_message(events.Paste("a = 1\nb = 2\n"))  # what the driver posts for a bracketed paste
        await pilot.pause()
        assert prompt.text == "a = 1\nb = 2\n"
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(app.session.conversation.turns) == 2 and not app.replying)
        assert app.session.conversation.turns[0].message.content == "a = 1\nb = 2\n"


async def test_up_and_down_walk_the_prompt_history(tiny_llama):
    app = make_app(tiny_llama)
    async with app.run_test(size=SIZE) as pilot:
        for text in ("/help", "/settings"):
            await type_text(pilot, text)
            await pilot.press("enter")
            await pilot.pause()
        prompt = app.query_one(PromptInput)
        await type_text(pilot, "draft")
        await pilot.press("up")
        assert prompt.text == "/settings"
        await pilot.press("up")
        assert prompt.text == "/help"
        await pilot.press("down", "down")
        assert prompt.text == "draft"


async def test_continue_extends_the_last_answer_in_place(tiny_llama):
    app = make_app(tiny_llama, max_new_tokens=4)
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "count")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(app.session.conversation.turns) == 2 and not app.replying)
        first = app.session.conversation.turns[-1]
        before, tokens = first.message.content, first.stats.completion_tokens
        if first.stats.finish_reason != "length":
            pytest.skip("the tiny model stopped by itself: nothing to continue")
        screen = screen_text(app)  # the line under the reply wraps at this width
        assert "cut off at the token limit" in screen and "of 4 new tokens (/continue extends it)" in screen
        await type_text(pilot, "/continue")
        await pilot.press("enter")
        await wait_until(pilot, lambda: first.stats.completion_tokens > tokens and not app.replying)
        assert len(app.session.conversation.turns) == 2  # merged, not a new turn
        assert first.message.content.startswith(before)
        assert len(app.query(AssistantMessage)) == 1
        assert app.query_one(AssistantMessage).markdown.source == neutral(first.message.content)


async def test_read_secret_asks_in_a_modal_with_a_hidden_input(tiny_llama, monkeypatch):
    given: list[str | None] = []

    def ask(ctx, args):
        given.append(ctx.ui.read_secret("token:"))

    monkeypatch.setitem(COMMANDS, "asksecret", Command("asksecret", ask, "/asksecret", "test"))
    app = make_app(tiny_llama)
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "/asksecret")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, SecretScreen))
        await type_text(pilot, "hf_secret")
        assert "hf_secret" not in screen_text(app)  # typed characters are masked
        await pilot.press("enter")
        await wait_until(pilot, lambda: given == ["hf_secret"])


async def test_prompt_history_survives_a_restart(tiny_llama):
    async with make_app(tiny_llama).run_test(size=SIZE) as pilot:
        await type_text(pilot, "/settings")
        await pilot.press("enter")
        await pilot.pause()
    app = make_app(tiny_llama)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.query_one(PromptInput).prompt_history)
        await pilot.press("up")
        assert app.query_one(PromptInput).text == "/settings"
