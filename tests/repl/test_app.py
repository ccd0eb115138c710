"""The Textual app driven through App.run_test() and Pilot, against tiny real models."""

from __future__ import annotations

import re

from backends import registry
from backends.settings import GenerationSettings
from repl.app.chat_app import ChatApp
from repl.app.prompt_input import PromptInput
from repl.app.status_bar import SHORT_DTYPES
from repl.app.widgets import AssistantMessage, UserMessage
from repl.commands import COMMANDS, completions
from repl.views.terminal_text import neutral
from tests.support.app_helpers import (
    ExplodingBackend,
    HeldBackend,
    SlowLoadingBackend,
    register_backend,
    screen_text,
    type_text,
    wait_until,
)

SIZE = (110, 36)


def make_app(model, backend="local", **settings) -> ChatApp:
    settings = GenerationSettings(greedy=True, max_new_tokens=12).updated(**settings)
    return ChatApp(backend, str(model) if model else None, settings, {"device": "cpu"})


async def send(pilot, text: str) -> None:
    await type_text(pilot, text)
    await pilot.press("enter")


async def ready(pilot) -> None:
    await wait_until(pilot, lambda: pilot.app.loader.since is None)


async def reply_done(pilot) -> None:
    await wait_until(pilot, lambda: not pilot.app.replying)


async def test_prompt_streams_a_markdown_answer(tiny_llama):
    # Sampled with a fixed seed: the tiny greedy model only produces blank lines, nothing to see.
    app = make_app(tiny_llama, greedy=False, temperature=1.0, seed=3, max_new_tokens=30)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await send(pilot, "hello parrot")
        await pilot.pause()
        await reply_done(pilot)
        answer = app.session.conversation.turns[-1]
        assert answer.message.role == "assistant"
        widget = app.query_one(AssistantMessage)
        assert widget.markdown.source == neutral(answer.message.content)  # everything streamed arrived
        screen = screen_text(app)
        assert "hello parrot" in screen
        word = max(re.findall(r"\w{3,}", answer.message.content), key=len)
        assert word in screen  # the answer is on screen, not only in the widget
        assert f"{answer.stats.completion_tokens} tokens" in screen
        assert "tok/s" in screen.splitlines()[-1]  # the status bar reports the speed
        facts = app.session.backend.describe()
        bar = screen.splitlines()[-1]  # and the active choices (the dtype short where the bar is full)
        assert any(f"{facts.device} · {dtype}" in bar for dtype in (facts.dtype, SHORT_DTYPES.get(facts.dtype)))
        assert app.query_one(PromptInput).text == ""


async def test_prompt_sent_while_the_model_loads_waits_for_it(tiny_llama, monkeypatch):
    made = register_backend(monkeypatch, "slow-loading", SlowLoadingBackend)
    app = make_app(tiny_llama, backend="slow-loading")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.loader.since is not None and "loading" in screen_text(app).splitlines()[-1]
        await send(pilot, "early")  # the input is live before the model is
        await pilot.pause()
        assert "waiting for the model to load" in screen_text(app)
        made[0].gate.set()
        await reply_done(pilot)
        assert [t.message.role for t in app.session.conversation.turns] == ["user", "assistant"]
        assert app.loader.since is None
        assert "waiting for the model" not in screen_text(app)


async def test_cancel_keeps_the_partial_answer_marked(tiny_llama, monkeypatch):
    backends = register_backend(monkeypatch, "held", HeldBackend)
    app = make_app(tiny_llama, backend="held", max_new_tokens=60)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await ready(pilot)
        await send(pilot, "tell me a long story")
        await wait_until(pilot, backends[0].first_chunk.is_set)
        await pilot.press("escape")
        await reply_done(pilot)
        turn = app.session.conversation.turns[-1]
        assert turn.stats.finish_reason == "cancelled"
        assert 1 <= turn.stats.completion_tokens < 60
        assert app.query_one(AssistantMessage).markdown.source == neutral(turn.message.content)
        assert "cut off: cancelled" in screen_text(app)
        assert app.is_running  # Esc stopped the reply, not the app


async def test_a_command_refused_mid_reply_comes_back_ready_to_edit(tiny_llama, monkeypatch):
    backends = register_backend(monkeypatch, "held", HeldBackend)
    app = make_app(tiny_llama, backend="held", max_new_tokens=60)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await ready(pilot)
        await send(pilot, "tell me a long story")
        await wait_until(pilot, backends[0].first_chunk.is_set)
        await send(pilot, "/export md")
        await wait_until(pilot, lambda: "a reply is still streaming" in screen_text(app))
        await type_text(pilot, " notes.md")
        assert app.query_one(PromptInput).text == "/export md notes.md"
        await pilot.press("escape")
        await reply_done(pilot)


async def test_command_suggestions_appear_while_typing(tiny_llama):
    # Every two-letter prefix of a registered command (so /te once /temp exists), straight from the table.
    prefixes = sorted({f"/{name[:2]}" for name in COMMANDS})
    app = make_app(tiny_llama)
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one(PromptInput)
        for prefix in prefixes:
            expected = completions(prefix)
            await type_text(pilot, prefix)
            await pilot.pause()
            screen = screen_text(app)
            for name in expected[:8]:
                if name[1:] in COMMANDS:  # aliases complete inline but are not listed
                    assert name in screen, prefix
            assert prompt.suggestion == expected[0][len(prefix):], prefix
            await pilot.press("tab")  # accepts the inline suggestion
            assert prompt.text == expected[0]
            prompt.clear()
            await pilot.pause()
            assert not app.query_one("#suggestions").has_class("visible")


