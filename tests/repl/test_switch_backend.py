"""Switching from the local model to an HTTP backend and back in one conversation keeps the history."""

from __future__ import annotations

from backends.base import Message
from repl.chat.session import Session
from tests.support.openai_server import answer


def test_local_to_openai_and_back_keeps_the_conversation(tiny_llama, server):
    session = Session("local", str(tiny_llama), device="cpu")
    first = session.ask("def add(a, b):")
    first.finish()
    session.finish_reply(first)

    session.use_backend("openai", "test", base_url=server.url + "/v1")
    server.queue(answer(["It adds", " two numbers."]))
    second = session.ask("what does it do?")
    assert second.finish() == "It adds two numbers."
    session.finish_reply(second)
    # The server got the whole conversation, the local model's answer included.
    assert server.posts()[0].body["messages"] == [
        {"role": "user", "content": "def add(a, b):"},
        {"role": "assistant", "content": first.text},
        {"role": "user", "content": "what does it do?"},
    ]

    session.use_backend("local", str(tiny_llama))
    third = session.ask("thanks")
    third.finish()
    session.finish_reply(third)
    turns = session.conversation.turns
    assert [t.message.role for t in turns] == ["user", "assistant"] * 3
    assert [t.stats.backend for t in turns if t.stats] == ["local", "openai", "local"]
    assert turns[3].message == Message("assistant", "It adds two numbers.")
    assert session.backend.describe().backend == "local"


def test_probs_after_an_http_answer(server):
    from repl import commands
    from repl.commands import Context
    from tests.support.screen_ui import ScreenUI

    session = Session("openai", "test", base_url=server.url + "/v1")
    reply = session.ask("hi")
    reply.finish()
    session.finish_reply(reply)
    ui = ScreenUI()
    commands.run("/probs", Context(session, ui))
    shown = ui.text()
    assert "Hello" in shown and "world" in shown and "other" in shown  # each token and its runner-up
    assert "60.7%" in shown  # exp(-0.5), the probability the server reported


def test_a_backend_switched_back_to_keeps_the_model_it_was_given(tiny_llama, server):
    """`-b openai -m test`, `/backend local MODEL`, `/backend openai`: the server is asked for `test` again."""
    session = Session("openai", "test", base_url=server.url + "/v1")
    session.use_backend("local", str(tiny_llama), device="cpu")
    session.use_backend("openai")
    assert session.model == "test"
    server.queue(answer(["ok"]))
    reply = session.ask("hi")
    assert reply.finish() == "ok"
    assert server.posts()[0].body["model"] == "test"
    session.use_backend("local")
    assert session.model == str(tiny_llama)
