"""A reply's lifecycle through every path a person meets: Esc before the first token, a partial HTTP
answer without usage counts, an empty answer, /continue after the prompt was cut to fit."""

from __future__ import annotations

import io
import threading

from backends.settings import GenerationSettings
from repl.app.chat_app import ChatApp
from repl.app.prompt_input import PromptInput
from repl.chat.session import Session
from repl.history.store import HistoryStore
from repl.modes.script import ScriptRunner
from tests.support.app_helpers import screen_text, type_text, wait_until
from tests.support.openai_server import answer, chat_chunk

SIZE = (110, 36)


def thinking(h):
    """A server that takes its time before the first token, until the client hangs up."""
    h.wait_for_disconnect(10)


def partial_without_usage(pieces):
    """A llama-cpp-python-like stream: text with no usage and no logprobs, then it stalls."""
    def respond(h):
        h.start_sse()
        for piece in pieces:
            h.event(chat_chunk(piece))
        h.wait_for_disconnect(10)
    return respond


async def test_esc_before_the_first_token_keeps_nothing_and_the_next_request_has_no_empty_message(server):
    server.queue(thinking, answer(["fine", " thanks"]))
    app = ChatApp("openai", "test", GenerationSettings(), {"base_url": f"{server.url}/v1"})
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await type_text(pilot, "first question")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(server.posts()) == 1)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.replying)
        assert app.session.conversation.turns == []  # neither the prompt nor an empty answer stays
        assert app.query_one(PromptInput).text == "first question"  # handed back, to send again
        assert "cancelled before any text arrived" in screen_text(app)
        app.query_one(PromptInput).text = ""
        await type_text(pilot, "second")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not app.replying and len(app.session.conversation.turns) == 2)
    sent = server.posts()[-1].body["messages"]
    assert [m["content"] for m in sent] == ["second"]
    assert all(m["content"] for m in sent)
    stored = HistoryStore()
    try:
        turns = stored.load(stored.last_id()).turns
    finally:
        stored.close()
    assert [t.message.content for t in turns] == ["second", "fine thanks"]


async def test_a_cancelled_partial_http_reply_counts_the_tokens_that_arrived(server):
    server.queue(partial_without_usage(["def", " add", "(a, b)"]))
    app = ChatApp("openai", "test", GenerationSettings(), {"base_url": f"{server.url}/v1"})
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await type_text(pilot, "write add")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "(a, b)" in screen_text(app))
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.replying)
        turn = app.session.conversation.turns[-1]
        assert turn.message.content == "def add(a, b)"
        assert turn.stats.finish_reason == "cancelled" and turn.stats.completion_tokens == 3
        screen = screen_text(app)
        assert "3 tokens" in screen and "cut off: cancelled" in screen
        status = screen.splitlines()[-1]
        # No usage from the server: the window's use is estimated from the text, never shown as 0.
        assert "ctx ~" in status and "ctx ~0" not in status


def test_a_server_that_answers_nothing_is_marked_and_never_sent_again(server):
    server.queue(answer([], usage=(5, 0)), answer(["now"]))
    session = Session("openai", "test", GenerationSettings(), base_url=f"{server.url}/v1")
    out = io.StringIO()
    runner = ScriptRunner(session, out, io.StringIO())
    assert runner.run(["hello", "again"]) == 0
    first_answer = session.conversation.turns[1]
    assert first_answer.message.content == "" and first_answer.stats.finish_reason == "empty"
    assert [m["content"] for m in server.posts()[-1].body["messages"]] == ["hello", "again"]


def test_usage_is_asked_for_in_the_stream_and_read_from_llama_cpp_timings(server):
    def llama_cpp(h):
        h.start_sse()
        h.event(chat_chunk("hi"))
        h.event({**chat_chunk(finish="stop"), "timings": {"prompt_n": 4, "cache_n": 6, "predicted_n": 1}})
        h.event("[DONE]")
        h.end_chunks()

    server.queue(llama_cpp)
    session = Session("openai", "test", GenerationSettings(), base_url=f"{server.url}/v1")
    reply = session.ask("hello", threading.Event())
    assert reply.finish() == "hi"
    assert server.posts()[-1].body["stream_options"] == {"include_usage": True}
    assert (reply.stats.prompt_tokens, reply.stats.completion_tokens) == (10, 1)


def test_continue_keeps_the_counts_of_what_was_dropped_to_fit(tiny_llama):
    settings = GenerationSettings(greedy=True, max_new_tokens=4)
    session = Session("local", str(tiny_llama), settings, device="cpu")
    out = io.StringIO()
    runner = ScriptRunner(session, out, io.StringIO())
    long_prompt = " ".join(f"word{i}" for i in range(150))  # the tiny model's window is 128 tokens
    assert runner.run([long_prompt]) == 0
    first = session.conversation.turns[-1].stats
    assert first.dropped_tokens > 0
    assert runner.run(["/continue"]) == 0
    merged = session.conversation.turns[-1].stats
    assert merged.dropped_tokens >= first.dropped_tokens
    assert merged.completion_tokens > first.completion_tokens