async def test_backend_failure_notifies_and_gives_the_prompt_back(monkeypatch):
    monkeypatch.setitem(registry.BACKENDS, "exploding",
                        registry.BackendEntry("test", lambda model=None, **o: ExplodingBackend(model)))
    app = make_app(None, backend="exploding")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await send(pilot, "are you there")
        await reply_done(pilot)
        await pilot.pause()
        screen = screen_text(app)
        assert "RuntimeError: the server went" in screen  # the toast wraps the rest
        assert app.query_one(PromptInput).text == "are you there"
        assert app.session.conversation.turns == []
        assert not app.query(UserMessage) and not app.query(AssistantMessage)
        await pilot.press("enter")  # the chat goes on: the same prompt can be sent again
        await reply_done(pilot)
        assert app.query_one(PromptInput).text == "are you there"


async def test_backend_failure_mid_answer_keeps_the_partial_answer_marked(monkeypatch):
    monkeypatch.setitem(registry.BACKENDS, "exploding", registry.BackendEntry(
        "test", lambda model=None, **o: ExplodingBackend(model, partial="half an answer")))
    app = make_app(None, backend="exploding")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await send(pilot, "are you there")
        await reply_done(pilot)
        await pilot.pause()
        screen = screen_text(app)
        assert "RuntimeError: the server went" in screen
        assert "half an answer" in screen and "cut off: error" in screen
        turns = app.session.conversation.turns
        assert [t.message.content for t in turns] == ["are you there", "half an answer"]
        assert turns[1].stats.finish_reason == "error"
        assert app.query_one(PromptInput).text == ""


async def test_model_switch_keeps_the_conversation(tiny_llama, tiny_gpt2):
    app = make_app(tiny_llama)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await send(pilot, "first question")
        await reply_done(pilot)
        await send(pilot, f"/model {tiny_gpt2}")
        # The status bar shows the new model once it has loaded.
        await wait_until(pilot, lambda: "completion" in screen_text(app).splitlines()[-1])
        await send(pilot, "second question")
        await reply_done(pilot)
        turns = app.session.conversation.turns
        assert [t.message.content for t in turns[::2]] == ["first question", "second question"]
        assert turns[1].stats.model == str(tiny_llama) and turns[3].stats.model == str(tiny_gpt2)
        assert "first question" in screen_text(app)


async def test_undo_and_retry_update_the_log(tiny_llama):
    app = make_app(tiny_llama, greedy=False, temperature=1.0)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await send(pilot, "one")
        await reply_done(pilot)
        await send(pilot, "/retry")
        await wait_until(pilot, lambda: len(app.query(AssistantMessage)) == 1 and not app.replying
                         and app.query_one(AssistantMessage).turn is app.session.conversation.turns[-1])
        assert len(app.session.conversation.turns) == 2
        await send(pilot, "/undo")
        await wait_until(pilot, lambda: not app.query(UserMessage))
        assert app.session.conversation.turns == []
        assert "forgot 2 message(s)" in screen_text(app)


async def test_ctrl_c_twice_quits_and_the_first_only_warns(tiny_llama):
    app = make_app(tiny_llama)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert app.is_running and "press Ctrl-C again to quit" in screen_text(app)
        await pilot.press("ctrl+c")
        await pilot.pause()
    assert app.return_code == 0 and not app.is_running


async def test_quit_command_exits(tiny_llama):
    app = make_app(tiny_llama)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "/quit")
        await wait_until(pilot, lambda: not app.is_running)
    assert app.return_code == 0


async def test_copy_puts_the_last_answer_on_the_clipboard(tiny_llama, monkeypatch):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "TMUX"):  # no clipboard tool applies: the terminal's request only
        monkeypatch.delenv(name, raising=False)
    app = make_app(tiny_llama)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await send(pilot, "hello")
        await reply_done(pilot)
        await send(pilot, "/copy")
        answer = app.session.conversation.turns[-1].message.content
        await wait_until(pilot, lambda: app.clipboard == answer)
        await wait_until(pilot, lambda: f"sent {len(answer)} characters to the terminal's clipboard" in screen_text(app))


async def test_a_model_that_cannot_load_is_reported_and_the_chat_goes_on(tmp_path):
    app = make_app(tmp_path / "no-such-model")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_until(pilot, lambda: "could not load the model" in screen_text(app))
        assert "no such folder" in screen_text(app)
        await send(pilot, "anyone?")
        await reply_done(pilot)
        assert app.query_one(PromptInput).text == "anyone?"
        assert app.is_running


async def test_continue_flag_shows_the_last_conversation(tiny_llama):
    app = make_app(tiny_llama)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "remember the milk")
        await reply_done(pilot)
    answer = app.session.conversation.turns[-1]
    resumed = ChatApp("local", str(tiny_llama), GenerationSettings(greedy=True, max_new_tokens=12),
                      {"device": "cpu"}, resume=True)
    async with resumed.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "remember the milk" in screen_text(resumed)
        assert resumed.query_one(AssistantMessage).markdown.source == neutral(answer.message.content)
        await send(pilot, "what did I say?")
        await reply_done(pilot)
        assert len(resumed.session.conversation.turns) == 4
        assert resumed.session.conversation.id == app.session.conversation.id
